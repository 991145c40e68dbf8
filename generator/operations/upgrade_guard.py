"""What an upgrade may write, decided before copier writes anything.

One rule, for azs-scaffold's own template and any other alike:

- the service principal files, the Stack's CA file and every git-ignored path are never written by a template
  (they are handed to copier as ``exclude`` patterns, so neither the rendering nor the merge touches them);
- a template other than azs-scaffold's own is refused until ``--trust``, whatever it contains: the answers file
  that names it is data from a repository others may write to;
- every path the template would write is rendered first into a scratch folder, and the project is refused
  when any of those paths, or a folder on the way to one, is a symbolic link (copier writes through linked
  folders and skips linked files, so the project would be left half upgraded). That rendering is needed only when
  the project holds a link that an upgrade could reach (:func:`links_in_reach`); most hold none, and are spared it.
"""

from __future__ import annotations

import contextlib
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator._util.files import read_regular_file, temporary_files_in
from generator._util.git import git_output
from generator._util.interrupts import deferred_interrupts
from generator.errors import ScaffoldError
from generator.templating.project_files import ANSWERS_FILE, CA_FILE
from generator.templating.secret_files import SP_FILES
from generator.templating.template_source import copier_environment, public_url_served_from

if TYPE_CHECKING:
    from generator.operations.upgrade import UpgradePlan

# The files that hold the team's credentials and trust: written at generation, never by an upgrade.
NEVER_WRITTEN = (*SP_FILES, CA_FILE.as_posix())
MAX_GITIGNORE_BYTES = 256 * 1024


class UpgradeError(ScaffoldError):
    """The project cannot be upgraded as it stands."""


def refuse_untrusted(plan: UpgradePlan, trust: bool) -> None:
    """Refuse a template other than azs-scaffold's own unless ``trust``: it could write any file and run commands."""
    if plan.source is None and not trust:
        raise UpgradeError(
            f"the template {plan.recorded.get('_src_path', '?')} that {ANSWERS_FILE} names is not azs-scaffold's own: "
            "an upgrade from it would rewrite the project's files as it likes and could run its tasks, migrations and "
            "jinja extensions on this machine; review it, then pass --trust (nothing was written)"
        )


def never_written(project: Path) -> list[str]:
    """copier ``exclude`` patterns for what no template writes: the credential and CA files, and every path git
    ignores (those that exist, and the patterns of the project's .gitignore, for those that do not yet)."""
    patterns = list(NEVER_WRITTEN)
    code, listed = git_output(project, "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory",
                              check=False)
    if code == 0:
        patterns += [name for name in listed.split("\0") if name]
    with contextlib.suppress(OSError, UnicodeDecodeError):
        text = read_regular_file(project / ".gitignore", MAX_GITIGNORE_BYTES).decode("utf-8")
        # Negations would re-include what copier's own exclusions hold back: only the ignoring lines are taken.
        patterns += [line.strip() for line in text.splitlines() if line.strip() and line.strip()[0] not in "#!"]
    # A folder pattern ("wheels/") holds copier off the files inside; without its slash, off the folder itself too.
    return patterns + [pattern.rstrip("/") for pattern in patterns if pattern.endswith("/")]


def linked_paths(project: Path, written: list[str]) -> list[str]:
    """The paths (files, or folders on the way to one) among ``written`` that are symbolic links in ``project``."""
    links: set[str] = set()
    for name in written:
        parts = Path(name).parts
        for depth in range(1, len(parts) + 1):
            here = Path(*parts[:depth])
            if (project / here).is_symlink():
                links.add(here.as_posix())
                break
    return sorted(links)


def check_links(project: Path, written: list[str]) -> None:
    """Refuse the upgrade when a path it writes is a symbolic link: nothing is written through a link."""
    links = linked_paths(project, written)
    if links:
        one = len(links) == 1
        raise UpgradeError(f"{', '.join(links[:5])} {'is a symbolic link' if one else 'are symbolic links'} in {project}: "
                           f"an upgrade writes {'there' if one else 'to those paths'} and never through a link; replace "
                           "each link with the file or folder it points to, commit, and run again (nothing was written)")


def links_in_reach(project: Path) -> bool:
    """Whether a path git sees in ``project`` (tracked, or untracked and not ignored), or a folder on the way to one,
    is a symbolic link. The ignored paths are never written (:func:`never_written`): when this is False, no path an
    upgrade writes can be a link or lie behind one, whatever the template renders."""
    code, listed = git_output(project, "ls-files", "-z", "--cached", "--others", "--exclude-standard", check=False)
    return code != 0 or bool(linked_paths(project, [name for name in listed.split("\0") if name]))


def refuse_links(project: Path, plan: UpgradePlan, vcs_ref: str | None, trust: bool, exclude: list[str]) -> None:
    """:func:`check_links` on every path the upgrade writes; rendered to find them only when a link is in reach."""
    if links_in_reach(project):
        check_links(project, written_paths(plan, vcs_ref, trust, exclude))


def written_paths(plan: UpgradePlan, vcs_ref: str | None, trust: bool, exclude: list[str]) -> list[str]:
    """Every path (files and folders) the template version to upgrade to renders, rendered into a scratch folder
    with the project's answers (no task runs)."""
    from copier.errors import CopierError
    from plumbum.commands.processes import ProcessExecutionError

    from generator.operations.copier_worker import run_copy
    from generator.operations.upgrade import REFRESHED_ENV

    data: dict[str, Any] = {key: value for key, value in {**plan.recorded, **plan.fresh}.items() if not key.startswith("_")}
    source = plan.source.src if plan.source else str(plan.recorded.get("_src_path", ""))
    ref = vcs_ref or (plan.source.ref if plan.source else None)
    serving = public_url_served_from(plan.source.src) if plan.source else contextlib.nullcontext()
    with tempfile.TemporaryDirectory(prefix="azs-upgrade-paths-") as scratch, temporary_files_in(Path(scratch)):
        rendered = Path(scratch) / "project"
        try:
            # Ctrl-C and SIGTERM wait for copier's git (a clone into the scratch folder, which could not be removed
            # while git still wrote into it); they take effect right after.
            with copier_environment(**{REFRESHED_ENV: "1"}), serving, warnings.catch_warnings(), deferred_interrupts():
                warnings.simplefilter("ignore")
                run_copy(source, rendered, data=data, defaults=True, overwrite=True, quiet=True, skip_tasks=True,
                         unsafe=plan.source is not None or trust, vcs_ref=ref, exclude=exclude)
        except (CopierError, ProcessExecutionError, ValueError, OSError):
            return []  # copier's update meets the same failure and reports it in one line
        return sorted(path.relative_to(rendered).as_posix() for path in rendered.rglob("*"))
