"""``upgrade --all``: check or upgrade every generated project under a folder (a batch's output, a team's
checkouts), one table and one exit code; and the machine-readable report of one project (``upgrade --check --json``).

Each project is isolated as a batch's teams are: whatever goes wrong in one (its Stack unreachable, its secret
refused, a bug) ends in that project's row, and the others go on. A project with uncommitted changes is skipped
with its reason, never upgraded over the team's work.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator._util.redact import redact
from generator._util.streams import stdout_to_stderr
from generator.discovery import DiscoveryRequest
from generator.errors import ScaffoldError, UsageError
from generator.operations.upgrade import UpgradePlan, apply_upgrade, check_clean, plan_upgrade
from generator.templating.project_files import ANSWERS_FILE, read_answers

Progress = Callable[[str], None]

# What a project's row says: current (nothing to do), due (--check: an upgrade would change it), upgraded,
# skipped (not attempted: uncommitted changes, no git repository), failed (could not check or upgrade it).
STATUSES = ("current", "due", "upgraded", "skipped", "failed")

# Folders no project lives in: not searched.
_NOT_SEARCHED = {".git", ".venv", ".venv-emulator", "node_modules", "wheels", "__pycache__"}
_DEPTH = 4


@dataclass
class ProjectReport:
    """Where one project stands, or how its upgrade ended."""

    project: Path
    status: str
    detail: str = ""  # the reason (skipped, failed) or what is left to do (conflicts)
    current: dict[str, str | None] = field(default_factory=dict)  # release, profile, template: as recorded
    target: dict[str, str | None] = field(default_factory=dict)  # and as an upgrade would make them
    changes: list[tuple[str, str, str]] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The report as ``upgrade --check --json`` prints it (docs/batch.md names each key)."""
        return {
            "project": str(self.project),
            "status": self.status,
            "current": self.current,
            "target": self.target,
            "changes": [{"what": what, "current": before, "target": after} for what, before, after in self.changes],
            "conflicts": self.conflicts,
            "removed": self.removed,
            "error": self.detail if self.status in ("failed", "skipped") else None,
        }


def report_of(plan: UpgradePlan, status: str) -> ProjectReport:
    """A project's report from its upgrade plan."""
    recorded, fresh = plan.recorded, plan.fresh

    def text(value: Any) -> str | None:
        return str(value) if value not in (None, "") else None

    return ProjectReport(
        plan.project, status,
        current={"release": text(recorded.get("stack_release")), "profile": text(recorded.get("profile")),
                 "template": text(recorded.get("_commit"))},
        target={"release": text(fresh.get("stack_release")), "profile": text(fresh.get("profile")),
                "template": plan.template},  # the one asked for, this installation's, or the one copier takes
        changes=list(plan.changes),
    )


def failed_report(project: Path, error: BaseException) -> ProjectReport:
    """The report of a project that could not be checked or upgraded: the error in one line, no secret in it."""
    if isinstance(error, ScaffoldError):
        return ProjectReport(project, "failed", redact(str(error)), _recorded(project))
    return ProjectReport(project, "failed", redact(f"failed unexpectedly ({type(error).__name__}: {error}); please report it"),
                         _recorded(project))


def _recorded(project: Path) -> dict[str, str | None]:
    """Release, profile and template version as the project records them, where its answers can be read."""
    try:
        recorded = read_answers(project)
    except ScaffoldError:
        return {}
    return {key: str(recorded[name]) if recorded.get(name) else None
            for key, name in (("release", "stack_release"), ("profile", "profile"), ("template", "_commit"))}


def find_projects(folder: str) -> list[Path]:
    """Every generated project (a folder holding ``.copier-answers.yml``) under ``folder``, or ``folder`` itself;
    hidden folders, virtual environments and links are not searched, nor anything inside a project."""
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise UsageError(f"--all {folder}: no such folder; give the folder that holds the projects (a batch's OUT_DIR)")
    found: list[Path] = []
    for path, folders, files in os.walk(root):
        here = Path(path)
        if ANSWERS_FILE in files:
            found.append(here)
            folders.clear()
            continue
        depth = len(here.relative_to(root).parts)
        folders[:] = sorted(name for name in folders if depth < _DEPTH and not name.startswith(".") and name not in _NOT_SEARCHED)
    if not found:
        raise UsageError(f"no generated project (a folder holding {ANSWERS_FILE}) under {root}")
    return sorted(found)


def check_project(project: Path, given: DiscoveryRequest, chosen: dict[str, tuple[str, ...]] | None = None,
                  vcs_ref: str | None = None) -> ProjectReport:
    """Where ``project`` stands against its Stack and the template (writes nothing)."""
    try:
        plan = plan_upgrade(str(project), given, chosen=chosen, vcs_ref=vcs_ref)
    except Exception as error:  # each project alone: a failure (or a bug) costs its row, not the fleet
        return failed_report(project, error)
    # The rule upgrade_project follows: "due" where --yes would regenerate, "current" where it would write nothing.
    return report_of(plan, "due" if plan.due else "current")


def upgrade_project(project: Path, given: DiscoveryRequest, chosen: dict[str, tuple[str, ...]] | None = None,
                    vcs_ref: str | None = None, trust: bool = False) -> tuple[ProjectReport, str | None]:
    """Upgrade ``project`` if an upgrade is due and its working tree is clean; its report and the signal that came
    while copier wrote, if one did (the fleet stops after this project)."""
    try:
        check_clean(project)
    except ScaffoldError as error:
        return ProjectReport(project, "skipped", redact(str(error)).replace(str(project), "it"), _recorded(project)), None
    try:
        plan = plan_upgrade(str(project), given, chosen=chosen, vcs_ref=vcs_ref)
        if not plan.due:
            return report_of(plan, "current"), None
        applied = apply_upgrade(plan, vcs_ref, trust=trust)
    except Exception as error:  # each project alone
        return failed_report(project, error), None
    # copier ran (the plan held changes, or only copier could tell) and wrote nothing: the project was current.
    report = report_of(plan, "upgraded" if applied.changed else "current")
    report.conflicts, report.removed = applied.conflicts, applied.removed
    if applied.conflicts:
        report.detail = f"{len(applied.conflicts)} conflict(s) to resolve: {', '.join(applied.conflicts[:3])}"
    return report, applied.interrupted_by


def run_fleet(folder: str, given: DiscoveryRequest, apply: bool, chosen: dict[str, tuple[str, ...]] | None = None,
              vcs_ref: str | None = None, trust: bool = False, progress: Progress = lambda message: None,
              ) -> tuple[list[ProjectReport], str | None]:
    """Check (or with ``apply``, upgrade) every project under ``folder``, one after the other; the reports, and the
    signal that stopped the fleet early, if one did (the projects after it are not in the reports)."""
    projects = find_projects(folder)
    reports: list[ProjectReport] = []
    for index, project in enumerate(projects, start=1):
        interrupted = None
        with stdout_to_stderr():  # copier's tasks print; stdout holds the table or the JSON alone
            if apply:
                report, interrupted = upgrade_project(project, given, chosen, vcs_ref, trust)
            else:
                report = check_project(project, given, chosen, vcs_ref)
        reports.append(report)
        progress(f"[{index}/{len(projects)}] {display_name(project, Path(folder).expanduser().resolve())}: {report.status}")
        if interrupted:
            return reports, interrupted
    return reports, None


def exit_code(reports: list[ProjectReport], apply: bool) -> int:
    """Checking: 0 every project current, 1 an upgrade due somewhere, 2 a project that cannot tell (failed).
    Upgrading: 0 every project current or upgraded cleanly, 1 otherwise (failed, skipped or with conflicts)."""
    statuses = {report.status for report in reports}
    if not apply:
        return 2 if "failed" in statuses else 1 if "due" in statuses else 0
    return 1 if statuses & {"failed", "skipped"} or any(report.conflicts for report in reports) else 0


def fleet_table(reports: list[ProjectReport], base: Path | None = None) -> str:
    """A plain-text table, one row per project: release and profile now -> after, and the detail."""
    def pair(report: ProjectReport, key: str) -> str:
        before, after = report.current.get(key) or "-", report.target.get(key) or "-"
        return before if before == after or not report.target else f"{before} -> {after}"

    rows = [("project", "status", "release", "profile", "detail")]
    for report in reports:
        rows.append((display_name(report.project, base), report.status, pair(report, "release"), pair(report, "profile"),
                     report.detail))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)).rstrip() for row in rows)


def display_name(project: Path, base: Path | None) -> str:
    """A project as the table names it: its path under the fleet's folder (its own name when it is that folder)."""
    if base is not None and project == base:
        return project.name
    if base is not None and project.is_relative_to(base):
        return str(project.relative_to(base))
    return str(project)
