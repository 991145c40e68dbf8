"""What the tests share: the session's trust and proxy, the CLI run as a user runs it, projects made through the
library, and watchers. Fixtures live in conftest.py; no test module imports another."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
CA_OVERRIDES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy")
# The machine's own CA bundle (a corporate workstation's), read before the session's fixture clears the variables:
# trust must come from what the code under test sets up, never from the environment.
MACHINE_CA_BUNDLE = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")


# The session's public trust is made once, by the first process that imports this module (pytest's), and named to
# the processes it starts in this variable: they (pytest-xdist's workers, scripts importing these helpers) use it
# rather than making their own. Its maker removes it when it exits.
PUBLIC_CA_VARIABLE = "AZS_TESTS_PUBLIC_CA_DIR"


def _public_trust() -> tuple[str, str]:
    """The public CAs: the machine's (its bundle, else certifi's) plus one stand-in for the CA behind
    login.microsoftonline.com, shared by every emulator of the session (their Azure AD sign-in listeners)."""
    inherited = os.environ.get(PUBLIC_CA_VARIABLE)
    if inherited and (Path(inherited) / "public-bundle.pem").is_file():
        return inherited, str(Path(inherited) / "public-bundle.pem")

    import atexit
    import tempfile

    import certifi

    from azs_emulator.certificates import PUBLIC_COMMON_NAME, create_root_ca

    directory = Path(tempfile.mkdtemp(prefix="azs-tests-public-ca-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)  # it holds a private key: never left behind
    ca = create_root_ca(common_name=PUBLIC_COMMON_NAME)
    (directory / "public-ca.pem").write_bytes(ca.cert_pem)
    key = directory / "public-ca.key"
    key.touch(mode=0o600)  # private before its first byte
    key.write_bytes(ca.key_pem)
    bundle = directory / "public-bundle.pem"
    machine = Path(MACHINE_CA_BUNDLE or certifi.where()).read_bytes()
    bundle.write_bytes(machine.rstrip(b"\n") + b"\n" + ca.cert_pem)
    os.environ[PUBLIC_CA_VARIABLE] = str(directory)
    return str(directory), str(bundle)


PUBLIC_CA_DIR, PUBLIC_CA_BUNDLE = _public_trust()
PUBLIC_CA_CERT = str(Path(PUBLIC_CA_DIR) / "public-ca.pem")


def _proxy_port() -> int:
    """A free port below the kernel's ephemeral range, for the emulators' proxy.

    Emulators come and go on this one port, so between two of them it lies unbound: a port from the ephemeral range
    could meanwhile be handed to an outgoing connection (any on the machine), and the next emulator could not listen.
    Drawn at random, so that sessions (and pytest-xdist's workers) side by side do not draw the same one."""
    import random
    import socket

    try:
        ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral = 32768
    draw = random.SystemRandom()
    for _ in range(100):
        port = draw.randrange(max(1024, ephemeral - 10000), max(1025, ephemeral))
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port for the emulators' proxy below {ephemeral}")


# Emulators answer under a Stack's names (management.local.azurestack.external, ...), reached as a user reaches them:
# through the emulator's HTTPS proxy, named by HTTPS_PROXY. They run one at a time, each on this port, so this
# process and every command it starts reach whichever runs. Loopback addresses (the loopback layout) go direct.
EMULATOR_PROXY_PORT = _proxy_port()


def session_environment() -> dict[str, str | None]:
    """The variables the session sets (None: removed): no CA override but the public bundle (what a machine's
    certifi holds), and the emulators' proxy for the Stack's names."""
    changes: dict[str, str | None] = {name: None for name in (*CA_OVERRIDES, *PROXY_VARIABLES)}
    changes.update(REQUESTS_CA_BUNDLE=PUBLIC_CA_BUNDLE, HTTPS_PROXY=f"http://127.0.0.1:{EMULATOR_PROXY_PORT}",
                   NO_PROXY="127.0.0.1,localhost,::1")
    return changes


def without_emulator_proxy(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) for a command that needs the package index: the emulator's proxy refuses
    every host but the Stack's, so installs never go through it."""
    return {k: v for k, v in (os.environ if env is None else env).items() if k not in PROXY_VARIABLES}


def project_environment(wheelhouse: Path, uv_cache: Path) -> dict[str, str]:
    """The environment a generated project's commands run in: no CA override, packages from ``wheelhouse`` (pip and
    uv alike: bootstrap hands uv pip's settings), uv's cache of the session."""
    env = {k: v for k, v in os.environ.items() if k not in CA_OVERRIDES}
    env.update(PIP_FIND_LINKS=str(wheelhouse), PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", UV_CACHE_DIR=str(uv_cache))
    return env


_HELD_PORTS: list[Any] = []  # the sockets that hold closed_port()'s ports, closed when the session ends


def closed_port() -> int:
    """A loopback port that refuses every connection: bound and never listening, held until the session ends, so no
    other process (another session's emulator) can start listening there meanwhile."""
    import atexit
    import socket

    if not _HELD_PORTS:
        atexit.register(lambda: [held.close() for held in _HELD_PORTS])
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    _HELD_PORTS.append(probe)
    return probe.getsockname()[1]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def readme_command(label: str) -> str:
    """The command block of README.md under ``<!-- label -->``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- {label} -->\s*```(?:sh|bash)?\n(.+?)\n```", text, re.DOTALL)
    assert match, f"README has no {label} block"
    return match.group(1).strip()


# -- the command line, as a user runs it ---------------------------------------------------------------------

# How every test runs azs-scaffold's command line: as ``python -m generator`` of the Python running the tests.
GENERATOR_COMMAND = (sys.executable, "-m", "generator")


def run_cli(*args: str, env: dict[str, str] | None = None, base_env: dict[str, str] | None = None, timeout: float = 300,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m generator ARGS`` in a process of its own, with no terminal; ``env`` adds to this process's
    environment (or to ``base_env``, which replaces it)."""
    return subprocess.run([*GENERATOR_COMMAND, *args], capture_output=True, text=True, cwd=cwd,
                          env={**(os.environ if base_env is None else base_env), **(env or {})}, stdin=subprocess.DEVNULL,
                          timeout=timeout)


def cli(*args: str, env: dict | None = None, timeout: float = 120, base_env: dict | None = None) -> tuple[int, str, str]:
    """:func:`run_cli` as (exit code, stdout, stderr)."""
    result = run_cli(*args, env=env, base_env=base_env, timeout=timeout)
    return result.returncode, result.stdout, result.stderr


def one_error(code: int, stderr: str, fragment: str) -> str:
    """Assert a failure that reads as one line (progress lines aside) containing ``fragment``."""
    assert code != 0 and "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.strip() and not line.startswith("  ")]
    assert len(errors) == 1, stderr
    assert fragment in errors[0], errors[0]
    return errors[0]


def set_faults(info: dict, **plan: Any) -> None:
    """The emulator's fault plan (docs/emulator.md); no arguments clear it."""
    requests.put(f"{info['arm_endpoint']}_emulator/faults", json=plan, verify=info["ca_cert"], timeout=10).raise_for_status()


def with_credentials(info: dict) -> tuple[list[str], dict]:
    """The options and environment that sign in as the emulator's service principal."""
    return ["--client-id", info["client_id"], "--client-secret-env", "AZS_R_SECRET"], {"AZS_R_SECRET": info["client_secret"]}


def discover(info: dict, *extra: str, env: dict | None = None) -> tuple[int, str, str]:
    return cli("discover", "--arm-endpoint", info["arm_endpoint"], "--root-ca", info["ca_cert"], *extra, env=env)


def new_args(info: dict, destination: Path, *extra: str) -> tuple[list[str], dict]:
    """The arguments and environment of ``new DESTINATION`` for the emulator ``info`` describes, asking nothing."""
    args, env = with_credentials(info)
    return ["new", str(destination), "--arm-endpoint", info["arm_endpoint"], "--root-ca", info["ca_cert"], *args,
            "--non-interactive", "--vcs-ref", "HEAD", *extra], env


# -- projects made through the library -----------------------------------------------------------------------

def new_project(info: dict, destination: Path, template_repo: Path, **options: Any) -> Any:
    """A project for the emulator ``info`` describes, rendered by ``run_new``; the discovery it used."""
    from generator.discovery import DiscoveryRequest, ServicePrincipal
    from generator.operations.render import NewProject, run_new

    options.setdefault("vcs_ref", "HEAD")
    request = NewProject(
        destination=str(destination),
        discovery=DiscoveryRequest(
            arm_endpoint=info["arm_endpoint"], root_ca=info["root_ca"],
            principal=ServicePrincipal(info["client_id"], client_secret=info["client_secret"]),
        ),
        template=str(template_repo),
        **options,
    )
    return run_new(request)[1]


def two_template_versions(repo: Path, old_commit: str, template_repo: Path) -> Path:
    """A template repository at ``repo``: v1.0.0 is this repository's ``old_commit``, v2.0.0 the template under test
    (``template_repo``), so that an upgrade runs copier across a real release (and its migrations run)."""
    import pytest

    if git(ROOT, "rev-parse", "--is-shallow-repository").strip() == "true":
        pytest.fail("a shallow clone lacks the commit of the older template; test from a full clone")
    repo.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", old_commit], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(repo)], input=archive.stdout, check=True)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"the template of {old_commit}")
    git(repo, "tag", "v1.0.0")
    for entry in repo.iterdir():
        if entry.name != ".git":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    shutil.copytree(template_repo, repo, ignore=shutil.ignore_patterns(".git"), dirs_exist_ok=True)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "the template under test")
    git(repo, "tag", "v2.0.0")
    return repo


# -- watchers -------------------------------------------------------------------------------------------------

SP_FILE = "azureSecretSpConfig.json"


class ModeWatcher:
    """Polls every file named SP_FILE under ``root`` (staging folders included) while a run goes on;
    records each sighting that held the secret while readable by group or others."""

    def __init__(self, root: Path, secret: str) -> None:
        self.root, self.secret = root, secret.encode()
        self.exposed: list[str] = []
        self.sightings = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            # os.walk passes over folders that vanish mid-walk (copier's scratch clones do).
            found = [Path(folder) / SP_FILE for folder, _, files in os.walk(self.root) if SP_FILE in files]
            for path in found:
                try:
                    # Mode and content from one open file: a path can be renamed over between two calls.
                    with path.open("rb") as handle:
                        mode = os.fstat(handle.fileno()).st_mode
                        data = handle.read()
                except OSError:
                    continue
                self.sightings += 1
                if self.secret in data and mode & (stat.S_IRWXG | stat.S_IRWXO):
                    self.exposed.append(f"{path} {oct(mode)}")

    def __enter__(self) -> ModeWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class Terminal:
    """A command in a pseudo-terminal that answers as a terminal does, and is typed at only when it listens.

    copier's prompts (prompt_toolkit) ask the terminal where the cursor is (``ESC[6n``) as each question starts and,
    unanswered, wait on a timeout and then draw differently: how a run went would hang on the machine's load. Every
    :meth:`expect` answers those requests, in order, and waits on what the program shows, never on time."""

    CURSOR_POSITION_REQUEST = re.escape("\x1b[6n")

    def __init__(self, command: str, args: list[str], timeout: float = 60) -> None:
        import io

        import pexpect

        self.child = pexpect.spawn(command, args, encoding="utf-8", timeout=timeout, dimensions=(50, 200))
        self.transcript = io.StringIO()
        self.child.logfile_read = self.transcript

    def expect(self, *patterns: Any, timeout: float = -1) -> int:
        """Wait for the first of ``patterns`` (regular expressions, or pexpect.EOF) to be shown; its index."""
        while True:
            index = self.child.expect([self.CURSOR_POSITION_REQUEST, *patterns], timeout=timeout)
            if index:
                return index - 1
            self._report_the_cursor()

    def _report_the_cursor(self) -> None:
        self.child.send("\x1b[1;1R")  # the cursor's row and column, as a terminal reports them

    def answer(self, prompt: str, typed: str, *, new_question: bool = True) -> None:
        """Wait for the question ``prompt``, then type ``typed`` over what it offers (empty: take the offer) and Enter.

        A new question is the next one to start (its cursor request) showing ``prompt``: words of the question before
        it (a choice named "Client secret") do not count, and nothing is typed while no prompt reads the keys (the
        terminal would echo them). ``new_question=False``: words the question being asked shows (its validator's)."""
        if new_question:
            self.child.expect(self.CURSOR_POSITION_REQUEST)
            self._report_the_cursor()
        self.expect(prompt)
        self.child.send("\x15" + typed + "\r" if typed else "\r")  # Ctrl-U clears what the prompt offered

    def answer_line(self, prompt: str, line: str) -> None:
        """Wait for ``prompt`` of a line-reading prompt (``input``, ``getpass``: the terminal keeps what is typed
        until it is read), then type ``line`` and Enter."""
        self.expect(prompt)
        self.child.sendline(line)

    def finish(self, timeout: float = 120) -> int:
        """Wait for the command to end; its exit status."""
        import pexpect

        self.expect(pexpect.EOF, timeout=timeout)
        self.child.close()
        return self.child.exitstatus


# -- azs-scaffold as users install it (tests/test_installed.py, tests/test_lock.py) -------------------------------

OLD, NEW = "v1000.0.0", "v1000.1.0"
NEW_LINE = "This line arrived with release 1000.1.0."
OFFLINE_GIT = {"GIT_ALLOW_PROTOCOL": "file"}


def working_tree_files() -> set[str]:
    """The files of this checkout as they are now: tracked ones and new ones git does not ignore."""
    listed = git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
    return {name for name in listed if name and (ROOT / name).is_file()}


def copy_working_tree(destination: Path, only: tuple[str, ...] = ()) -> set[str]:
    """Copy :func:`working_tree_files` (those whose path starts with one of ``only``, if given) into ``destination``
    (uncommitted changes included); the names copied."""
    wanted = {name for name in working_tree_files() if not only or name.startswith(only)}
    for name in wanted:
        (destination / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, destination / name)
    return wanted


def clean_clone(destination: Path) -> Path:
    """A clone of this repository with the working tree's changes committed (none, on CI's fresh clone)."""
    git(ROOT, "clone", "-q", str(ROOT), str(destination))
    wanted = copy_working_tree(destination)
    for name in filter(None, git(destination, "ls-files", "-z").split("\0")):
        if name not in wanted:
            (destination / name).unlink()
    git(destination, "add", "-A")
    if git(destination, "status", "--porcelain").strip():
        git(destination, "commit", "-qm", "working tree under test")
    return destination


def installed_cli(command: Path, cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **OFFLINE_GIT, **(env or {})}
    return subprocess.run([str(command), *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"{result.args}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def installed_new(command: Path, cwd: Path, info: dict, destination: str, *extra: str) -> subprocess.CompletedProcess:
    return installed_cli(command, cwd, "new", destination, "--arm-endpoint", info["arm_endpoint"], "--root-ca", info["ca_cert"],
                "--client-id", info["client_id"], "--client-secret-env", "AZS_SECRET", "--samples", "resource_groups",
                "--non-interactive", *extra, env={"AZS_SECRET": info["client_secret"]})
