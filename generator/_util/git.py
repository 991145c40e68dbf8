"""git, as copier needs it and azs-scaffold reads projects with it: one runner, one-line errors."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from generator._util.files import HeldElsewhere, held_alone
from generator.errors import ScaffoldError


class GitError(ScaffoldError):
    """git is missing, or refused a command; the message says which and where."""


# git's advice for people at a terminal, off: a clone or checkout of a commit (a bundle's HEAD) tells of "detached HEAD"
# state in 14 lines, which stood before git's reason in what azs-scaffold says of a failure (and filled its 200 characters).
NO_ADVICE = ("-c", "advice.detachedHead=false")


def git_output(cwd: Path, *args: str, check: bool = True) -> tuple[int, str]:
    """(exit code, stdout) of ``git ARGS`` in ``cwd``; with ``check``, a refusal is a :class:`GitError` naming what
    git said (its first 200 characters)."""
    try:
        result = subprocess.run(["git", *NO_ADVICE, *args], cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise GitError("git is not installed; copier needs it to render and update projects: install git") from None
    if check and result.returncode != 0:
        raise GitError(f"git {args[0]} failed in {cwd}: {' '.join(result.stderr.split())[:200]}")
    return result.returncode, result.stdout


def git(cwd: Path, *args: str) -> str:
    """The stdout of ``git ARGS`` in ``cwd``, or a :class:`GitError`."""
    return git_output(cwd, *args)[1]


# Who makes a commit when git knows no one (a fresh machine): git would refuse to commit at all.
FALLBACK_IDENTITY = {"user.name": "azs-scaffold", "user.email": "azs-scaffold@localhost"}


def inside_work_tree(folder: Path) -> bool:
    """Whether ``folder`` (which exists) lies inside a git working tree."""
    code, out = git_output(folder, "rev-parse", "--is-inside-work-tree", check=False)
    return code == 0 and out.strip() == "true"


def commit_everything(project: Path, message: str, leave_out: tuple[str, ...] = ()) -> None:
    """Make ``project`` a git repository whose first commit holds every file but the ignored ones and ``leave_out``
    (also if a .gitignore forgot them). The user's identity commits; where git has none configured, azs-scaffold's
    (only the missing part: the user's name with our e-mail, say). The user's hooks do not run on this commit."""
    git(project, "init", "-q")
    git(project, "add", "-A")
    if leave_out:
        git(project, "rm", "-q", "--cached", "--ignore-unmatch", "--", *leave_out)
    identity: list[str] = []
    for key, fallback in FALLBACK_IDENTITY.items():
        if not git_output(project, "config", "--get", key, check=False)[1].strip():
            identity += ["-c", f"{key}={fallback}"]
    git(project, *identity, "commit", "-q", "--no-verify", "-m", message)


@contextlib.contextmanager
def worked_on_alone(work_tree: Path) -> Iterator[None]:
    """Held while ``work_tree`` is rewritten (copier's update): a second run on the same repository meanwhile is a
    :class:`GitError` at once, never a second writer in the same files and index (a lock file in the repository's
    git directory: :func:`~generator._util.files.held_alone`)."""
    code, git_dir = git_output(work_tree, "rev-parse", "--absolute-git-dir", check=False)
    if code != 0:  # not a repository: the caller's own check says so, in its words
        yield
        return
    try:
        with held_alone(Path(git_dir.strip()) / "azs-scaffold.lock"):
            yield
    except HeldElsewhere:
        raise GitError(f"another azs-scaffold run is rewriting {work_tree} right now; let it finish, review its "
                       "result with git diff, and run again if needed") from None
