"""``azs-scaffold demo``: an emulator, a project, its bootstrap and a sample in one go (``generator.operations.demo``)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from generator.cli.options import TemplateOptions, add_alias, add_template_options

DESCRIPTION = ("Start the emulator, generate a project against it, run its bootstrap (installs the pinned "
               "packages: needs the package index), provider registration and the resource group sample, then stop the emulator.")


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("destination", metavar="DEST", nargs="?", help="directory to create (default: a new folder in the temporary directory)")
    add_alias(p, "--stack-version", p.add_argument("--release", default="2108", metavar="YYMM|azure",
                                                   help="release to emulate (default: %(default)s)"))
    add_alias(p, "--identity", p.add_argument("--identity-system", choices=["azure_ad", "adfs"], default="azure_ad",
                                              help="identity system (default: %(default)s)"))
    add_template_options(p)


@dataclass
class Options:
    destination: str | None
    release: str
    identity_system: str
    source: TemplateOptions


def run(options: Options) -> int:
    from generator.operations.demo import run_demo

    return run_demo(options.destination, release=options.release, identity_system=options.identity_system,
                    template=options.source.template, vcs_ref=options.source.vcs_ref)
