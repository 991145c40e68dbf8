"""Pointing a shell or a command at a running emulator, and running one in the background.

- :func:`shell_exports`: what ``azs-scaffold emulator env`` prints: ``HTTPS_PROXY`` (the emulator's proxy) and a
  ``NO_PROXY`` that keeps loopback and the package index off it, and nothing that replaces the machine's trust.
- :func:`detach` / :func:`stop`: ``emulator --detach`` returns once the emulator serves, with its pid in the state
  directory (``emulator.pid``); ``emulator stop`` ends it.
- :func:`read_info`: an info file, read as every user's file is (a regular file, size-capped), and
  :func:`emulator_stack`: what ``new``, ``discover`` and ``doctor --emulator F`` take from it (endpoint, CAs, client id
  and secret: the secret never on a command line), with requests sent through the emulator's proxy.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from generator._util.files import HeldElsewhere, held_alone, read_regular_file, why_unreadable, write_private_file
from generator.errors import UsageError

PID_FILE = "emulator.pid"
LOG_FILE = "emulator.log"
LAUNCH_LOCK = "launch.lock"  # held while one launch starts the emulator (detach)
INFO_FILE = "info.json"
_INFO_LIMIT = 64 * 1024
_INFO_KEYS = ("arm_endpoint", "root_ca", "client_id", "client_secret", "public_ca_bundle", "https_proxy")
# The package index's hosts pip and uv use unless configured otherwise.
_DEFAULT_INDEX_HOSTS = ("pypi.org", "files.pythonhosted.org")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_INDEX_VARIABLES = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_DEFAULT_INDEX",
                    "UV_INDEX", "PIP_TRUSTED_HOST")
SHELLS = ("sh", "fish", "powershell", "cmd")


def default_state_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where a background emulator keeps its state unless told: ``$XDG_STATE_HOME/azs-scaffold/emulator``."""
    base = environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "azs-scaffold" / "emulator"


def read_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The connection facts an emulator wrote with ``--info-file`` (or ``--detach``), checked to be one."""
    where = Path(path).expanduser()
    try:
        data = json.loads(read_regular_file(where, _INFO_LIMIT))
    except OSError as exc:
        raise UsageError(f"emulator info file {path}{why_unreadable(exc)}; give the file 'azs-scaffold emulator "
                         "--info-file F' (or --detach) wrote") from None
    except ValueError:
        raise UsageError(f"emulator info file {path} is not JSON; give the file 'azs-scaffold emulator --info-file F' wrote") from None
    from azs_emulator.info_file import with_current_keys

    data = with_current_keys(data) if isinstance(data, dict) else data
    missing = [key for key in _INFO_KEYS if not isinstance(data, dict) or key not in data]
    if missing:
        raise UsageError(f"emulator info file {path} lacks {', '.join(missing)}; give the file 'azs-scaffold emulator "
                         "--info-file F' wrote (an emulator of this azs-scaffold)")
    return data


def index_hosts(environ: Mapping[str, str] = os.environ) -> list[str]:
    """The package index's hosts: pip's and uv's defaults, those the environment names, and those of pip's config
    files (so installs never go through the emulator's proxy, which refuses every host but the Stack's)."""
    urls = [word for name in _INDEX_VARIABLES for word in environ.get(name, "").split()]
    parser = configparser.ConfigParser(interpolation=None)
    for config in _pip_config_files(environ):
        try:
            parser.read_string(read_regular_file(config, _INFO_LIMIT).decode("utf-8", "replace"))
        except (OSError, configparser.Error):
            continue
    for section in parser.sections():
        for key in ("index-url", "extra-index-url", "trusted-host"):
            urls += parser.get(section, key, fallback="").split()
    hosts = list(_DEFAULT_INDEX_HOSTS)
    for url in urls:
        url = url.split("=", 1)[-1] if "//" in url.split("=", 1)[-1] else url  # uv's UV_INDEX: name=url
        host = (urlsplit(url).hostname if "//" in url else url.split(":", 1)[0]) or ""
        if host and host not in hosts:
            hosts.append(host)
    return hosts


def _pip_config_files(environ: Mapping[str, str]) -> list[Path]:
    home = Path(os.path.expanduser("~"))
    files = [Path("/etc/pip.conf"), Path(environ.get("XDG_CONFIG_HOME") or home / ".config") / "pip" / "pip.conf",
             home / ".pip" / "pip.conf"]
    if environ.get("PIP_CONFIG_FILE"):
        files.append(Path(environ["PIP_CONFIG_FILE"]))
    if environ.get("VIRTUAL_ENV"):
        files.append(Path(environ["VIRTUAL_ENV"]) / "pip.conf")
    return [path for path in files if path.is_file()]


def no_proxy_for(environ: Mapping[str, str] = os.environ) -> str:
    """The user's NO_PROXY entries, then loopback and the package index's hosts (each once)."""
    entries: list[str] = []
    for entry in [*(environ.get("NO_PROXY") or environ.get("no_proxy") or "").split(","), *_LOOPBACK, *index_hosts(environ)]:
        if entry.strip() and entry.strip() not in entries:
            entries.append(entry.strip())
    return ",".join(entries)


def shell_exports(info: Mapping[str, Any], shell: str = "sh", environ: Mapping[str, str] = os.environ) -> str:
    """The lines that point a shell at the emulator: its proxy, and a NO_PROXY sparing loopback and the package index.
    Trust is left as the machine has it: the CAs are for the commands (``--emulator F``), not the shell."""
    proxy = info.get("https_proxy")
    if not proxy:
        raise UsageError("this emulator serves the loopback layout, which needs no proxy: its endpoints are at "
                         f"{info.get('arm_endpoint')} (nothing to export)")
    settings = {"HTTPS_PROXY": str(proxy), "NO_PROXY": no_proxy_for(environ)}
    lines = []
    previous = environ.get("HTTPS_PROXY") or environ.get("https_proxy")
    if previous and previous != proxy:
        lines.append(f"your HTTPS_PROXY ({previous}) is replaced in this shell; hosts in NO_PROXY (the package index) "
                     "are then reached directly")
    comment = "REM " if shell == "cmd" else "# "
    out = [comment + line for line in lines]
    for name, value in settings.items():
        if shell == "fish":
            out.append(f"set -gx {name} {shlex.quote(value)}")
        elif shell == "powershell":
            out.append(f"$env:{name} = '{value.replace(chr(39), chr(39) * 2)}'")
        elif shell == "cmd":
            out.append(f"set {name}={value}")
        else:
            out.append(f"export {name}={shlex.quote(value)}")
    return "\n".join(out)


@dataclass(frozen=True)
class EmulatorStack:
    """What a command takes from an emulator's info file: where its Resource Manager is, what to trust, who signs in."""

    arm_endpoint: str
    root_ca: str
    public_ca_bundle: str  # the machine's public CAs plus the emulator's stand-in for Azure AD's public CA
    principal: Any  # generator.discovery.ServicePrincipal, its secret from the file (never from a command line)


_entered: dict[str, EmulatorStack] = {}


def entered(info_file: str) -> EmulatorStack:
    """The stack of ``info_file`` while :func:`emulator_stack` holds it."""
    return _entered[info_file]


@contextlib.contextmanager
def emulator_stack(info_file: str) -> Iterator[EmulatorStack]:
    """The emulator ``info_file`` describes, while its proxy carries this process's HTTPS requests (loopback and the
    package index spared). Its public bundle is the machine's own (``REQUESTS_CA_BUNDLE``, ``SSL_CERT_FILE`` or
    certifi's) plus the CA standing in for Azure AD's public one: trust is added to, never replaced."""
    from azs_emulator.proxy import through_proxy
    from generator.discovery import ServicePrincipal
    from generator.discovery.trust import MAX_CA_FILE_BYTES, public_ca_bundle, read_ca_pem

    info = read_info(info_file)
    principal = ServicePrincipal.from_credentials(str(info["client_id"]), secret=str(info["client_secret"]))
    with tempfile.TemporaryDirectory(prefix="azs-emulator-trust-") as folder:
        public = public_ca_bundle()
        try:
            pem = read_regular_file(Path(public), 16 * MAX_CA_FILE_BYTES).rstrip(b"\n") + b"\n"
        except OSError as exc:
            raise UsageError(f"the public CA bundle {public}{why_unreadable(exc)}; check REQUESTS_CA_BUNDLE / SSL_CERT_FILE") from None
        identity_ca = str(info.get("identity_ca_cert") or info["root_ca"])
        if identity_ca != info["root_ca"]:
            pem += read_ca_pem(identity_ca).encode()
        bundle = Path(folder) / "public-bundle.pem"
        write_private_file(bundle, pem)
        _entered[info_file] = EmulatorStack(str(info["arm_endpoint"]), str(info["root_ca"]), str(bundle), principal)
        try:
            with through_proxy(info.get("https_proxy"), no_proxy=no_proxy_for()):
                yield _entered[info_file]
        finally:
            del _entered[info_file]


# -- a background emulator ---------------------------------------------------------------------------

def _running_pid(state_dir: Path) -> int | None:
    """The pid in the state directory's pid file, if that process still runs."""
    try:
        pid = int(read_regular_file(state_dir / PID_FILE, 64).decode().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def write_pid_file(state_dir: Path) -> Path:
    """Record this process as the emulator serving ``state_dir`` (once it serves)."""
    path = state_dir / PID_FILE
    write_private_file(path, f"{os.getpid()}\n".encode())
    return path


def detach(serve_argv: Sequence[str], state_dir: Path, info_file: Path, wait_seconds: float = 120.0) -> tuple[int, str]:
    """Start ``azs-scaffold emulator`` with ``serve_argv`` in the background (its own session, its output in the
    state directory's log) and return (pid, first lines of its output) once it serves; refuses a state directory
    an emulator already serves, or one another launch is starting (its pid file and log are that launch's alone)."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        with held_alone(state_dir / LAUNCH_LOCK):
            return _launch(serve_argv, state_dir, info_file, wait_seconds)
    except HeldElsewhere:
        raise UsageError(f"another azs-scaffold is starting an emulator on {state_dir} right now; use that one, or stop "
                         f"it with 'azs-scaffold emulator stop --state-dir {state_dir}'") from None


def _launch(serve_argv: Sequence[str], state_dir: Path, info_file: Path, wait_seconds: float) -> tuple[int, str]:
    running = _running_pid(state_dir)
    if running is not None:
        raise UsageError(f"an emulator (pid {running}) already serves {state_dir}; stop it with 'azs-scaffold emulator "
                         f"stop --state-dir {state_dir}', or give another --state-dir")
    (state_dir / PID_FILE).unlink(missing_ok=True)
    log = state_dir / LOG_FILE
    write_private_file(log, b"")
    command = [sys.executable, "-m", "generator", "emulator", *serve_argv, "--state-dir", str(state_dir),
               "--info-file", str(info_file)]
    with open(log, "ab") as output:
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                 start_new_session=True, close_fds=True)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if _running_pid(state_dir) == child.pid:
            return child.pid, log.read_text(errors="replace")
        if child.poll() is not None:
            lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
            raise UsageError(f"the emulator did not start: {lines[-1] if lines else f'it exited with {child.returncode}'} "
                             f"(its output: {log})")
        time.sleep(0.1)
    child.terminate()
    raise UsageError(f"the emulator did not serve within {wait_seconds:.0f} s; its output is in {log}")


def stop(state_dir: Path, wait_seconds: float = 30.0) -> int | None:
    """End the emulator serving ``state_dir`` (SIGTERM, as Ctrl-C); its pid, or None when none ran."""
    pid = _running_pid(state_dir)
    if pid is None:
        (state_dir / PID_FILE).unlink(missing_ok=True)
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if _running_pid(state_dir) != pid:
            return pid
        time.sleep(0.1)
    raise UsageError(f"the emulator (pid {pid}) did not stop within {wait_seconds:.0f} s; end it with kill {pid}")
