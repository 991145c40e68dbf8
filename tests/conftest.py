"""Shared fixtures: emulators on loopback, and the real Azure SDK pointed at them."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

from generator.emulator import Emulator, EmulatorConfig

# Trust must come from what the code under test sets up, never from the environment...
_MACHINE_CA_BUNDLE = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
for _variable in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
    os.environ.pop(_variable, None)


def _public_trust() -> tuple[str, str]:
    """...except the public CAs: the machine's (its bundle, else certifi's) plus one stand-in for the CA behind
    login.microsoftonline.com, shared by every emulator of the session (their Azure AD sign-in listeners)."""
    import tempfile

    import certifi

    from generator.emulator.certificates import PUBLIC_COMMON_NAME, create_root_ca

    directory = Path(tempfile.mkdtemp(prefix="azs-tests-public-ca-"))
    ca = create_root_ca(common_name=PUBLIC_COMMON_NAME)
    (directory / "public-ca.pem").write_bytes(ca.cert_pem)
    (directory / "public-ca.key").write_bytes(ca.key_pem)
    (directory / "public-ca.key").chmod(0o600)
    bundle = directory / "public-bundle.pem"
    machine = Path(_MACHINE_CA_BUNDLE or certifi.where()).read_bytes()
    bundle.write_bytes(machine.rstrip(b"\n") + b"\n" + ca.cert_pem)
    return str(directory), str(bundle)


PUBLIC_CA_DIR, PUBLIC_CA_BUNDLE = _public_trust()
PUBLIC_CA_CERT = str(Path(PUBLIC_CA_DIR) / "public-ca.pem")
# What the machine's certifi holds: the generator (in this process and the CLIs it starts) trusts it.
os.environ["REQUESTS_CA_BUNDLE"] = PUBLIC_CA_BUNDLE


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Emulators answer under a Stack's names (management.local.azurestack.external, ...), reached as a user reaches them:
# through the emulator's HTTPS proxy, named by HTTPS_PROXY. They run one at a time, each on this port, so this
# process and every command it starts reach whichever runs. Loopback addresses (the loopback layout) go direct.
EMULATOR_PROXY_PORT = _free_port()
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy")
for _variable in PROXY_VARIABLES:
    os.environ.pop(_variable, None)
os.environ.update(HTTPS_PROXY=f"http://127.0.0.1:{EMULATOR_PROXY_PORT}", NO_PROXY="127.0.0.1,localhost,::1")


def without_emulator_proxy(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) for a command that needs the package index: the emulator's proxy refuses
    every host but the Stack's, so installs never go through it."""
    return {k: v for k, v in (os.environ if env is None else env).items() if k not in PROXY_VARIABLES}


@pytest.fixture
def start_emulator() -> Iterator[Callable[..., Emulator]]:
    """Start emulators with the given options (fast provider registration); all stop at teardown."""
    running: list[Emulator] = []

    def start(**options: object) -> Emulator:
        options.setdefault("registration_delay", 0.2)
        options.setdefault("public_ca_dir", PUBLIC_CA_DIR)
        options.setdefault("proxy_port", EMULATOR_PROXY_PORT)
        emulator = Emulator(EmulatorConfig(**options)).start()  # type: ignore[arg-type]
        running.append(emulator)
        return emulator

    yield start
    for emulator in running:
        emulator.stop()


@pytest.fixture
def emulator(start_emulator: Callable[..., Emulator]) -> Emulator:
    """A 2108 Azure AD emulator."""
    return start_emulator()


ROOT = Path(__file__).resolve().parent.parent
CA_OVERRIDES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")


@pytest.fixture(scope="session", autouse=True)
def isolated_git(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Git (which copier runs) with a config of its own: no user settings leak in or out."""
    home = tmp_path_factory.mktemp("git-home")
    config = home / "gitconfig"
    config.write_text("[user]\n\tname = azs-scaffold tests\n\temail = tests@azs-scaffold.invalid\n[init]\n\tdefaultBranch = main\n")
    os.environ.update(GIT_CONFIG_GLOBAL=str(config), GIT_CONFIG_NOSYSTEM="1")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository of the working tree as it is now (uncommitted changes included)."""
    repo = tmp_path_factory.mktemp("template-repo")
    files = git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "template under test")
    return repo


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole lock's files for this machine, downloaded once (hashes checked, as ``azs-scaffold wheelhouse`` does),
    for the generated projects' bootstraps; and pip and setuptools, for the tests that install without the lock.

    pip's HTTP cache stores nothing on these machines, so each plain install would download again. The files are
    the index's own: bootstrap checks every one against the lock. A venv trusts the emulators' stand-in public CA
    only when a test says so (tests/project.py: ``bootstrap``), as ``azs-scaffold emulator trust`` does for users.
    """
    from generator import lock
    from generator.wheelhouse import Target, _running_python, download_locked

    directory = tmp_path_factory.mktemp("wheelhouse")
    with _environment(without_emulator_proxy()):
        download_locked(lock.entries(), [Target(_running_python(), None)], directory, progress=lambda message: None)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--only-binary=:all:",
         "-d", str(directory), "pip", "setuptools"],
        check=True, capture_output=True, env=without_emulator_proxy(),
    )
    return directory


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """While inside, this process's environment is ``env`` (the commands it starts inherit it)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """uv's cache for the session: nothing from earlier runs on this machine can leak in."""
    return tmp_path_factory.mktemp("uv-cache")


@pytest.fixture
def project_env(wheelhouse: Path, uv_cache: Path) -> dict[str, str]:
    """The environment a generated project's commands run in: no CA override, packages from the wheelhouse
    (pip and uv alike: bootstrap hands uv pip's settings)."""
    env = {k: v for k, v in os.environ.items() if k not in CA_OVERRIDES}
    env.update(PIP_FIND_LINKS=str(wheelhouse), PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", UV_CACHE_DIR=str(uv_cache))
    return env
