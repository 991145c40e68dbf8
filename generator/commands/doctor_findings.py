"""What ``doctor`` reports, shared by its checks of a project's code and requirements (``doctor``) and of its ARM
templates (``doctor_templates``)."""

from __future__ import annotations

from dataclasses import dataclass

from generator._util.terminal import printable
from generator.errors import ScaffoldError

ERROR, WARNING = "error", "warning"
# Folders doctor never looks into: environments, history and build output are not the project's own code.
SKIPPED_FOLDERS = {".venv", "venv", ".git", "node_modules", "site-packages", "__pycache__", ".tox", "build", "dist"}


class DoctorError(ScaffoldError):
    """The project cannot be examined (exit 2)."""

    exit_code = 2


@dataclass
class Finding:
    """One problem: how bad, where, what, and the exact fix."""

    severity: str
    where: str
    problem: str
    fix: str

    def __post_init__(self) -> None:
        # A finding quotes the project's files and templates (a resource type, a file name): printed as itself.
        self.where, self.problem, self.fix = printable(self.where), printable(self.problem), printable(self.fix)
