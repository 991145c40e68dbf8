"""``azs-scaffold doctor``: findings for a hand-written project and its ARM templates (``generator.operations.doctor``,
``doctor_code``, ``doctor_environment``, ``doctor_templates``, ``doctor_capabilities``,
``doctor_findings``). Exit 0: no findings, 1: findings, 2: could not run."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from generator._util.terminal import printable
from generator.cli.options import DiscoveryOptions, add_discovery_options, progress
from generator.errors import ScaffoldError

if TYPE_CHECKING:  # --help imports no discovery
    from generator.discovery import DiscoveryRequest, StackDiscovery

DESCRIPTION = ("Examine a hand-written project (requirements, installed environment, code by static analysis; "
               "nothing of it is run) and name each problem with its fix. Exit 0: no findings, 1: findings, 2: could not run. "
               "With --arm-endpoint it also discovers the Stack and checks the project's profile against it (which needs "
               "credentials or --release). ARM templates (every *.json that is one, or --template FILE) are checked "
               "against what the Stack serves: resource types and api-versions, VM sizes, images and extensions, hard-coded "
               "public endpoints, the apiProfile.")


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("project", metavar="PATH", nargs="?", default=".", help="the project's folder (default: .)")
    p.add_argument("--python", metavar="PATH", help="run this Python to list its installed packages (it starts as any run of "
                   "it does, .pth files included); default: read .venv's on disk, running nothing")
    p.add_argument("--json", action="store_true", help="print the findings as one JSON object")
    p.add_argument("--fix", action="store_true", help="write a pinned requirements.txt for what the code imports (shows the diff; never edits code)")
    p.add_argument("--template", metavar="FILE", help="check this ARM template (default: every ARM template *.json in the project)")
    p.add_argument("--capabilities", metavar="FILE", help="check ARM templates against the Stack capabilities that "
                   "'discover --capabilities FILE' wrote (default: the Stack with --arm-endpoint, else the API profiles "
                   "of --release, else of any supported release)")
    add_discovery_options(p, endpoint_required=False)


@dataclass
class Options:
    project: str
    python: str | None
    json: bool
    fix: bool
    template: str | None  # an ARM template
    capabilities: str | None
    discovery: DiscoveryOptions


def run(options: Options) -> int:
    from generator.operations.doctor import apply_fix, requirements_diff, run_doctor
    from generator.operations.doctor_findings import DoctorError

    stack = options.discovery
    try:
        found = capabilities = None
        if stack.arm_endpoint:
            from generator.discovery import discover_stack

            request = stack.request()
            found = discover_stack(request, progress=progress)
            capabilities = _stack_capabilities(request, found, options.capabilities)
        elif options.capabilities or stack.release:
            from generator.operations.doctor_capabilities import from_release, read_capabilities_file

            capabilities = read_capabilities_file(options.capabilities) if options.capabilities else from_release(stack.release)
        report = run_doctor(options.project, python=options.python, root_ca=stack.root_ca, found=found,
                            template=options.template, capabilities=capabilities, progress=progress)
    except ScaffoldError as error:
        raise DoctorError(str(error)) from None  # doctor's "could not run" is exit 2
    out = sys.stderr if options.json else sys.stdout  # with --json, stdout holds the JSON alone
    if options.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        for finding in report.findings:
            print(f"{finding.severity:<7}  {finding.where}: {finding.problem}\n         fix: {finding.fix}")
        errors = sum(f.severity == "error" for f in report.findings)
        print(f"{len(report.findings)} finding(s) in {report.project} ({errors} error(s))" if report.findings
              else f"No findings in {report.project}.")
    if options.fix:
        diff = requirements_diff(report)
        if diff:
            print(printable(diff, lines=True), file=out, end="")
            target = apply_fix(report)
            print(f"Wrote {target} (the code was not changed). Install it: pip install -r {target.name}", file=out)
        else:
            print("requirements.txt already holds the pinned set.", file=out)
    return 1 if report.findings else 0


def _stack_capabilities(request: DiscoveryRequest, found: StackDiscovery, capabilities_file: str | None) -> Any:
    """What templates are checked against with a Stack: its live capabilities when signed in, else the file, else
    the discovered release's profile tables."""
    from generator.operations.doctor_capabilities import from_capabilities, from_release, read_capabilities_file

    if request.principal is not None and found.subscription_id and found.location:
        from generator.discovery.capabilities import read_capabilities

        progress("Reading the Stack's capabilities to check ARM templates")
        return from_capabilities(read_capabilities(request, found), f"the Stack at {found.metadata.resource_manager}")
    return read_capabilities_file(capabilities_file) if capabilities_file else from_release(found.release)
