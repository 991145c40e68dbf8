"""The ``azs-scaffold`` command line: a thin layer over the library's ``run_*`` functions.

Imports of copier, the Azure SDK and the emulator stay inside the commands, so that ``--help``
answers at once.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shlex
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from generator import __version__
from generator.errors import ScaffoldError, UsageError

if TYPE_CHECKING:  # --help imports no discovery
    from generator.discovery import DiscoveryRequest, StackDiscovery

PROG = "azs-scaffold"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _cmd_emulator(args: argparse.Namespace) -> int:
    if args.action == "trust":
        return _emulator_trust(args)
    import json
    from pathlib import Path

    from azs_emulator import Emulator, EmulatorConfig, FaultPlan

    project = None
    if args.for_project:
        from generator.commands.project_emulator import DEFAULT_OVERLAY, OVERLAY_ENV, overlay_for, project_settings

        project = Path(args.for_project).expanduser().resolve()
        args.stack_version, args.identity = project_settings(project)
    config = EmulatorConfig(
        host=args.host,
        port=args.port,
        stack_version=args.stack_version,
        identity=args.identity,
        state_dir=args.state_dir,
        allow_remote=args.allow_remote,
        registration_delay=args.registration_delay,
        token_lifetime=args.token_lifetime,
        client_certificates=[_read_text(path) for path in args.client_certificate],
        layout=args.layout,
        region=args.region,
        fqdn=args.fqdn,
        proxy_port=args.proxy_port,
        single_host=args.single_host,
        identity_port=args.identity_port,
        role=args.role,
        faults=FaultPlan(
            latency=args.latency,
            transient=args.transient,
            transient_status=args.transient_status,
            retry_after=args.retry_after,
            drop=args.drop,
            truncate=args.truncate,
            non_json=args.non_json,
            path=args.fault_path,
        ),
    )
    emulator = Emulator(config, verbose=args.verbose).start()
    try:
        info = emulator.info()
        if args.info_file:
            emulator.write_info(args.info_file)
        if project is not None:
            from generator._util.files import write_private_file

            overlay = Path(args.overlay_file).expanduser().resolve() if args.overlay_file else project / DEFAULT_OVERLAY
            write_private_file(overlay, json.dumps(overlay_for(emulator.info()), indent=2).encode() + b"\n")
            print(f"Emulating {project.name}'s Stack; point it here with: export {OVERLAY_ENV}={overlay}", flush=True)
        _print_emulator(info, args.info_file)
    except BaseException:
        emulator.stop()
        raise
    emulator.serve_until_interrupted()
    print("Emulator stopped.", flush=True)
    return 0


def _print_emulator(info: dict, info_file: str | None) -> None:
    release = "global Azure" if info["stack_version"] == "azure" else f"release {info['stack_version']}"
    print(f"Azure Stack Hub emulator ({release}, {info['identity_system']}) listening", flush=True)
    print(f"  Resource Manager: {info['arm_endpoint']}")
    print(f"  Admin endpoint:   {info['admin_endpoint']}")
    print(f"  Root CA:          {info['ca_cert']}")
    print(f"  Sign-in:          {info['identity_endpoint']} (CA: {info['identity_ca_cert']})")
    print(f"  Key vaults:       https://<vault>.{info['keyvault_dns_suffix']}/, as a vault's properties.vaultUri says "
          f"(CA: {info['keyvault_ca_cert']})")
    if info["https_proxy"]:
        print(f"  Blobs:            https://<account>.blob.{info['storage_suffix']}/, an account's primaryEndpoints.blob")
        print(f"  These names are reached through the emulator's HTTPS proxy: export HTTPS_PROXY={info['https_proxy']}")
        print("    (it refuses every other host: put your package index's host in NO_PROXY, e.g. NO_PROXY=pypi.org,"
              "files.pythonhosted.org, or run installs without it)")
    if info["identity_ca_cert"] != info["ca_cert"]:
        print(f"  The sign-in CA stands in for a public one: trust it as certifi would, e.g. "
              f"export REQUESTS_CA_BUNDLE={info['public_ca_bundle']}")
        print("    and in a generated project's venv: azs-scaffold emulator trust --python .venv/bin/python --info-file INFO")
    if info_file:
        print(f"  Connection info:  {info_file} (holds the client secret; mode 0600)")
    else:
        print("  Add --info-file PATH to get the client id, secret and subscription as JSON.")
    print("Press Ctrl-C to stop.", flush=True)


def _emulator_trust(args: argparse.Namespace) -> int:
    from pathlib import Path

    from azs_emulator.venv_trust import stand_in_ca_of, trust_in_venv

    if not args.python or not (args.info_file or args.ca_cert):
        raise UsageError("emulator trust needs --python (a venv's python, e.g. .venv/bin/python) and --info-file "
                         "(what azs-scaffold emulator --info-file wrote) or --ca-cert (the stand-in CA's PEM)")
    ca = Path(args.ca_cert).expanduser() if args.ca_cert else stand_in_ca_of(args.info_file)
    if ca is None:
        print("Nothing to trust: this emulator signs in with ADFS, on the Stack's own root CA, which bootstrap trusts already.")
        return 0
    print(trust_in_venv(args.python, ca))
    return 0


def _read_text(path: str) -> str:
    from pathlib import Path

    from generator._util.files import read_regular_file

    try:
        return read_regular_file(Path(path).expanduser(), 1024 * 1024).decode("ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number of seconds")
    return value


def _positive_float(text: str) -> float:
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not positive")
    return value


def _non_negative_float(text: str) -> float:
    value = _finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _add_emulator(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "emulator",
        help="run a local Azure Stack Hub emulator (HTTPS, Azure AD or ADFS, Resource Manager)",
        description="Run a local Azure Stack Hub emulator on loopback until interrupted (Ctrl-C). "
        "It answers under a Stack's own names (management.<region>.<fqdn>, adfs., <vault>.vault.), reached through its "
        "HTTPS proxy (export HTTPS_PROXY=<printed at start>); the unmodified Azure SDK and Azure CLI talk to it as to a real "
        "Stack. Trust its root CA (printed at start). 'azs-scaffold emulator trust --python PY --info-file F' makes a "
        "venv trust the stand-in public CA of its Azure AD sign-in host.",
    )
    p.add_argument("action", nargs="?", choices=["serve", "trust"], default="serve",
                   help="serve (default): run the emulator; trust: add its stand-in public CA to the venv of --python")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s; loopback only)")
    p.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one (default: %(default)s)")
    p.add_argument(
        "--stack-version",
        default="2108",
        metavar="YYMM|azure",
        help="release to emulate, e.g. 2008 (2019_03_01_hybrid) or 2108 (2020_09_01_hybrid); "
        "'azure' emulates global Azure (default: %(default)s)",
    )
    p.add_argument("--identity", choices=["azure_ad", "adfs"], default="azure_ad", help="identity system (default: %(default)s)")
    p.add_argument("--layout", choices=["names", "loopback"], default="names",
                   help="names (default): a Stack's host names on port 443 through the emulator's HTTPS proxy; loopback: "
                   "every listener at 127.0.0.1:PORT, no proxy (Key Vault clients then cannot check the vault's name)")
    p.add_argument("--role", default="Owner", choices=["Owner", "Contributor", "Reader", "User Access Administrator"],
                   help="the built-in role the service principal holds on its subscription, enforced on every request "
                   "(default: %(default)s)")
    p.add_argument("--region", default="local", help="the Stack's region, the first label of its names (default: %(default)s)")
    p.add_argument("--fqdn", default="azurestack.external", help="the Stack's external domain (default: %(default)s)")
    p.add_argument("--proxy-port", type=int, default=0, metavar="PORT",
                   help="TCP port of the HTTPS proxy (default: a free one; with --state-dir, the one used before)")
    p.add_argument("--identity-port", type=int, default=0, metavar="PORT",
                   help="TCP port of the sign-in listener (default: a free one; in the loopback layout with --state-dir, "
                   "the one used before)")
    p.add_argument("--for-project", metavar="DIR", help="emulate the release and identity system a generated project "
                   "records, and write a settings overlay for it (AZS_EMULATOR_OVERLAY); its real credentials stay untouched")
    p.add_argument("--overlay-file", metavar="PATH", help="with --for-project: where to write the overlay "
                   "(default: DIR/.azs-emulator/overlay.json; mode 0600)")
    p.add_argument("--single-host", action="store_true",
                   help="with --layout loopback: serve sign-in on the Resource Manager's listener and CA (default: its own, "
                   "as on a real Stack: Azure AD's with a CA that stands in for a public one, ADFS's on the Stack's CA)")
    p.add_argument("--state-dir", metavar="DIR", help="keep CA, credentials and resources here across restarts")
    p.add_argument("--info-file", metavar="PATH", help="write connection facts (with the client secret) as JSON, mode 0600")
    p.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host (anyone reaching it can use it)")
    p.add_argument(
        "--registration-delay", type=_non_negative_float, default=1.0, metavar="SECONDS",
        help="how long a provider stays 'Registering' (default: %(default)s)",
    )
    p.add_argument(
        "--client-certificate", action="append", default=[], metavar="PEM",
        help="a certificate the service principal may also sign in with (repeatable)",
    )
    p.add_argument("--token-lifetime", type=_non_negative_int, default=3600, metavar="SECONDS", help="access token lifetime (default: %(default)s)")
    p.add_argument("--verbose", action="store_true", help="log each request (method, path, status) to stderr")
    trust = p.add_argument_group("trust", "with the action trust")
    trust.add_argument("--python", metavar="PY", help="the venv's python whose certifi bundle gets the stand-in CA (e.g. .venv/bin/python)")
    trust.add_argument("--ca-cert", metavar="PEM", help="the stand-in CA to trust (default: identity_ca_cert of --info-file)")
    faults = p.add_argument_group("faults", "break requests on purpose (also settable at run time: PUT /_emulator/faults)")
    faults.add_argument("--latency", type=_non_negative_float, default=0.0, metavar="SECONDS", help="delay every request")
    faults.add_argument("--transient", type=_non_negative_int, default=0, metavar="N", help="answer the next N requests with --transient-status")
    faults.add_argument("--transient-status", type=int, choices=[429, 500, 502, 503, 504], default=503, help="(default: %(default)s)")
    faults.add_argument("--retry-after", type=_non_negative_int, default=0, metavar="SECONDS", help="Retry-After of transient answers")
    faults.add_argument("--drop", type=_non_negative_int, default=0, metavar="N", help="reset the connection of the next N requests")
    faults.add_argument("--truncate", type=_non_negative_int, default=0, metavar="N", help="cut the body of the next N responses in half")
    faults.add_argument("--non-json", type=_non_negative_int, default=0, metavar="N", help="answer the next N requests with an HTML error page")
    faults.add_argument("--fault-path", default="", metavar="REGEX", help="only break requests whose path matches")
    p.set_defaults(run=_cmd_emulator)


def _add_discovery_options(p: argparse.ArgumentParser, endpoint_required: bool = True) -> None:
    """The options every command that talks to a Stack takes."""
    p.add_argument("--arm-endpoint", required=endpoint_required, metavar="URL", help="the Stack's Resource Manager, e.g. https://management.local.azurestack.external")
    p.add_argument("--ca-cert", metavar="PEM", help="the Stack's root CA (PEM) to trust; default: the public CAs (certifi)")
    p.add_argument("--tenant", metavar="NAME_OR_ID", help="Azure AD directory (GUID or contoso.onmicrosoft.com); default: the Stack's own")
    p.add_argument("--client-id", metavar="ID", help="service principal application id; proves the credentials and reads the providers")
    secret = p.add_mutually_exclusive_group()
    secret.add_argument("--client-secret-env", metavar="VAR", help="environment variable holding the client secret (else a hidden prompt)")
    secret.add_argument("--certificate", metavar="PEM", help="sign in with this certificate (PEM with its private key) instead of a secret")
    p.add_argument("--certificate-password-env", metavar="VAR", help="environment variable holding the certificate's password, if any")
    p.add_argument("--subscription-id", metavar="ID", help="subscription to use (default: the only one the principal sees)")
    p.add_argument("--admin-endpoint", metavar="URL", help="admin Resource Manager, to read the release from the update API (operator credentials)")
    p.add_argument("--stack-version", metavar="V", help="the Stack release (YYMM, e.g. 2108) or build (1.2108.2.65), if you know it")
    p.add_argument("--force", action="store_true", help="use --stack-version even where the Stack's own evidence disagrees")
    p.add_argument("--timeout", type=_positive_float, default=15.0, metavar="SECONDS",
                   help="the longest one try of a request may take, however slowly the answer comes; sign-in too (default: %(default)s)")


def _add_template_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--template", metavar="SRC", help="template path, bundle or git URL (default: the one this azs-scaffold carries)")
    p.add_argument("--vcs-ref", metavar="REF", help="template version, a git tag or commit (default: this azs-scaffold's own; "
                   "with --template, copier's: the latest release tag, else HEAD)")


def _principal(args: argparse.Namespace):
    """The service principal the options name (secret from the environment or a hidden prompt), or None."""
    from generator._util.redact import read_secret
    from generator.discovery import ServicePrincipal

    if not args.client_id:
        if args.client_secret_env or args.certificate:
            raise UsageError("a client secret or certificate needs --client-id too")
        return None
    if args.certificate:
        if not os.path.exists(args.certificate):
            raise UsageError(f"--certificate {args.certificate}: no such file; give the PEM with the certificate and its private key")
        if os.path.isdir(args.certificate):
            raise UsageError(f"--certificate {args.certificate} is a directory; give the PEM with the certificate and its private key")
        return ServicePrincipal.from_credentials(args.client_id, certificate=args.certificate,
                                                 certificate_password=read_secret(args.certificate_password_env, None,
                                                                                  "--certificate-password-env"))
    return ServicePrincipal.from_credentials(
        args.client_id, secret=read_secret(args.client_secret_env, f"Client secret for {args.client_id}: ", "--client-secret-env"))


def _discovery_request(args: argparse.Namespace):
    from generator.discovery import DiscoveryRequest

    return DiscoveryRequest.from_settings(vars(args), _principal(args))


def _progress(message: str) -> None:
    print(f"  {message} ...", file=sys.stderr, flush=True)


def _cmd_discover(args: argparse.Namespace) -> int:
    import json

    from generator.discovery import discover_stack

    if args.capabilities and not args.client_id:  # refused before anything is asked of the Stack
        raise UsageError("--capabilities needs a service principal to read the Stack's providers, sizes and marketplace: "
                         "add --client-id and --client-secret-env VAR (or --certificate PEM)")
    if args.capabilities and os.path.isdir(args.capabilities):
        raise UsageError(f"--capabilities {args.capabilities} is a directory; give a file name, e.g. "
                         f"{os.path.join(args.capabilities, 'capabilities.json')}")
    request = _discovery_request(args)
    found = discover_stack(request, progress=_progress)
    if args.capabilities:
        from generator.discovery.capabilities import read_capabilities, write_capabilities

        _progress("Reading the Stack's capabilities: providers, VM sizes, images, extensions")
        written = write_capabilities(args.capabilities, read_capabilities(request, found))
        print(f"Wrote the Stack's capabilities to {written} (doctor --capabilities {written} checks templates against them)",
              file=sys.stderr)
    if args.json:
        print(json.dumps(found.to_json(), indent=2))
        return 0
    from generator.commands.report import discovery_summary

    print(discovery_summary(found))
    return 0


def _add_discover(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "discover",
        help="find out identity, tenant, release and API profile of a Stack",
        description="Query a Stack's Resource Manager and show what a project for it needs: identity system, "
        "authority, tenant, token audience and scope, Stack release and API profile (with the evidence). "
        "With credentials it also proves them. Secrets are never taken on the command line.",
    )
    _add_discovery_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--capabilities", metavar="FILE", help="also write the Stack's capabilities (providers, api-versions, VM "
                   "sizes, images, extensions) to FILE, for doctor to check ARM templates where the Stack is not reachable")
    p.set_defaults(run=_cmd_discover)


def _ask(question: str, default: str = "") -> str:
    try:
        answer = input(f"{question}{f' [{default}]' if default else ''}: ").strip()
    except EOFError:
        answer = ""
    return answer or default


def _ask_what_options_do_not_give(args: argparse.Namespace) -> None:
    """In a terminal, ask for the Stack and the service principal where options name neither (the rest of the
    questions are copier's, asked once discovery is done; the secret is asked at a hidden prompt)."""
    if not args.arm_endpoint:
        print("What options do not give is asked (Ctrl-C stops; --non-interactive asks nothing).", file=sys.stderr)
        args.arm_endpoint = _ask("Resource Manager endpoint of the Stack (https://management.<region>.<fqdn>)")
        if args.arm_endpoint and args.ca_cert is None:
            args.ca_cert = _ask("Path of the Stack's root CA in PEM format (empty if publicly trusted)") or None
    if args.arm_endpoint and not args.client_id and not (args.client_secret_env or args.certificate):
        args.client_id = _ask("Application (client) id of the service principal (empty: discover without signing in)") or None
        if args.client_id and not args.client_secret_env:
            certificate = _ask("Certificate (PEM with its key) to sign in with (empty: a client secret, asked hidden)")
            args.certificate = certificate or None


def _cmd_new(args: argparse.Namespace) -> int:
    if args.batch:
        return _cmd_new_batch(args)
    interactive = not args.non_interactive and sys.stdin.isatty()
    if interactive:
        _ask_what_options_do_not_give(args)
    if not args.arm_endpoint:
        raise UsageError("new needs --arm-endpoint URL (or --batch FILE)")
    from generator.commands.render import NewProject, run_new
    from generator.commands.report import discovery_summary, sample_role_warnings

    request = NewProject(
        destination=args.destination,
        discovery=_discovery_request(args),
        project_name=args.project_name,
        samples=tuple(args.samples.split(",")) if args.samples else None,
        location=args.location,
        interactive=interactive,
        template=args.template,
        vcs_ref=args.vcs_ref,
    )
    destination, found = run_new(request, progress=_progress)
    print(discovery_summary(found))
    from generator.templating.project_files import read_answers

    samples = read_answers(destination).get("samples") or []
    for warning in sample_role_warnings(found, list(samples)):
        print(f"warning: {warning}", file=sys.stderr)
    print(f"\nCreated {destination}. Next:")
    # A folder named like an option (-rf) would be read as one by cd: give it as a path.
    folder = args.destination if not args.destination.startswith("-") else f"./{args.destination}"
    print(f"    cd {shlex.quote(folder)}")
    print("    python scripts/bootstrap.py")
    print("    .venv/bin/python register_providers.py")
    return 0


def _cmd_new_batch(args: argparse.Namespace) -> int:
    from generator.commands.batch import run_batch, summary_table

    results = run_batch(args.batch, args.destination, template=args.template, vcs_ref=args.vcs_ref,
                        progress=lambda message: print(message, file=sys.stderr, flush=True))
    print(summary_table(results))
    failed = [r for r in results if not r.ok]
    there = sum(r.already_there for r in results)
    kept = f" ({there} already there from an earlier run, left as they were)" if there else ""
    print(f"\n{len(results) - len(failed)} of {len(results)} teams onboarded into {args.destination}{kept}.")
    return 1 if failed else 0


def _add_new(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "new",
        help="discover a Stack and generate a ready-to-run project for it",
        description="Discover the Stack (as 'discover' does), then render the copier template into DEST: pinned "
        "requirements, service principal config (mode 0600, git-ignored), CA trust bootstrap, provider "
        "registration and samples. Questions not answered by options are asked, unless --non-interactive.",
    )
    p.add_argument("destination", metavar="DEST", help="directory to create (must be new or empty); with --batch, the directory for all projects")
    p.add_argument("--batch", metavar="TEAMS_YAML", help="onboard every team listed in this file, one project each (see docs/batch.md)")
    _add_discovery_options(p, endpoint_required=False)
    p.add_argument("--location", metavar="L", help="region for new resources (default: the subscription's first)")
    p.add_argument("--samples", metavar="LIST", help="comma-separated: resource_groups, storage_accounts, virtual_networks, "
                   "virtual_machines, key_vault, blob_storage, template_deployment (default: all)")
    p.add_argument("--project-name", metavar="N", help="project name (default: azs-project)")
    p.add_argument("--non-interactive", action="store_true", help="ask nothing: use defaults for what options do not give")
    _add_template_options(p)
    p.set_defaults(run=_cmd_new)


def _cmd_upgrade(args: argparse.Namespace) -> int:
    from generator.commands.upgrade import apply_upgrade, dry_run_diff, plan_upgrade

    try:
        plan = plan_upgrade(args.project, _discovery_request(args), progress=_progress)
    except ScaffoldError as error:
        if args.check:
            error.exit_code = 2  # "cannot tell", apart from 1, "an upgrade is due"
        raise
    if plan.due:
        width = max(len(what) for what, _, _ in plan.changes)
        print(f"Changes for {plan.project}:")
        for what, before, after in plan.changes:
            print(f"  {what:<{width}}  {before or '-'} -> {after or '-'}")
    else:
        print(f"{plan.project} is current: release, profile and pins match the Stack.")
    if args.check:
        return 1 if plan.due else 0
    if args.trust and plan.source is None:
        print(f"Trusting {plan.recorded.get('_src_path', '?')} (--trust): its tasks and migrations will run on this machine")
    if args.dry_run:
        print(dry_run_diff(plan, args.vcs_ref, trust=args.trust) or "(no file would change)")
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("upgrade writes files: confirm with --yes (no terminal to ask on), or look first with --dry-run")
        if input("Regenerate the project now? [y/N] ").strip().lower() not in ("y", "yes"):
            print("Nothing changed.")
            return 0
    _progress("Regenerating with copier's three-way merge (Ctrl-C waits until it is done)")
    applied = apply_upgrade(plan, args.vcs_ref, trust=args.trust)
    print(f"Upgraded {plan.project} to profile {plan.fresh['profile']}. Review with: git -C {shlex.quote(args.project)} diff")
    if applied.conflicts:
        print("Conflicts to resolve (copier's markers, or .rej files):")
        for path in applied.conflicts:
            print(f"  {path}")
    if applied.interrupted_by:
        print(f"{PROG}: interrupted ({applied.interrupted_by} came while copier wrote): the upgrade above completed; "
              "stopping now", file=sys.stderr)
        return 130
    return 0


def _add_upgrade(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "upgrade",
        help="re-discover the Stack and regenerate a project, keeping your edits",
        description="Re-discover the Stack a generated project points at (its recorded answers, its own CA file, and "
        "its service principal file or AZURE_CLIENT_SECRET), show what changes (release, profile, pins, API versions), "
        "then run copier's update: a three-way merge that keeps your edits. Credentials and the CA file are never rewritten.",
    )
    p.add_argument("project", metavar="PROJECT_DIR", nargs="?", default=".", help="the generated project (default: .)")
    _add_discovery_options(p, endpoint_required=False)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="only report: exit 0 when current, 1 when an upgrade is due, 2 when it cannot tell (unreachable, ...)")
    mode.add_argument("--dry-run", action="store_true", help="show the diff an upgrade would make, writing nothing")
    mode.add_argument("--yes", action="store_true", help="do not ask before writing")
    p.add_argument("--vcs-ref", metavar="REF", help="template version to upgrade to (default: this azs-scaffold's own)")
    p.add_argument("--trust", action="store_true",
                   help="run the tasks and migrations of a template other than azs-scaffold's own, which the project's "
                   ".copier-answers.yml names (never run unasked)")
    p.set_defaults(run=_cmd_upgrade)


def _cmd_demo(args: argparse.Namespace) -> int:
    from generator.commands.demo import run_demo

    return run_demo(args.destination, stack_version=args.stack_version, identity=args.identity,
                    template=args.template, vcs_ref=args.vcs_ref)


def _add_demo(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "demo",
        help="the whole flow against the built-in emulator: generate, bootstrap, register, run a sample",
        description="Start the emulator, generate a project against it, run its bootstrap (installs the pinned "
        "packages: needs the package index), provider registration and the resource group sample, then stop the emulator.",
    )
    p.add_argument("destination", metavar="DEST", nargs="?", help="directory to create (default: a new folder in the temporary directory)")
    p.add_argument("--stack-version", default="2108", metavar="YYMM|azure", help="release to emulate (default: %(default)s)")
    p.add_argument("--identity", choices=["azure_ad", "adfs"], default="azure_ad", help="identity system (default: %(default)s)")
    _add_template_options(p)
    p.set_defaults(run=_cmd_demo)


def _cmd_doctor(args: argparse.Namespace) -> int:
    import json

    from generator.commands.doctor import apply_fix, requirements_diff, run_doctor
    from generator.commands.doctor_findings import DoctorError

    try:
        found = capabilities = None
        if args.arm_endpoint:
            from generator.discovery import discover_stack

            request = _discovery_request(args)
            found = discover_stack(request, progress=_progress)
            capabilities = _stack_capabilities(request, found, args.capabilities)
        elif args.capabilities or args.stack_version:
            from generator.commands.doctor_templates import from_release, read_capabilities_file

            capabilities = read_capabilities_file(args.capabilities) if args.capabilities else from_release(args.stack_version)
        report = run_doctor(args.project, python=args.python, ca_cert=args.ca_cert, found=found, template=args.template,
                            capabilities=capabilities, progress=_progress)
    except ScaffoldError as error:
        raise DoctorError(str(error)) from None  # doctor's "could not run" is exit 2
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        for finding in report.findings:
            print(f"{finding.severity:<7}  {finding.where}: {finding.problem}\n         fix: {finding.fix}")
        errors = sum(f.severity == "error" for f in report.findings)
        print(f"{len(report.findings)} finding(s) in {report.project} ({errors} error(s))" if report.findings
              else f"No findings in {report.project}.")
    if args.fix:
        diff = requirements_diff(report)
        if diff:
            print(diff, file=sys.stderr if args.json else sys.stdout, end="")
            target = apply_fix(report)
            print(f"Wrote {target} (the code was not changed). Install it: pip install -r {target.name}",
                  file=sys.stderr if args.json else sys.stdout)
        else:
            print("requirements.txt already holds the pinned set.", file=sys.stderr if args.json else sys.stdout)
    return 1 if report.findings else 0


def _stack_capabilities(request: DiscoveryRequest, found: StackDiscovery, capabilities_file: str | None) -> Any:
    """What templates are checked against with a Stack: its live capabilities when signed in, else the file, else
    the discovered release's profile tables."""
    from generator.commands.doctor_templates import from_capabilities, from_release, read_capabilities_file

    if request.principal is not None and found.subscription_id and found.location:
        from generator.discovery.capabilities import read_capabilities

        _progress("Reading the Stack's capabilities to check ARM templates")
        return from_capabilities(read_capabilities(request, found), f"the Stack at {found.metadata.resource_manager}")
    return read_capabilities_file(capabilities_file) if capabilities_file else from_release(found.release)


def _add_doctor(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "doctor",
        help="diagnose an existing Azure Stack Hub Python project: pins, profiles, credentials, CA trust",
        description="Examine a hand-written project (requirements, installed environment, code by static analysis; "
        "nothing of it is run) and name each problem with its fix. Exit 0: no findings, 1: findings, 2: could not run. "
        "With --arm-endpoint it also discovers the Stack and checks the project's profile against it (which needs "
        "credentials or --stack-version). ARM templates (every *.json that is one, or --template FILE) are checked "
        "against what the Stack serves: resource types and api-versions, VM sizes, images and extensions, hard-coded "
        "public endpoints, the apiProfile.",
    )
    p.add_argument("project", metavar="PATH", nargs="?", default=".", help="the project's folder (default: .)")
    p.add_argument("--python", metavar="PATH", help="run this Python to list its installed packages (it starts as any run of "
                   "it does, .pth files included); default: read .venv's on disk, running nothing")
    p.add_argument("--json", action="store_true", help="print the findings as one JSON object")
    p.add_argument("--fix", action="store_true", help="write a pinned requirements.txt for what the code imports (shows the diff; never edits code)")
    p.add_argument("--template", metavar="FILE", help="check this ARM template (default: every ARM template *.json in the project)")
    p.add_argument("--capabilities", metavar="FILE", help="check ARM templates against the Stack capabilities that "
                   "'discover --capabilities FILE' wrote (default: the Stack with --arm-endpoint, else the API profiles "
                   "of --stack-version, else of any supported release)")
    _add_discovery_options(p, endpoint_required=False)
    p.set_defaults(run=_cmd_doctor)


def _cmd_wheelhouse(args: argparse.Namespace) -> int:
    from pathlib import Path

    from generator.commands.wheelhouse import make_wheelhouse

    project = Path(args.project).expanduser()
    folder, chosen = make_wheelhouse(project, args.python or [], args.platform or [], progress=_progress)
    count = len(list(folder.glob("*.whl")))
    print(f"{folder} holds {count} wheels, every file the locked set needs for {'; '.join(str(t) for t in chosen)}. "
          "Carry the project with it; there run: python scripts/bootstrap.py --offline")
    return 0


def _add_wheelhouse(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "wheelhouse",
        help="download a project's locked packages into PROJECT/wheels/ for a site without a package index",
        description="Download every file of the project's locked set (requirements.txt, hashes checked) for the Pythons "
        "and platforms named into PROJECT/wheels/ (git-ignored); on the disconnected site, python scripts/bootstrap.py "
        "--offline installs from that folder only. Default: this machine's Python and platform, plus the project's CI's "
        "(Python 3.11 on linux).",
    )
    p.add_argument("project", metavar="PROJECT_DIR", nargs="?", default=".", help="the generated project (default: .)")
    p.add_argument("--platform", action="append", metavar="NAME",
                   help="linux, linux-aarch64, windows, macos, macos-x86_64, or a wheel platform tag (repeatable)")
    p.add_argument("--python", action="append", metavar="X.Y", help="3.10, 3.11, 3.12 or 3.13 (repeatable)")
    p.set_defaults(run=_cmd_wheelhouse)


_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_new, _add_upgrade, _add_discover, _add_doctor, _add_demo,
                                                                  _add_emulator, _add_wheelhouse]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command (cheap: nothing heavy is imported)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Generate ready-to-run Python projects for Azure Stack Hub.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in _COMMANDS:
        add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # The SDK and MSAL log failures (with tracebacks, and the server's answer) before raising them;
    # the CLI reports each failure once, itself, in one line.
    for name in ("azure", "msal"):
        logging.getLogger(name).addHandler(logging.NullHandler())
        logging.getLogger(name).propagate = False
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    # SIGTERM ends every command as Ctrl-C does: cleanly, leaving whole results or nothing.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return args.run(args)
    except ScaffoldError as error:
        return _report(error, error.exit_code)
    except Exception as error:
        # The emulator's errors are its own (it imports nothing of ours); looked up only if the emulator was loaded,
        # so that --help never imports it.
        emulator_errors = sys.modules.get("azs_emulator.errors")
        if emulator_errors is None or not isinstance(error, emulator_errors.EmulatorError):
            raise
        return _report(error, error.exit_code)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _report(error: Exception, exit_code: int) -> int:
    """One line on stderr for a failure the user can act on (no secret in it); its exit code."""
    from generator._util.redact import redact

    print(f"{PROG}: error: {redact(str(error))}", file=sys.stderr)
    return exit_code


def run() -> None:
    """The ``azs-scaffold`` command: :func:`main`, then exit with its code.

    Once the work is done (whole, or cleaned up), Ctrl-C and SIGTERM are ignored: Python restores their
    default action while it shuts down, and a signal in that moment would turn a finished run into a kill.
    """
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(code)
