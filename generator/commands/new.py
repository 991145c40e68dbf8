"""``azs-scaffold new``: discover a Stack and render a project (``generator.operations.render``), or with ``--batch``
one project per team of a teams file (``generator.operations.batch``)."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from generator._util.terminal import printable
from generator.cli.options import (
    DiscoveryOptions,
    TemplateOptions,
    add_discovery_options,
    add_template_options,
    progress,
)
from generator.errors import UsageError

if TYPE_CHECKING:
    from generator.discovery import StackDiscovery
    from generator.operations.copier_process import CopierProcess

DESCRIPTION = ("Discover the Stack (as 'discover' does), then render the copier template into DEST: pinned "
               "requirements, service principal config (mode 0600, git-ignored), CA trust bootstrap, provider "
               "registration and samples. Questions not answered by options are asked, unless --non-interactive.")


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("destination", metavar="DEST", help="directory to create (must be new or empty); with --batch, the directory for all projects")
    p.add_argument("--batch", metavar="TEAMS_YAML", help="onboard every team listed in this file, one project each (see docs/batch.md)")
    add_discovery_options(p, endpoint_required=False)
    p.add_argument("--location", metavar="L", help="region for new resources (default: the subscription's first)")
    p.add_argument("--samples", metavar="LIST", help="comma-separated: resource_groups, storage_accounts, virtual_networks, "
                   "virtual_machines, key_vault, blob_storage, template_deployment (default: all)")
    p.add_argument("--project-name", metavar="N", help="project name (default: DEST's folder name, as a valid name)")
    p.add_argument("--non-interactive", action="store_true", help="ask nothing: use defaults for what options do not give")
    p.add_argument("--no-git", action="store_true", help="do not make the project a git repository with a first commit "
                   "(default: it is one, unless DEST lies in a repository already; the service principal file is never committed)")
    add_template_options(p)


@dataclass
class Options:
    destination: str
    batch: str | None
    discovery: DiscoveryOptions
    location: str | None
    samples: str | None
    project_name: str | None
    non_interactive: bool
    no_git: bool
    source: TemplateOptions


def run(options: Options) -> int:
    if options.batch:
        return _run_batch(options)
    interactive = not options.non_interactive and sys.stdin.isatty()
    discovery = _ask_what_options_do_not_give(options.discovery) if interactive else options.discovery
    if not discovery.arm_endpoint:
        raise UsageError("new needs --arm-endpoint URL (or --batch FILE)")
    from generator.operations.copier_process import CopierProcess

    # Started before anything else is imported: copier's import then runs on a second core beside discovery's.
    copier = None if interactive else CopierProcess.start()
    with copier or contextlib.nullcontext():
        destination, found = _new(options, discovery, interactive, copier)
    from generator.operations.report import discovery_summary, sample_role_warnings
    from generator.templating.project_files import read_answers

    print(discovery_summary(found))
    samples = read_answers(destination).get("samples") or []
    for warning in sample_role_warnings(found, list(samples)):
        print(f"warning: {warning}", file=sys.stderr)
    print(f"\nCreated {destination}{_in_git(destination, options.no_git)}. Next:")
    # A folder named like an option (-rf) would be read as one by cd: give it as a path.
    folder = options.destination if not options.destination.startswith("-") else f"./{options.destination}"
    print(f"    cd {shlex.quote(folder)}")
    print("    python scripts/bootstrap.py")
    print("    .venv/bin/python register_providers.py")
    if not options.no_git and not (destination / ".git").is_dir():
        _say_where_ci_runs(destination)
    hidden = _uv_out_of_sight()
    if hidden:
        print(f"note: the project's scripts look for uv on PATH or beside an azs-scaffold on PATH, and this one's uv "
              f"({hidden}) is in neither: add {hidden.parent} to PATH, or install uv (pipx install uv), so that bootstrap "
              "installs with it and can lock the team's own packages (requirements.in)", file=sys.stderr)
    return 0


def _say_where_ci_runs(project: Path) -> None:
    """A project made inside a repository (a monorepo): CI services read their definitions from the repository's root
    and run the steps there, so the project's own (.github/workflows, azure-pipelines.yml) need moving: said once."""
    from generator._util.git import git_output

    found = [name for name in (".github", "azure-pipelines.yml") if (project / name).exists()]
    if not found:  # no CI definitions (--ci none): nothing to move, and no git to ask
        return
    code, top = git_output(project, "rev-parse", "--show-toplevel", check=False)
    if code != 0:
        return
    root = Path(top.strip())
    try:
        relative = project.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return
    print(f"note: {project} lies inside the repository {root}, and CI services read their definitions from its root "
          f"and run the steps there: move {' and '.join(found)} to {root} and run the steps in {relative} (GitHub: "
          f"defaults: run: working-directory: {relative}; Azure Pipelines: workingDirectory: {relative})", file=sys.stderr)


def _uv_out_of_sight() -> Path | None:
    """The uv installed beside this azs-scaffold (a dependency), when the generated project's scripts cannot find it
    (template/scripts/lock.py ``find_uv``: PATH, or beside the azs-scaffold that PATH finds): azs-scaffold run by its
    path from a venv's bin folder that is not on PATH. None when they find a uv, or there is none here."""
    import shutil

    name = "uv.exe" if os.name == "nt" else "uv"
    here = Path(sys.executable).with_name(name)
    if not here.exists() or shutil.which("uv"):
        return None
    command = shutil.which("azs-scaffold")
    if command and Path(command).resolve().with_name(name).exists():
        return None
    return here


def _new(options: Options, discovery: DiscoveryOptions, interactive: bool,
         copier: CopierProcess | None) -> tuple[Path, StackDiscovery]:
    from generator.operations.render import NewProject, run_new

    request = NewProject(
        destination=options.destination,
        discovery=discovery.request(),
        project_name=options.project_name,
        samples=tuple(options.samples.split(",")) if options.samples else None,
        location=options.location,
        interactive=interactive,
        template=options.source.template,
        vcs_ref=options.source.vcs_ref,
        git=not options.no_git,
    )
    return run_new(request, progress=progress, copier=copier)


def _run_batch(options: Options) -> int:
    from generator.operations.batch import run_batch, summary_table

    assert options.batch
    results = run_batch(options.batch, options.destination, template=options.source.template,
                        vcs_ref=options.source.vcs_ref, git=not options.no_git,
                        progress=lambda message: print(printable(message), file=sys.stderr, flush=True))
    print(printable(summary_table(results), lines=True))
    failed = [r for r in results if not r.ok]
    there = sum(r.already_there for r in results)
    kept = f" ({there} already there from an earlier run, left as they were)" if there else ""
    print(f"\n{len(results) - len(failed)} of {len(results)} teams onboarded into {options.destination}{kept}.")
    return 1 if failed else 0


def _in_git(project: Path, no_git: bool) -> str:
    """How the new project stands in git, for the line that says it was created."""
    if no_git:
        return ""
    if (project / ".git").is_dir():
        return " (a git repository with its first commit)"
    return " (inside an existing git repository: commit it there)"


def _ask(question: str, default: str = "") -> str:
    try:
        answer = input(f"{question}{f' [{default}]' if default else ''}: ").strip()
    except EOFError:
        answer = ""
    return answer or default


def _ask_what_options_do_not_give(given: DiscoveryOptions) -> DiscoveryOptions:
    """In a terminal, ask for the Stack and the service principal where options name neither (the rest of the
    questions are copier's, asked once discovery is done; the secret is asked at a hidden prompt)."""
    asked = replace(given)
    if not asked.arm_endpoint:
        print("What options do not give is asked (Ctrl-C stops; --non-interactive asks nothing).", file=sys.stderr)
        asked.arm_endpoint = _ask("Resource Manager endpoint of the Stack (https://management.<region>.<fqdn>)")
        if asked.arm_endpoint and asked.root_ca is None:
            asked.root_ca = _ask("Path of the Stack's root CA in PEM format (empty if publicly trusted)") or None
    if asked.arm_endpoint and not asked.client_id and not (asked.client_secret_env or asked.certificate):
        asked.client_id = _ask("Application (client) id of the service principal (empty: discover without signing in)") or None
        if asked.client_id and not asked.client_secret_env:
            asked.certificate = _ask("Certificate (PEM with its key) to sign in with (empty: a client secret, asked hidden)") or None
    return asked
