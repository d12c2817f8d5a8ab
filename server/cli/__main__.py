"""``python -m server.cli``: the same as the ``repairsight`` command."""

import sys

from . import main

sys.exit(main())
