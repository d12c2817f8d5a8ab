"""A folder made truly unwritable for a test: a read-only tmpfs mounted over it.

The tests run as root, whom file modes do not stop; a read-only file system stops everyone. Files
a process already has open under the folder stay on the disk underneath, as they would on a disk
remounted read-only. Skips the test (saying why) where mounting is not permitted.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` as a read-only file system until the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(
            f"this test mounts a read-only tmpfs, which is not permitted here: {mounted.stderr.strip()}"
        )
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)
