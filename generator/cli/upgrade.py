"""``azs-scaffold upgrade``: re-discover a project's Stack and regenerate it with copier's three-way merge
(``generator.commands.upgrade``)."""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass

from generator.cli.exit_codes import CANNOT_TELL, INTERRUPTED, PROG
from generator.cli.options import DiscoveryOptions, add_discovery_options, progress
from generator.errors import ScaffoldError, UsageError

DESCRIPTION = ("Re-discover the Stack a generated project points at (its recorded answers, its own CA file, and "
               "its service principal file or AZURE_CLIENT_SECRET), show what changes (release, profile, pins, API versions), "
               "then run copier's update: a three-way merge that keeps your edits. Credentials and the CA file are never rewritten.")


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("project", metavar="PROJECT_DIR", nargs="?", default=".", help="the generated project (default: .)")
    add_discovery_options(p, endpoint_required=False)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="only report: exit 0 when current, 1 when an upgrade is due, 2 when it cannot tell (unreachable, ...)")
    mode.add_argument("--dry-run", action="store_true", help="show the diff an upgrade would make, writing nothing")
    mode.add_argument("--yes", action="store_true", help="do not ask before writing")
    p.add_argument("--vcs-ref", metavar="REF", help="template version to upgrade to (default: this azs-scaffold's own)")
    p.add_argument("--trust", action="store_true",
                   help="run the tasks and migrations of a template other than azs-scaffold's own, which the project's "
                   ".copier-answers.yml names (never run unasked)")


@dataclass
class Options:
    project: str
    discovery: DiscoveryOptions
    check: bool
    dry_run: bool
    yes: bool
    vcs_ref: str | None
    trust: bool


def run(options: Options) -> int:
    from generator.commands.upgrade import apply_upgrade, dry_run_diff, plan_upgrade

    try:
        plan = plan_upgrade(options.project, options.discovery.request(), progress=progress)
    except ScaffoldError as error:
        if options.check:
            error.exit_code = CANNOT_TELL  # apart from 1, "an upgrade is due"
        raise
    if plan.due:
        width = max(len(what) for what, _, _ in plan.changes)
        print(f"Changes for {plan.project}:")
        for what, before, after in plan.changes:
            print(f"  {what:<{width}}  {before or '-'} -> {after or '-'}")
    else:
        print(f"{plan.project} is current: release, profile and pins match the Stack.")
    if options.check:
        return 1 if plan.due else 0
    if options.trust and plan.source is None:
        print(f"Trusting {plan.recorded.get('_src_path', '?')} (--trust): its tasks and migrations will run on this machine")
    if options.dry_run:
        print(dry_run_diff(plan, options.vcs_ref, trust=options.trust) or "(no file would change)")
        return 0
    if not options.yes:
        if not sys.stdin.isatty():
            raise UsageError("upgrade writes files: confirm with --yes (no terminal to ask on), or look first with --dry-run")
        if input("Regenerate the project now? [y/N] ").strip().lower() not in ("y", "yes"):
            print("Nothing changed.")
            return 0
    progress("Regenerating with copier's three-way merge (Ctrl-C waits until it is done)")
    applied = apply_upgrade(plan, options.vcs_ref, trust=options.trust)
    print(f"Upgraded {plan.project} to profile {plan.fresh['profile']}. Review with: git -C {shlex.quote(options.project)} diff")
    if applied.conflicts:
        print("Conflicts to resolve (copier's markers, or .rej files):")
        for path in applied.conflicts:
            print(f"  {path}")
    if applied.interrupted_by:
        print(f"{PROG}: interrupted ({applied.interrupted_by} came while copier wrote): the upgrade above completed; "
              "stopping now", file=sys.stderr)
        return INTERRUPTED
    return 0
