"""Write a file whole or not at all: perfguard's one way to write its own files."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Write next to the target and rename: a crash never leaves half a file behind.

    Raises the ``OSError`` (the temporary file removed); callers say what they were writing.
    """
    tmp = path.with_name(f".{path.name}.perfguard-tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
