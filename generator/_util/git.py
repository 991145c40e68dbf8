"""git, as copier needs it and azs-scaffold reads projects with it: one runner, one-line errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

from generator.errors import ScaffoldError


class GitError(ScaffoldError):
    """git is missing, or refused a command; the message says which and where."""


def git_output(cwd: Path, *args: str, check: bool = True) -> tuple[int, str]:
    """(exit code, stdout) of ``git ARGS`` in ``cwd``; with ``check``, a refusal is a :class:`GitError` naming what
    git said (its first 200 characters)."""
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise GitError("git is not installed; copier needs it to render and update projects: install git") from None
    if check and result.returncode != 0:
        raise GitError(f"git {args[0]} failed in {cwd}: {' '.join(result.stderr.split())[:200]}")
    return result.returncode, result.stdout


def git(cwd: Path, *args: str) -> str:
    """The stdout of ``git ARGS`` in ``cwd``, or a :class:`GitError`."""
    return git_output(cwd, *args)[1]
