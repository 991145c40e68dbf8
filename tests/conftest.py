"""Shared fixtures: emulators on loopback, and the real Azure SDK pointed at them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

from generator.emulator import Emulator, EmulatorConfig

# Trust must come from what the code under test sets up, never from the environment.
for _variable in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
    os.environ.pop(_variable, None)


@pytest.fixture
def start_emulator() -> Iterator[Callable[..., Emulator]]:
    """Start emulators with the given options (fast provider registration); all stop at teardown."""
    running: list[Emulator] = []

    def start(**options: object) -> Emulator:
        options.setdefault("registration_delay", 0.2)
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
    """Every pinned package (and what it needs) downloaded once, for the generated projects' bootstraps.

    pip's HTTP cache stores nothing on these machines, so each plain install would download again.
    """
    from generator import catalog

    directory = tmp_path_factory.mktemp("wheelhouse")
    pins = sorted({pin.requirement for name in catalog.PROFILES for pin in catalog.packages_for(catalog.DEFAULT_SAMPLES, name)})
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--only-binary=:all:",
         "-d", str(directory), *pins, "pip", "setuptools"],
        check=True, capture_output=True,
    )
    return directory


@pytest.fixture
def project_env(wheelhouse: Path) -> dict[str, str]:
    """The environment a generated project's commands run in: no CA override, packages from the wheelhouse."""
    env = {k: v for k, v in os.environ.items() if k not in CA_OVERRIDES}
    env.update(PIP_FIND_LINKS=str(wheelhouse), PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env
