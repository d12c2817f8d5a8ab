"""A demo customer: the server itself playing a sample clip of a procedure's device, so an expert
or trainer can try a session with no phone at hand (``docs/demo.md``)."""

from .clip import DemoClip, DemoMotion
from .customer import MAX_DEMOS, DemoCustomer, DemoCustomers
from .tracks import DemoCameraTrack

__all__ = ["MAX_DEMOS", "DemoCameraTrack", "DemoClip", "DemoCustomer", "DemoCustomers", "DemoMotion"]
