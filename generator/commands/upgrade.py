"""``azs-scaffold upgrade``: re-discover a project's Stack and regenerate it with copier's three-way merge
(``generator.operations.upgrade``)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from generator._util.terminal import printable
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
    p.add_argument("--all", action="store_true", help="PROJECT_DIR is a folder of projects (a batch's OUT_DIR): check "
                   "(--check) or upgrade (--yes) every generated project under it, each on its own; one table, one exit code "
                   "(see docs/batch.md)")
    p.add_argument("--json", action="store_true", help="with --check or --all: print the report as JSON on stdout (per "
                   "project: status, current and target release, profile and template version, the changes)")
    p.add_argument("--samples", metavar="LIST", help="the samples the project carries from now on, comma-separated (e.g. "
                   "resource_groups,storage_accounts): new ones are added, dropped ones removed, your edits kept "
                   "(default: those it has)")
    p.add_argument("--ci", metavar="LIST", help="the CI definitions it carries from now on: github, azure_pipelines, both "
                   "comma-separated, or none (default: those it has)")
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
    all: bool
    json: bool
    samples: str | None
    ci: str | None
    vcs_ref: str | None
    trust: bool


def chosen(options: Options) -> dict[str, tuple[str, ...]]:
    """The samples and CI definitions ``--samples`` and ``--ci`` name (validated), under their answers' names."""
    from generator import catalog
    from generator.templating.answers import ci_names

    picked: dict[str, tuple[str, ...]] = {}
    for option, key, given, names_of in (("--samples", "samples", options.samples, catalog.sample_names),
                                         ("--ci", "ci", options.ci, ci_names)):
        if given is None:
            continue
        names = [name.strip() for name in given.split(",") if name.strip()]
        try:
            picked[key] = () if key == "ci" and names == ["none"] else names_of(names)
        except ScaffoldError as error:
            raise UsageError(f"{option}: {error}") from None
    return picked


def run(options: Options) -> int:
    from generator.operations.upgrade import apply_upgrade, dry_run_diff, plan_upgrade

    picked = chosen(options)
    if options.json and not (options.check or options.all):
        raise UsageError("--json goes with --check (one project) or --all (a folder of projects)")
    if options.all:
        return _run_fleet(options, picked)
    if options.json:
        return _check_as_json(options, picked)
    if not options.check:
        from generator.operations.render import preload_copier

        preload_copier()  # its import overlaps discovery's network waits
    try:
        plan = plan_upgrade(options.project, options.discovery.request(), progress=progress, chosen=picked,
                            vcs_ref=options.vcs_ref)
    except ScaffoldError as error:
        if options.check:
            error.exit_code = CANNOT_TELL  # apart from 1, "an upgrade is due"
        raise
    due = plan.due  # the rule --yes follows: a check says what the upgrade would do
    if due:
        width = max(len(what) for what, _, _ in plan.changes)
        print(f"Changes for {plan.project}:")
        for what, before, after in plan.changes:
            print(printable(f"  {what:<{width}}  {before or '-'} -> {after or '-'}"))
    else:
        print(f"{plan.project} is current: release, profile and pins match the Stack; the template version is the one "
              "it records.")
    if options.check:
        return 1 if due else 0
    if options.trust and plan.source is None:
        print(f"Trusting {printable(plan.recorded.get('_src_path', '?'))} (--trust): its tasks and migrations will run on this machine")
    if options.dry_run:
        # The diff shows the template's text (another template's, with --trust): printed as itself.
        print(printable(dry_run_diff(plan, options.vcs_ref, trust=options.trust), lines=True) or "(no file would change)")
        return 0
    if not due:
        # copier's update would render both sides alike and write nothing (--check and --all follow the same rule).
        print("Nothing to regenerate.")
        return 0
    if not options.yes:
        if not sys.stdin.isatty():
            raise UsageError("upgrade writes files: confirm with --yes (no terminal to ask on), or look first with --dry-run")
        if input("Regenerate the project now? [y/N] ").strip().lower() not in ("y", "yes"):
            print("Nothing changed.")
            return 0
    progress("Regenerating with copier's three-way merge (Ctrl-C waits until it is done)")
    applied = apply_upgrade(plan, options.vcs_ref, trust=options.trust)
    if not applied.changed:
        print(f"Regenerated {plan.project}: no file changed.")
    else:
        print(f"Upgraded {plan.project} to profile {plan.fresh['profile']}. Review with: git -C {shlex.quote(options.project)} diff")
    if applied.removed:
        print("Removed (no longer part of the project; git checkout HEAD -- FILE brings one back):")
        for path in applied.removed:
            print(f"  {path}")
    if applied.conflicts:
        print("Conflicts to resolve (copier's markers, or .rej files):")
        for path in applied.conflicts:
            print(f"  {printable(path)}")
    if applied.interrupted_by:
        print(f"{PROG}: interrupted ({applied.interrupted_by} came while copier wrote): the upgrade above completed; "
              "stopping now", file=sys.stderr)
        return INTERRUPTED
    if applied.conflicts:
        # Not done until they are resolved: as for --all, a script's `upgrade --yes && git commit` stops here.
        print(f"{PROG}: the upgrade left {len(applied.conflicts)} conflict(s) to resolve: edit the files listed above, "
              "then commit", file=sys.stderr)
        return 1
    return 0


def _check_as_json(options: Options, picked: dict[str, tuple[str, ...]]) -> int:
    """``--check --json``: one project's report as JSON on stdout; the exit code of ``--check``."""
    from generator._util.streams import stdout_to_stderr
    from generator.operations.fleet import check_project, exit_code

    request = options.discovery.request()
    with stdout_to_stderr():  # stdout holds the JSON alone
        report = check_project(Path(options.project).expanduser().resolve(), request, picked, options.vcs_ref)
    print(json.dumps(report.to_json(), indent=2))
    if report.status == "failed":
        print(f"{PROG}: error: {report.detail}", file=sys.stderr)
    return exit_code([report], apply=False)


def _run_fleet(options: Options, picked: dict[str, tuple[str, ...]]) -> int:
    """``--all``: every project under the folder checked (``--check``) or upgraded (``--yes``), one table."""
    from generator.operations.fleet import STATUSES, exit_code, fleet_table, run_fleet

    if not (options.check or options.yes):
        raise UsageError("--all needs --check (report every project) or --yes (upgrade every project that is due and "
                         "committed); look at one project's diff first with: upgrade PROJECT --dry-run")
    folder = Path(options.project).expanduser().resolve()
    reports, interrupted = run_fleet(str(folder), options.discovery.request(), apply=options.yes, chosen=picked,
                                     vcs_ref=options.vcs_ref, trust=options.trust,
                                     progress=lambda message: print(f"  {message}", file=sys.stderr, flush=True))
    code = exit_code(reports, apply=options.yes)
    if options.json:
        print(json.dumps({"folder": str(folder), "exit_code": code, "projects": [r.to_json() for r in reports]}, indent=2))
    else:
        print(fleet_table(reports, folder))
        counts = ", ".join(f"{sum(r.status == status for r in reports)} {status}" for status in STATUSES
                           if any(r.status == status for r in reports))
        print(f"\n{len(reports)} project(s) under {folder}: {counts}.")
    if interrupted:
        print(f"{PROG}: interrupted ({interrupted} came while copier wrote): the upgrade of {reports[-1].project.name} "
              "completed; the projects after it were not looked at", file=sys.stderr)
        return INTERRUPTED
    return code



if __name__ == "__main__":
    # A released name: template versions before the command table moved here (up to dc5429b) run
    # ``python -m generator.commands.upgrade refresh-answers`` as their migration, with the installed generator.
    from generator.operations.upgrade import main

    raise SystemExit(main())
