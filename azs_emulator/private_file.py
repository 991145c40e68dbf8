"""The emulator's secret files (its state, its info file): private (0600) from their first byte, replaced in one
rename. (The emulator stands alone, importing nothing of the generator: this is its own small copy of the rule the
generator keeps in ``generator/_util/files.py``.)"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, readable only by its owner from the first byte on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
