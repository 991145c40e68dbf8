"""Shared fixtures: emulators on loopback, and the real Azure SDK pointed at them."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from azs_emulator import Emulator, EmulatorConfig
from tests.helpers import (
    EMULATOR_PROXY_PORT,
    NEW,
    NEW_LINE,
    OLD,
    PUBLIC_CA_DIR,
    clean_clone,
    copy_working_tree,
    git,
    project_environment,
    session_environment,
    without_emulator_proxy,
)


@pytest.fixture(scope="session", autouse=True)
def isolated_environment() -> Iterator[None]:
    """The session's environment (tests/helpers.py: ``session_environment``): trust only from what the code under
    test sets up (plus the public CAs a machine's certifi holds), and the emulators' proxy; restored at the end."""
    saved = dict(os.environ)
    for name, value in session_environment().items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    yield
    os.environ.clear()
    os.environ.update(saved)


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


@pytest.fixture(scope="session", autouse=True)
def isolated_git(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Git (which copier runs) with a config of its own: no user settings leak in or out."""
    home = tmp_path_factory.mktemp("git-home")
    config = home / "gitconfig"
    config.write_text("[user]\n\tname = azs-scaffold tests\n\temail = tests@azs-scaffold.invalid\n[init]\n\tdefaultBranch = main\n")
    os.environ.update(GIT_CONFIG_GLOBAL=str(config), GIT_CONFIG_NOSYSTEM="1")


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository of the template in the working tree as it is now (uncommitted changes included): copier.yml
    and template/, what copier reads (the rest of the checkout, six times as many files, copier would clone and check
    out for every render, and an upgrade's several times over)."""
    repo = tmp_path_factory.mktemp("template-repo")
    copy_working_tree(repo, only=("copier.yml", "template/"))
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
    from generator.catalog import lock
    from generator.operations.wheelhouse import Target, _running_python, download_locked

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
    """The environment a generated project's commands run in (tests/helpers.py: ``project_environment``)."""
    return project_environment(wheelhouse, uv_cache)


# -- azs-scaffold as users install it -----------------------------------------------------------------------

@pytest.fixture(scope="session")
def release_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The clone, released twice: OLD, then NEW with a changed template."""
    repo = clean_clone(tmp_path_factory.mktemp("release") / "azs-scaffold")
    git(repo, "tag", "-a", OLD, "-m", OLD)
    with (repo / "template" / "README.md.jinja").open("a", encoding="utf-8") as readme:
        readme.write(f"\n{NEW_LINE}\n")
    git(repo, "commit", "-qam", "template change for the next release")
    git(repo, "tag", "-a", NEW, "-m", NEW)
    return repo


@pytest.fixture(scope="session")
def installed(release_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``azs-scaffold`` command of a fresh venv holding only the wheel built from ``release_repo``."""
    base = tmp_path_factory.mktemp("installed")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(base / "dist"), str(release_repo)],
                   check=True, capture_output=True, timeout=600, env=without_emulator_proxy())
    (wheel,) = (base / "dist").glob("*.whl")
    assert wheel.name.startswith("azs_scaffold-1000.1.0-"), wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    assert "generator/_template/copier.yml" in names and "generator/_template/azs-scaffold-template.bundle" in names
    subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True, timeout=300)
    subprocess.run([str(base / "venv" / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(wheel)],
                   check=True, capture_output=True, timeout=900, env=without_emulator_proxy())
    return base / "venv" / "bin" / "azs-scaffold"


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working directory with no checkout above it."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


# -- the fast run installs nothing ------------------------------------------------------------------------------

INSTALLING_FIXTURES = ("wheelhouse",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Plain ``pytest`` installs no package: a test that needs the session's wheelhouse (to bootstrap a project or
    install into a venv) must be marked ``slow``, so that the fast run's selection leaves it out. Refused at
    collection, naming each test, rather than found by the clock."""
    unmarked = sorted(item.nodeid for item in items
                      if set(INSTALLING_FIXTURES) & set(getattr(item, "fixturenames", ())) and item.get_closest_marker("slow") is None)
    if unmarked:
        raise pytest.UsageError("these tests install packages but are not marked slow: " + ", ".join(unmarked))
