"""A check that runs before anything imports the SDK: a sample started with the system's python3 stops in one line."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def require_the_sdk() -> None:
    """Stop in one line when this Python lacks the project's packages (a sample run with the system's python3)."""
    import importlib.util

    try:
        found = importlib.util.find_spec("azure.identity") is not None
    except ImportError:
        found = False
    if not found:
        venv_python = ".venv\\Scripts\\python.exe" if os.name == "nt" else ".venv/bin/python"
        command = Path(sys.argv[0]).as_posix() if sys.argv[0] and sys.argv[0] != "-c" else "samples/<name>.py"
        sys.exit(f"error: {sys.executable} has not got this project's packages (azure-identity is missing); run samples "
                 f"with the project's venv, as in: {venv_python} {command} (no .venv yet? make it with: python scripts/bootstrap.py)")
