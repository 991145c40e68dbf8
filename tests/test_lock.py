"""The lock of the proven set: in step with the pins, carried whole into generated projects' requirements, installed
hash-checked online and from a wheelhouse with no index, refusing a substituted file in one line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from generator import catalog
from generator.catalog import lock
from tests.helpers import GENERATOR_COMMAND, closed_port
from tests.project import bootstrap, run, venv_python

MUST_BE_HASHED = ("azure-core", "msal", "cryptography", "requests", "isodate", "typing-extensions")


def test_the_lock_and_the_pins_are_in_step():
    entries = lock.entries()
    pinned = {lock.normalize(e.package): e.version for e in entries if e.pinned}
    assert pinned == {lock.normalize(p.package): p.version for p in catalog.PINS.values()}, \
        "the lock is not the pins': run python -m generator.catalog.pins lock"
    names = {lock.normalize(e.package) for e in entries}
    for entry in entries:
        assert entry.hashes and all(h.startswith("sha256:") and len(h) == 71 for h in entry.hashes), entry.package
        assert set(entry.needed_by) <= names, f"{entry.package} is needed by a package the lock does not hold"
        assert entry.pinned or entry.needed_by, f"{entry.package} is in the lock, but neither pinned nor needed"
    assert set(MUST_BE_HASHED) <= names


def test_a_projects_share_holds_what_its_pins_need_and_nothing_of_the_other_samples():
    share = {lock.normalize(e.package) for e in catalog.locked_for(("resource_groups",), catalog.HYBRID_2020)}
    assert {"azure-mgmt-resource", "azure-identity", "azure-common", *MUST_BE_HASHED} <= share
    assert not share & {"azure-mgmt-storage", "azure-storage-blob", "msrest", "six", "azure-keyvault-secrets"}
    everything = {lock.normalize(e.package) for e in catalog.locked_for(catalog.DEFAULT_SAMPLES, catalog.HYBRID_2020)}
    assert everything == {lock.normalize(e.package) for e in lock.entries()}


def test_verify_proves_a_pin_with_the_locked_set_installed_beside_it(tmp_path):
    from generator.catalog import pins

    at_pins = [catalog.PINS[name].requirement for name in ("azure-mgmt-network", "azure-identity", "azure-common")]
    arguments = pins._install_arguments(at_pins, tmp_path / "locked.txt")
    assert arguments == ["--require-hashes", "-r", str(tmp_path / "locked.txt")]
    installed = {lock.normalize(e.package) for e in lock.parse((tmp_path / "locked.txt").read_text())}
    assert installed == {lock.normalize(e.package) for e in lock.share_of(["azure-mgmt-network", "azure-identity", "azure-common"])}
    assert {"azure-core", "msal", "isodate"} <= installed
    candidate = ["azure-mgmt-network==28.0.0", *at_pins[1:]]  # a release the lock does not hold: resolved as given
    assert pins._install_arguments(candidate, tmp_path / "other.txt") == candidate


def test_a_lock_line_that_is_not_an_entry_is_named():
    with pytest.raises(lock.LockError, match="line 2"):
        lock.parse("six==1.17.0 \\\n    --hash=sha256:abc\n")
    with pytest.raises(lock.LockError, match="no --hash"):
        lock.parse("six==1.17.0\n")


def _wheelhouse(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*GENERATOR_COMMAND, "wheelhouse", *args], capture_output=True, text=True, timeout=120)


def test_wheelhouse_refuses_what_it_cannot_fetch_for_in_one_line(tmp_path):
    unlocked = tmp_path / "unlocked"
    unlocked.mkdir()
    (unlocked / "requirements.txt").write_text("azure-identity==1.27.0\n")  # a project from before the lock
    for args, code, said in [((str(tmp_path / "missing"),), 1, "cannot read"),
                             ((str(unlocked),), 1, "is not a locked requirements file"),
                             ((str(unlocked), "--python", "3.9"), 2, "--python 3.9: the lock is for Python 3.10, 3.11, 3.12, 3.13"),
                             ((str(unlocked), "--platform", "solaris"), 2, "--platform solaris: not a platform")]:
        result = _wheelhouse(*args)
        assert result.returncode == code and "Traceback" not in result.stderr, result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("azs-scaffold: error: ") and said in line, line
    assert not (unlocked / "wheels").exists()


def test_wheelhouse_targets_evaluate_markers_for_the_target_python():
    from generator.operations.wheelhouse import PLATFORMS, Target, selected

    pycparser = {t: [e.version for e in selected(lock.entries(), Target(t, PLATFORMS["windows"])) if e.package == "pycparser"]
                 for t in lock.SUPPORTED_PYTHONS}
    assert len(set(map(tuple, pycparser.values()))) == 2 and all(len(v) == 1 for v in pycparser.values())


# -- generated projects --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack():
    """A 2108 Azure AD emulator at loopback ports: reached without any proxy, so that the installs' proxy can be closed."""
    from azs_emulator import Emulator, EmulatorConfig
    from tests.helpers import PUBLIC_CA_DIR

    with Emulator(EmulatorConfig(layout="loopback", registration_delay=0.2, public_ca_dir=PUBLIC_CA_DIR)) as emulator:
        yield emulator.info()


@pytest.fixture(scope="module")
def project(stack, template_repo, tmp_path_factory) -> Path:
    from tests.helpers import new_project

    destination = tmp_path_factory.mktemp("locked") / "project"
    new_project(stack, destination, template_repo)
    return destination


def _requirements(project: Path) -> tuple[lock.Locked, ...]:
    return lock.parse((project / "requirements.txt").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_a_generated_projects_requirements_hash_every_package(project):
    text = (project / "requirements.txt").read_text(encoding="utf-8")
    entries = _requirements(project)
    names = {lock.normalize(e.package) for e in entries}
    assert set(MUST_BE_HASHED) <= names and {"azure-core", "msal"} <= names
    # Every requirement line is an entry with hashes; nothing floats.
    requirement_lines = [line for line in text.splitlines() if line and not line.startswith(("#", " "))]
    assert len(requirement_lines) == len(entries) and all("==" in line for line in requirement_lines)
    by_name = {(e.package, e.version): e for e in lock.entries()}
    for entry in entries:
        assert entry.hashes == by_name[(entry.package, entry.version)].hashes  # exactly the lock's


def _without_an_index(env: dict[str, str], uv_cache: Path) -> dict[str, str]:
    """No way to an index: every proxy a closed port, pip told there is no index, no find-links but what is named."""
    closed = f"http://127.0.0.1:{closed_port()}"
    clean = {k: v for k, v in env.items() if not k.startswith(("PIP_", "UV_")) and k.lower() not in ("https_proxy", "http_proxy",
                                                                                                      "all_proxy", "no_proxy")}
    return {**clean, "HTTPS_PROXY": closed, "HTTP_PROXY": closed, "ALL_PROXY": closed, "NO_PROXY": "127.0.0.1",
            "PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull, "UV_CACHE_DIR": str(uv_cache)}


@pytest.fixture(scope="module")
def wheels(project) -> Path:
    """``azs-scaffold wheelhouse`` of the project: from the package index, as on a connected machine."""
    from tests.helpers import without_emulator_proxy

    result = subprocess.run([*GENERATOR_COMMAND, "wheelhouse", str(project)], capture_output=True, text=True,
                            timeout=1800, env=without_emulator_proxy())
    assert result.returncode == 0, result.stderr
    assert "holds" in result.stdout and "bootstrap.py --offline" in result.stdout
    assert (project / "wheels").is_dir() and "wheels/" in (project / ".gitignore").read_text().splitlines()
    return project / "wheels"


@pytest.mark.slow
def test_a_wheelhouse_installs_offline_with_the_index_unreachable_and_a_sample_runs(project, wheels, stack, tmp_path):
    env = _without_an_index({k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")},
                            tmp_path / "uv-cache")
    result = bootstrap(project, env, "--offline")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hashes checked) from wheels/ only" in result.stdout
    for step in ("register_providers.py", "samples/resource_groups.py"):
        ran = run(project, env, venv_python(project), step)
        assert ran.returncode == 0, ran.stdout + ran.stderr


@pytest.mark.slow
def test_the_share_is_what_the_samples_import(project, wheels, tmp_path):
    """No more, no less: the distributions the samples' imports load, and what those declare they need (for this
    Python and platform), are exactly the requirements' entries this machine installs."""
    from packaging.markers import default_environment
    from packaging.requirements import Requirement

    from generator.operations.wheelhouse import Target, _running_python, selected

    python = venv_python(project)
    if not Path(python).exists():
        env = _without_an_index({k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")},
                                tmp_path / "uv")
        assert bootstrap(project, env, "--offline").returncode == 0
    found = subprocess.run([python, "-I", "-c", _WHAT_THE_SAMPLES_LOAD, str(project / "samples")], capture_output=True,
                           text=True, timeout=300)
    assert found.returncode == 0, found.stderr
    loaded = json.loads(found.stdout)
    environment = {**default_environment(), "extra": ""}
    needed, queue = set(), [lock.normalize(name) for name in loaded["loaded"]]
    while queue:
        name = queue.pop()
        if name in needed:
            continue
        needed.add(name)
        for text in loaded["requires"].get(name, []):
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                queue.append(lock.normalize(requirement.name))
    installs_here = {lock.normalize(e.package) for e in selected(_requirements(project), Target(_running_python(), None))}
    assert needed == installs_here


# Run by the project's venv: every module the samples import (statically, wherever in the file), imported; then the
# distributions of every module loaded, and each installed distribution's declared requirements.
_WHAT_THE_SAMPLES_LOAD = r"""
import ast, importlib, importlib.metadata as md, json, pathlib, sys
folder = pathlib.Path(sys.argv[1])
sys.path.insert(0, str(folder.parent))
before = set(sys.modules)  # what site loaded (setuptools' distutils hook), not the samples
modules = set()
for path in folder.rglob("*.py"):  # the samples and their helper package (samples/azure_stack/)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            modules.add(node.module)
local = {"samples", *(path.stem for path in folder.glob("*.py")), *(path.name for path in folder.iterdir() if path.is_dir())}
for name in sorted(modules):
    if name.split(".")[0] not in sys.stdlib_module_names and name.split(".")[0] not in local:
        importlib.import_module(name)
owners = md.packages_distributions()
loaded = sorted({d for m in set(sys.modules) - before for d in owners.get(m.split(".")[0], [])})
requires = {d.metadata["Name"].lower().replace("_", "-"): d.requires or [] for d in md.distributions()}
print(json.dumps({"loaded": loaded, "requires": requires}))
"""


def _tampered_copy(wheels: Path, folder: Path, package_prefix: str) -> str:
    """A copy of the wheelhouse whose wheel of the package is changed by one added file (still a valid wheel)."""
    shutil.copytree(wheels, folder)
    (wheel,) = folder.glob(f"{package_prefix}-*.whl")
    with zipfile.ZipFile(wheel, "a") as archive:
        archive.writestr(f"{package_prefix}/injected.py", "print('not the released file')\n")
    return wheel.name


@pytest.mark.slow
@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_a_wheel_that_differs_from_the_lock_is_refused_in_one_line(project, wheels, tmp_path, installer):
    copy = tmp_path / "project"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns(".venv", "wheels"))
    changed = _tampered_copy(wheels, tmp_path / "tampered", "msal")
    env = _without_an_index(dict(os.environ), tmp_path / "uv-cache")
    result = run(copy, env, sys.executable, "scripts/bootstrap.py", "--offline", "--wheels", str(tmp_path / "tampered"),
                 "--installer", installer)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    version = next(e.version for e in lock.entries() if e.package == "msal")
    assert line.startswith(f"bootstrap: error: msal {version}: ") and "sha256 differs" in line and "substituted" in line
    if installer == "pip":
        assert changed in line
    for module in ("msal", "azure.core", "azure.identity"):  # nothing of the set was installed
        imported = run(copy, env, venv_python(copy), "-c", f"import {module}")
        assert imported.returncode != 0, module


# -- a CI runner with only a folder of wheels ----------------------------------------------------------------------



@pytest.mark.slow
def test_the_ci_definition_runs_with_only_a_folder_of_wheels(installed, emulator, tmp_path):
    """A disconnected site's CI: azs-scaffold's wheel, what it needs and the project's wheelhouse in one folder
    (AZS_WHEELS), no index reachable; the GitHub workflow's own steps install azs-scaffold and prove the project."""
    import yaml

    from tests.helpers import OFFLINE_GIT, installed_new, ok, without_emulator_proxy

    feed = tmp_path / "feed"
    (wheel,) = (installed.parents[2] / "dist").glob("azs_scaffold-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "-d", str(feed), str(wheel)],
                   check=True, capture_output=True, timeout=1200, env=without_emulator_proxy())
    shutil.copy2(wheel, feed)
    ok(installed_new(installed, tmp_path, emulator.info(), "project"))
    project = tmp_path / "project"
    ok(subprocess.run([str(installed), "wheelhouse", str(project)], capture_output=True, text=True, timeout=1800,
                       env=without_emulator_proxy()))
    for file in (project / "wheels").iterdir():
        shutil.copy2(file, feed)
    shutil.rmtree(project / "wheels")  # the feed alone serves the job

    runner = tmp_path / "runner"
    subprocess.run([sys.executable, "-m", "venv", str(runner)], check=True, timeout=300)
    runner_env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")}
    env = {**_without_an_index(runner_env, tmp_path / "uv-cache"), **OFFLINE_GIT, "AZS_WHEELS": str(feed),
           "PATH": f"{runner / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    workflow = yaml.safe_load((project / ".github" / "workflows" / "test-against-emulator.yml").read_text(encoding="utf-8"))
    assert workflow["env"]["AZS_WHEELS"] == "${{ vars.AZS_WHEELS }}"
    commands = [step["run"] for step in workflow["jobs"]["emulator"]["steps"] if "run" in step]
    assert "azs-scaffold==1000.1.0" in commands[0]
    for command in commands:
        result = subprocess.run(["bash", "-c", command], cwd=project, env=env, capture_output=True, text=True, timeout=1800,
                                stdin=subprocess.DEVNULL)
        assert result.returncode == 0, f"{command}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert "from feed/ only" in result.stdout and "Every step passed against the emulated Stack." in result.stdout
