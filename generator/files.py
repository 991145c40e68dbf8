"""Files that hold secrets: private (0600) from their first byte, replaced in one rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, readable only by its owner from the first byte on.

    ``mkstemp`` creates the file with mode 0600; it is renamed over ``path`` only once complete.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def temporary_files_in(folder: Path) -> Iterator[None]:
    """While inside, temporary files and folders (copier's clones and scratch copies among them) are made in
    ``folder``: removing it removes them too, whatever interrupted the work."""
    saved, tempfile.tempdir = tempfile.tempdir, str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = saved
