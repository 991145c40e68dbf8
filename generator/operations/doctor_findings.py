"""What ``doctor`` reports, and what its checks share: of a project's requirements (``doctor``), code
(``doctor_code``), environment (``doctor_environment``) and ARM templates (``doctor_templates``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

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


def normal_name(name: str) -> str:
    """A distribution name as packaging compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parsed_version(text: str) -> Any:
    """``text`` as a packaging Version, or None when it is none."""
    from packaging.version import InvalidVersion, Version

    try:
        return Version(text)
    except InvalidVersion:
        return None
