"""``azs-scaffold wheelhouse``: a project's locked set downloaded for a site without a package index
(``generator.operations.wheelhouse``)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from generator.cli.options import progress

DESCRIPTION = ("Download every file of the project's locked set (requirements.txt, hashes checked) for the Pythons "
               "and platforms named into PROJECT/wheels/ (git-ignored); on the disconnected site, python scripts/bootstrap.py "
               "--offline installs from that folder only. Default: this machine's Python and platform, plus the project's CI's "
               "(Python 3.11 on linux).")


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("project", metavar="PROJECT_DIR", nargs="?", default=".", help="the generated project (default: .)")
    p.add_argument("--platform", action="append", metavar="NAME",
                   help="linux, linux-aarch64, windows, macos, macos-x86_64, or a wheel platform tag (repeatable)")
    p.add_argument("--python", action="append", metavar="X.Y", help="3.10, 3.11, 3.12 or 3.13 (repeatable)")


@dataclass
class Options:
    project: str
    platform: list[str] | None
    python: list[str] | None


def run(options: Options) -> int:
    from generator.operations.wheelhouse import make_wheelhouse

    project = Path(options.project).expanduser()
    folder, chosen = make_wheelhouse(project, options.python or [], options.platform or [], progress=progress)
    count = len(list(folder.glob("*.whl")))
    print(f"{folder} holds {count} wheels, every file the locked set needs for {'; '.join(str(t) for t in chosen)}. "
          "Carry the project with it; there run: python scripts/bootstrap.py --offline")
    return 0
