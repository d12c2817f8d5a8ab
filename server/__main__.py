"""``python -m server``: the same as the ``repairsight`` command."""

import sys

from .cli import main

sys.exit(main())
