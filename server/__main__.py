"""``python -m server``: the same as the ``repairsight`` command."""

import sys

from .cli import main

# Guarded: media worker processes are spawned, and spawning imports the main module again.
if __name__ == "__main__":
    sys.exit(main())
