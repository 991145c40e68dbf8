"""Build hook: the wheel and the sdist carry the template, so an installed azs-scaffold needs no network.

Two forms, one source (the git history of this repository):

- ``generator/_template/copier.yml`` and ``generator/_template/template/``: the template as files, for
  reading it and for checking it before anything slow;
- ``generator/_template/azs-scaffold-template.bundle``: a git bundle of HEAD and every tag. copier
  renders from it (a bundle is a git source to copier), so each project records a template commit that
  exists in every later release's bundle, and ``copier update``'s three-way merge finds the old
  version offline.

An sdist holds the bundle at its root (it has no ``.git``); a wheel built from the sdist takes it from there.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

BUNDLE = "azs-scaffold-template.bundle"
TEMPLATE_FILES = ("copier.yml", "template")


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def make_bundle(root: Path, destination: Path) -> Path:
    """A git bundle of HEAD and every tag of the repository at ``root``."""
    if not (root / ".git").exists():
        raise RuntimeError(f"{root} has neither {BUNDLE} (an sdist's) nor git history to make it from")
    if _git(root, "status", "--porcelain", "--", *TEMPLATE_FILES).strip():
        print(f"warning: {', '.join(TEMPLATE_FILES)} have uncommitted changes; the bundle carries HEAD without them",
              file=sys.stderr)
    bundle = destination / BUNDLE
    _git(root, "bundle", "create", "-q", str(bundle), "HEAD", "--tags")
    return bundle


class TemplateBundleHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if version == "editable":
            return  # an editable install reads the checkout itself
        root = Path(self.root)
        bundle = root / BUNDLE
        if not bundle.exists():
            self._scratch = tempfile.TemporaryDirectory(prefix="azs-build-")
            bundle = make_bundle(root, Path(self._scratch.name))
        if self.target_name == "sdist":
            build_data["force_include"][str(bundle)] = BUNDLE
            return
        build_data["force_include"][str(bundle)] = f"generator/_template/{BUNDLE}"
        for name in TEMPLATE_FILES:
            build_data["force_include"][str(root / name)] = f"generator/_template/{name}"

    def finalize(self, version: str, build_data: dict, artifact_path: str) -> None:
        scratch = getattr(self, "_scratch", None)
        if scratch is not None:
            scratch.cleanup()
