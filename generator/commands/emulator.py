"""``azs-scaffold emulator``: the built-in Azure Stack Hub emulator (``azs_emulator``), served until interrupted, and
its actions (``trust``, ...). A new action is one function and one line in :data:`ACTIONS`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import NamedTuple

from generator.cli.options import add_alias, non_negative_float, non_negative_int, positive_float, positive_int
from generator.errors import UsageError
from generator.operations.emulator_control import SHELLS

DESCRIPTION = ("Run a local Azure Stack Hub emulator on loopback until interrupted (Ctrl-C). "
               "It answers under a Stack's own names (management.<region>.<fqdn>, adfs., <vault>.vault.), reached through its "
               "HTTPS proxy (export HTTPS_PROXY=<printed at start>); the unmodified Azure SDK and Azure CLI talk to it as to a real "
               "Stack. Trust its root CA (printed at start). 'azs-scaffold emulator trust --python PY --info-file F' makes a "
               "venv trust the stand-in public CA of its Azure AD sign-in host.")


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", nargs="?", choices=list(ACTIONS), default="serve",
                   help="; ".join(f"{name}{' (default)' if name == 'serve' else ''}: {action.summary}" for name, action in ACTIONS.items()))
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s; loopback only)")
    p.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one (default: %(default)s)")
    add_alias(p, "--stack-version", p.add_argument(
        "--release", default="2108", metavar="YYMM|azure",
        help="release to emulate, e.g. 2008 (2019_03_01_hybrid) or 2108 (2020_09_01_hybrid); "
        "'azure' emulates global Azure (default: %(default)s)"))
    add_alias(p, "--identity", p.add_argument("--identity-system", choices=["azure_ad", "adfs"], default="azure_ad",
                                              help="identity system (default: %(default)s)"))
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
        "--registration-delay", type=non_negative_float, default=1.0, metavar="SECONDS",
        help="how long a provider stays 'Registering' (default: %(default)s)",
    )
    p.add_argument(
        "--client-certificate", action="append", default=[], metavar="PEM",
        help="a certificate the service principal may also sign in with (repeatable)",
    )
    p.add_argument("--token-lifetime", type=non_negative_int, default=3600, metavar="SECONDS", help="access token lifetime (default: %(default)s)")
    p.add_argument("--verbose", action="store_true", help="log each request (method, path, status) to stderr")
    p.add_argument("--keep-alive-timeout", type=positive_float, default=120.0, metavar="SECONDS",
                   help="close a connection (or proxy tunnel) idle this long (default: %(default)s, HTTP.sys's)")
    p.add_argument("--workers", type=positive_int, default=32, metavar="N",
                   help="requests answered at once; more wait, and past 8 per worker are answered 503 (default: %(default)s)")
    p.add_argument("--detach", action="store_true",
                   help="serve in the background and return once it serves (state in --state-dir, default "
                   "~/.local/state/azs-scaffold/emulator; info in DIR/info.json unless --info-file); 'emulator stop' ends it")
    p.add_argument("--shell", choices=SHELLS, default="sh", help="with the action env: the shell's syntax (default: %(default)s)")
    trust = p.add_argument_group("trust", "with the action trust")
    trust.add_argument("--python", metavar="PY", help="the venv's python whose certifi bundle gets the stand-in CA (e.g. .venv/bin/python)")
    add_alias(trust, "--ca-cert", trust.add_argument("--stand-in-ca", metavar="PEM",
                                                     help="the stand-in CA to trust (default: identity_ca_cert of --info-file)"))
    faults = p.add_argument_group("faults", "break requests on purpose (also settable at run time: PUT /_emulator/faults)")
    faults.add_argument("--latency", type=non_negative_float, default=0.0, metavar="SECONDS", help="delay every request")
    faults.add_argument("--transient", type=non_negative_int, default=0, metavar="N", help="answer the next N requests with --transient-status")
    faults.add_argument("--transient-status", type=int, choices=[429, 500, 502, 503, 504], default=503, help="(default: %(default)s)")
    faults.add_argument("--retry-after", type=non_negative_int, default=0, metavar="SECONDS", help="Retry-After of transient answers")
    faults.add_argument("--drop", type=non_negative_int, default=0, metavar="N", help="reset the connection of the next N requests")
    faults.add_argument("--truncate", type=non_negative_int, default=0, metavar="N", help="cut the body of the next N responses in half")
    faults.add_argument("--non-json", type=non_negative_int, default=0, metavar="N", help="answer the next N requests with an HTML error page")
    faults.add_argument("--fault-path", default="", metavar="REGEX", help="only break requests whose path matches")


@dataclass
class FaultOptions:
    latency: float
    transient: int
    transient_status: int
    retry_after: int
    drop: int
    truncate: int
    non_json: int
    fault_path: str


@dataclass
class Options:
    action: str
    host: str
    port: int
    release: str
    identity_system: str
    layout: str
    role: str
    region: str
    fqdn: str
    proxy_port: int
    identity_port: int
    for_project: str | None
    overlay_file: str | None
    single_host: bool
    state_dir: str | None
    info_file: str | None
    allow_remote: bool
    registration_delay: float
    client_certificate: list[str]
    token_lifetime: int
    verbose: bool
    keep_alive_timeout: float
    workers: int
    detach: bool
    shell: str  # env
    python: str | None  # trust
    stand_in_ca: str | None  # trust
    faults: FaultOptions


def run(options: Options) -> int:
    return ACTIONS[options.action].run(options)


def _serve(options: Options) -> int:
    import json
    from pathlib import Path

    from azs_emulator import Emulator, EmulatorConfig, FaultPlan
    from generator.operations.emulator_control import write_pid_file

    if options.detach:
        return _detach(options)
    project = None
    if options.for_project:
        from generator.operations.project_emulator import DEFAULT_OVERLAY, OVERLAY_ENV, overlay_for, project_settings

        project = Path(options.for_project).expanduser().resolve()
        release, identity_system = project_settings(project)
        options = replace(options, release=release, identity_system=identity_system)
    config = EmulatorConfig(
        host=options.host,
        port=options.port,
        release=options.release,
        identity_system=options.identity_system,
        state_dir=options.state_dir,
        allow_remote=options.allow_remote,
        registration_delay=options.registration_delay,
        token_lifetime=options.token_lifetime,
        client_certificates=[_read_text(path) for path in options.client_certificate],
        layout=options.layout,
        region=options.region,
        fqdn=options.fqdn,
        proxy_port=options.proxy_port,
        single_host=options.single_host,
        identity_port=options.identity_port,
        role=options.role,
        keep_alive_timeout=options.keep_alive_timeout,
        workers=options.workers,
        faults=FaultPlan(
            latency=options.faults.latency,
            transient=options.faults.transient,
            transient_status=options.faults.transient_status,
            retry_after=options.faults.retry_after,
            drop=options.faults.drop,
            truncate=options.faults.truncate,
            non_json=options.faults.non_json,
            path=options.faults.fault_path,
        ),
    )
    emulator = Emulator(config, verbose=options.verbose).start()
    try:
        info = emulator.info()
        if options.info_file:
            emulator.write_info(options.info_file)
        if project is not None:
            from generator._util.files import write_private_file

            overlay = Path(options.overlay_file).expanduser().resolve() if options.overlay_file else project / DEFAULT_OVERLAY
            write_private_file(overlay, json.dumps(overlay_for(emulator.info()), indent=2).encode() + b"\n")
            print(f"Emulating {project.name}'s Stack; point it here with: export {OVERLAY_ENV}={overlay}", flush=True)
        _print_emulator(info, options.info_file)
        pid_file = write_pid_file(Path(options.state_dir).expanduser()) if options.state_dir else None
    except BaseException:
        emulator.stop()
        raise
    try:
        emulator.serve_until_interrupted()
    finally:
        if pid_file is not None:
            pid_file.unlink(missing_ok=True)
    print("Emulator stopped.", flush=True)
    return 0


def _detach(options: Options) -> int:
    """``--detach``: the same emulator in the background (the command line as given, less --detach)."""
    import sys
    from pathlib import Path

    from generator.operations.emulator_control import INFO_FILE, default_state_dir, detach

    argv = sys.argv[1:]
    if "--detach" not in argv or "emulator" not in argv:
        raise UsageError("--detach works from the command line: run 'azs-scaffold emulator --detach ...'")
    state_dir = Path(options.state_dir).expanduser().resolve() if options.state_dir else default_state_dir()
    info_file = Path(options.info_file).expanduser().resolve() if options.info_file else state_dir / INFO_FILE
    serve_argv = [word for word in argv[argv.index("emulator") + 1:] if word != "--detach"]
    pid, _ = detach(serve_argv, state_dir, info_file)
    print(f"The emulator serves in the background (pid {pid}); state in {state_dir}")
    print(f"  Connection info:  {info_file} (holds the client secret; mode 0600)")
    print(f"  Point a shell at it:  eval \"$(azs-scaffold emulator env --info-file {info_file})\"")
    print(f"  A command:            azs-scaffold discover --emulator {info_file}")
    print(f"  Stop it:              azs-scaffold emulator stop --state-dir {state_dir}")
    return 0


def _env(options: Options) -> int:
    """``env``: the exports that point a shell at the emulator (its proxy; the package index and loopback spared)."""
    from generator.operations.emulator_control import INFO_FILE, default_state_dir, read_info, shell_exports

    info_file = options.info_file or str(default_state_dir() / INFO_FILE)
    print(shell_exports(read_info(info_file), options.shell))
    return 0


def _stop(options: Options) -> int:
    """``stop``: end the emulator serving --state-dir (default: the one --detach uses)."""
    from pathlib import Path

    from generator.operations.emulator_control import default_state_dir, stop

    state_dir = Path(options.state_dir).expanduser().resolve() if options.state_dir else default_state_dir()
    pid = stop(state_dir)
    print(f"Stopped the emulator (pid {pid}) of {state_dir}." if pid else f"No emulator serves {state_dir}.")
    return 0


def _print_emulator(info: dict, info_file: str | None) -> None:
    release = "global Azure" if info["release"] == "azure" else f"release {info['release']}"
    print(f"Azure Stack Hub emulator ({release}, {info['identity_system']}) listening", flush=True)
    print(f"  Resource Manager: {info['arm_endpoint']}")
    print(f"  Admin endpoint:   {info['admin_endpoint']}")
    print(f"  Root CA:          {info['root_ca']}")
    print(f"  Sign-in:          {info['identity_endpoint']} (CA: {info['identity_ca_cert']})")
    print(f"  Key vaults:       https://<vault>.{info['keyvault_dns_suffix']}/, as a vault's properties.vaultUri says "
          f"(CA: {info['keyvault_ca_cert']})")
    if info["https_proxy"]:
        print(f"  Blobs:            https://<account>.blob.{info['storage_suffix']}/, an account's primaryEndpoints.blob")
        print(f"  These names are reached through the emulator's HTTPS proxy: export HTTPS_PROXY={info['https_proxy']}")
        print("    (it refuses every other host: 'eval \"$(azs-scaffold emulator env --info-file INFO)\"' exports both, with a "
              "NO_PROXY that spares your package index)")
    if info["identity_ca_cert"] != info["root_ca"]:
        print(f"  The sign-in CA stands in for a public one: azs-scaffold's commands trust it with --emulator INFO; "
              f"for az, export REQUESTS_CA_BUNDLE={info['public_ca_bundle']}")
        print("    and in a generated project's venv: azs-scaffold emulator trust --python .venv/bin/python --info-file INFO")
    if info_file:
        print(f"  Connection info:  {info_file} (holds the client secret; mode 0600); "
              f"e.g. azs-scaffold discover --emulator {info_file}")
    else:
        print("  Add --info-file PATH to get the client id, secret and subscription as JSON.")
    print("Press Ctrl-C to stop.", flush=True)


def _trust(options: Options) -> int:
    import json
    from pathlib import Path

    from azs_emulator.info_file import with_current_keys
    from azs_emulator.venv_trust import stand_in_ca_of_info, trust_pem_in_venv

    if not options.python or not (options.info_file or options.stand_in_ca):
        raise UsageError("emulator trust needs --python (a venv's python, e.g. .venv/bin/python) and --info-file "
                         "(what azs-scaffold emulator --info-file wrote) or --stand-in-ca (the stand-in CA's PEM)")
    if options.stand_in_ca:
        ca: Path | None = Path(options.stand_in_ca).expanduser()
    else:
        info_file = options.info_file or ""
        try:
            ca = stand_in_ca_of_info(with_current_keys(json.loads(_read_user_file("--info-file", info_file))))
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"--info-file {info_file} is not an emulator's info file ({exc}); give the file azs-scaffold "
                             "emulator --info-file wrote") from None
    if ca is None:
        print("Nothing to trust: this emulator signs in with ADFS, on the Stack's own root CA, which bootstrap trusts already.")
        return 0
    print(trust_pem_in_venv(options.python, _read_user_file("--stand-in-ca" if options.stand_in_ca else "the CA file of --info-file",
                                                             str(ca)), ca))
    return 0


def _read_user_file(what: str, path: str) -> bytes:
    """A file the user named, read bounded (a regular file of at most 1 MiB: a pipe or /dev/zero is refused at once)."""
    from pathlib import Path

    from generator._util.files import read_regular_file, why_unreadable

    try:
        return read_regular_file(Path(path).expanduser(), 1024 * 1024)
    except OSError as exc:
        raise UsageError(f"{what} {path}{why_unreadable(exc)}") from None


def _read_text(path: str) -> str:
    try:
        return _read_user_file("--client-certificate", path).decode("ascii")
    except UnicodeDecodeError:
        raise UsageError(f"--client-certificate {path} is not a PEM file (not ASCII text)") from None


class Action(NamedTuple):
    summary: str
    run: Callable[[Options], int]


ACTIONS: dict[str, Action] = {
    "serve": Action("run the emulator", _serve),
    "trust": Action("add its stand-in public CA to the venv of --python", _trust),
    "env": Action("print the exports that point a shell at it (HTTPS_PROXY, NO_PROXY; --info-file, --shell)", _env),
    "stop": Action("end the emulator serving --state-dir (what --detach started)", _stop),
}
