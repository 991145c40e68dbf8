"""The team's own packages: requirements.in, locked with the proven set (constraints.txt) into requirements.txt by the
project's scripts/lock.py, brought in by bootstrap alone, refused when they would move a proven package, carried by
wheelhouse and kept through an upgrade; with the machine's corporate CA variables left set throughout."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator import catalog
from generator.catalog import lock
from tests.helpers import (
    GENERATOR_COMMAND,
    MACHINE_CA_BUNDLE,
    ROOT,
    closed_port,
    git,
    one_error,
    without_emulator_proxy,
)
from tests.project import bootstrap, run, venv_python

SCRIPTS = ROOT / "template" / "scripts"
CONFLICT = "azure-mgmt-resource>=25"


def _project_lock_module():
    spec = importlib.util.spec_from_file_location("project_lock", SCRIPTS / "lock.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _scratch_project(folder: Path) -> Path:
    """The lock's part of a generated project, without rendering one: its scripts, the proven set of one sample as
    the template writes it, the template's requirements.in, and the Stack's profile."""
    (folder / "scripts").mkdir(parents=True)
    for name in ("lock.py", "bootstrap.py"):
        shutil.copy(SCRIPTS / name, folder / "scripts" / name)
    shutil.copy(ROOT / "template" / "requirements.in", folder / "requirements.in")
    entries = catalog.locked_for(("resource_groups",), catalog.HYBRID_2020)
    (folder / "constraints.txt").write_text("# the proven set\n" + "".join(e.lines + "\n" for e in entries), encoding="utf-8")
    (folder / "stack.json").write_text('{"profile": "2020_09_01_hybrid"}', encoding="utf-8")
    return folder


def _script(project: Path, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, f"scripts/{name}", *args], cwd=project, capture_output=True, text=True,
                          timeout=300, env=env or dict(os.environ))


def _offline_uv(tmp_path: Path) -> dict[str, str]:
    """uv without any index or network: what it tells from the lock's inputs alone."""
    return {**os.environ, "UV_OFFLINE": "1", "UV_CACHE_DIR": str(tmp_path / "uv-cache"), "UV_NO_CONFIG": "1"}


def test_the_project_and_azs_scaffold_compute_one_digest():
    project_lock = _project_lock_module()
    for text in ("", "# only a comment\n", "python-dotenv\n", "  python-dotenv==1.0.1  \r\n# why\n\nrequests\n"):
        assert project_lock.digest(text) == lock.input_digest(text)
    assert lock.input_digest("# a comment\npython-dotenv\n") == lock.input_digest("python-dotenv")  # comments change nothing


def _python_3_10() -> str | None:
    """A Python 3.10 (the generated project's floor) on this machine, if there is one: on PATH, or pyenv's."""
    found = [shutil.which("python3.10"), *sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.10.*/bin/python3.10"))]
    for python in filter(None, found):
        probe = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2] == (3, 10))"], capture_output=True,
                               text=True, timeout=60)
        if probe.stdout.strip() == "True":
            return python
    return None


def test_the_templates_python_compiles_on_python_3_10():
    """Every Python file the template renders as is (scripts, the helper package, the tests) compiles on Python 3.10,
    the oldest the generated project supports (nothing written: compile(), no .pyc)."""
    python = _python_3_10()
    if python is None:
        pytest.skip("no Python 3.10 on this machine")
    files = sorted(str(p) for p in (ROOT / "template").rglob("*.py"))
    code = "import sys\nfor name in sys.argv[1:]:\n    compile(open(name, encoding='utf-8').read(), name, 'exec')"
    done = subprocess.run([python, "-c", code, *files], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and len(files) > 15, done.stderr


def test_an_empty_requirements_in_locks_to_the_proven_set_without_uv_or_index(tmp_path):
    project = _scratch_project(tmp_path / "project")
    no_uv = {**os.environ, "PATH": "/usr/bin:/bin", "PIP_NO_INDEX": "1"}
    done = subprocess.run(["/usr/bin/env", "python3", "scripts/lock.py"], cwd=project, capture_output=True, text=True,
                          env=no_uv, timeout=60)
    assert done.returncode == 0, done.stderr
    assert lock.stale_reason(project) is None  # azs-scaffold reads the lock's header as the project wrote it
    locked = lock.parse(lock.read_requirements_file(project, "requirements.txt"))
    assert [e.requirement for e in locked] == [e.requirement for e in lock.parse((project / "constraints.txt").read_text())]
    assert all(e.hashes for e in locked)
    again = _script(project, "lock.py")
    assert again.returncode == 0 and "up to date" in again.stdout


@pytest.mark.reliability
def test_a_line_that_moves_a_proven_package_is_refused_naming_it_and_nothing_is_written(tmp_path):
    project = _scratch_project(tmp_path / "project")
    assert _script(project, "lock.py").returncode == 0
    before = (project / "requirements.txt").read_bytes()
    with (project / "requirements.in").open("a") as team:
        team.write(f"{CONFLICT}\n")
    for name in ("lock.py", "bootstrap.py"):
        refused = _script(project, name, env=_offline_uv(tmp_path))
        assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
        line = refused.stderr.strip().splitlines()[-1]
        assert f"requirements.in: {CONFLICT} needs another release of azure-mgmt-resource than the proven 24.0.0" in line
        assert "profile 2020_09_01_hybrid" in line, line
        assert (project / "requirements.txt").read_bytes() == before
        assert not (project / ".venv").exists()


@pytest.mark.reliability
@pytest.mark.parametrize("line", ["git+https://github.com/theskumar/python-dotenv@v1.0.1",
                                  "python-dotenv @ git+https://github.com/theskumar/python-dotenv@v1.0.1", "-e ./tools"])
def test_r286_a_direct_reference_is_refused_with_what_the_team_can_do(tmp_path, line):
    """A git repository or an editable folder in requirements.in is no released file with a sha256: refused before uv
    runs (offline here: nothing is fetched), naming the line and what to do; then, the line taken out, it locks."""
    project = _scratch_project(tmp_path / "project")
    assert _script(project, "lock.py", env=_offline_uv(tmp_path)).returncode == 0
    locked = (project / "requirements.txt").read_bytes()
    (project / "requirements.in").write_text(f"# the team's\n{line}\n", encoding="utf-8")
    for script in ("lock.py", "bootstrap.py"):
        done = _script(project, script, env=_offline_uv(tmp_path))
        said = one_error(done.returncode, done.stderr, f"requirements.in: {line} is ")
        assert "hash-checked lock cannot pin" in said and "pip wheel --no-deps" in said and "name==version" in said, said
        assert "nothing was locked or installed" in said, said
        assert (project / "requirements.txt").read_bytes() == locked and not (project / ".venv").exists()
    (project / "requirements.in").write_text("# the team's\n", encoding="utf-8")
    assert _script(project, "lock.py", "--check", env=_offline_uv(tmp_path)).returncode == 0


@pytest.mark.reliability
def test_r287_what_uv_says_is_cut_at_a_word_with_an_ellipsis(tmp_path):
    """uv's own failure (a real one: its index a closed loopback port) is quoted from a word's start, marked '...'."""
    (tmp_path / "requirements.in").write_text("python-dotenv\n", encoding="utf-8")
    env = {**os.environ, "UV_NO_CONFIG": "1", "UV_CACHE_DIR": str(tmp_path / "uv-cache"), "UV_HTTP_RETRIES": "0",
           "UV_INDEX_URL": f"http://127.0.0.1:{closed_port()}/simple"}
    uv = _project_lock_module().find_uv()
    assert uv, "uv comes with azs-scaffold's test dependencies"
    said = subprocess.run([uv, "pip", "compile", "--quiet", "--generate-hashes", "requirements.in"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120).stderr
    flat = " ".join(said.split())
    assert len(flat) > 200, said  # long enough to be cut
    line = _project_lock_module().refusal(said, "python-dotenv\n", {})
    quoted = re.search(r"\((\.\.\..*)\); check the connection", line)
    assert quoted, line
    kept = quoted[1][3:]
    assert flat.endswith(kept) and flat[-len(kept) - 1] == " " and len(kept) <= 200, (kept, flat)


@pytest.mark.reliability
def test_r275_a_lock_a_merge_left_conflict_markers_in_is_stale_and_made_again_whole(tmp_path):
    """Two branches each relocked, merged: git leaves markers in requirements.txt, around its digest line or in its
    body, so the digest line that survives may match the inputs. The lock is stale all the same (--check says why,
    exit 1); lock.py makes it again from its inputs, whole, and then it is current."""
    project = _scratch_project(tmp_path / "project")
    def run_lock(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "scripts/lock.py", *args], cwd=project, capture_output=True, text=True,
                              env={**os.environ, "PATH": "/usr/bin:/bin"}, timeout=120)

    assert run_lock().returncode == 0
    whole = (project / "requirements.txt").read_text(encoding="utf-8")
    body = whole.splitlines(keepends=True)
    first = next(i for i, line in enumerate(body) if "==" in line)
    theirs = body[first].replace("==", "==0.0.0+theirs")
    merged = [*body[:first], "<<<<<<< HEAD\n", body[first], "=======\n", theirs, ">>>>>>> theirs\n", *body[first + 1:]]
    (project / "requirements.txt").write_text("".join(merged), encoding="utf-8")

    check = run_lock("--check")
    assert check.returncode == 1 and "conflict markers" in check.stdout + check.stderr, check.stdout + check.stderr
    assert run_lock().returncode == 0
    assert (project / "requirements.txt").read_text(encoding="utf-8") == whole
    assert run_lock("--check").returncode == 0


@pytest.mark.reliability
def test_locking_a_team_line_without_uv_says_where_uv_comes_from(tmp_path):
    project = _scratch_project(tmp_path / "project")
    (project / "requirements.in").write_text("python-dotenv\n")
    done = subprocess.run(["/usr/bin/env", "python3", "scripts/lock.py"], cwd=project, capture_output=True, text=True,
                          env={**os.environ, "PATH": "/usr/bin:/bin"}, timeout=60)
    assert done.returncode == 1 and not (project / "requirements.txt").exists()
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("lock: error: locking requirements.in needs uv") and "pipx install uv" in line


@pytest.mark.reliability
def test_offline_a_stale_lock_names_lock_py_and_check_says_so(tmp_path):
    project = _scratch_project(tmp_path / "project")
    assert _script(project, "lock.py").returncode == 0
    with (project / "requirements.in").open("a") as team:
        team.write("python-dotenv\n")
    offline = _script(project, "bootstrap.py", "--offline")
    assert offline.returncode == 1
    (line,) = offline.stderr.strip().splitlines()
    assert "requirements.in changed since requirements.txt was locked" in line and "python scripts/lock.py" in line
    assert not (project / ".venv").exists()
    check = _script(project, "lock.py", "--check")
    assert check.returncode == 1 and "python scripts/lock.py" in check.stdout


@pytest.mark.reliability
def test_wheelhouse_and_doctor_know_a_stale_lock(tmp_path):
    project = _scratch_project(tmp_path / "project")
    assert _script(project, "lock.py").returncode == 0
    (project / "requirements.in").write_text("python-dotenv\nazure-mgmt-compute\n")  # no pin: not a finding in .in
    stale = subprocess.run([*GENERATOR_COMMAND, "wheelhouse", str(project)], capture_output=True, text=True, timeout=120)
    assert stale.returncode == 1
    (line,) = stale.stderr.strip().splitlines()
    assert "requirements.in changed" in line and "python scripts/lock.py" in line
    doctor = subprocess.run([*GENERATOR_COMMAND, "doctor", str(project), "--json"], capture_output=True, text=True, timeout=120)
    import json

    findings = json.loads(doctor.stdout)["findings"]
    assert [f["where"] for f in findings] == ["requirements.txt"], findings
    assert "stale" in findings[0]["problem"] and "scripts/lock.py" in findings[0]["fix"]


# -- a generated project, for real (the package index, the machine's corporate CA variables left set) ----------------

def _corporate(env: dict[str, str]) -> dict[str, str]:
    """A workstation behind a TLS-inspecting proxy: every CA variable names the machine's bundle, the index's trust."""
    if not MACHINE_CA_BUNDLE:
        pytest.skip("this machine sets no CA bundle variable")
    return {**without_emulator_proxy(env), **dict.fromkeys(("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE",
                                                                 "PIP_CERT"), MACHINE_CA_BUNDLE)}


def _certificates(pem: str) -> set[str]:
    return {"".join(block.split()) for block in re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", pem, re.DOTALL)}


@pytest.fixture(scope="module")
def stack():
    """A 2108 emulator at loopback addresses: no proxy between the project and it, nor between it and the index."""
    from azs_emulator import Emulator, EmulatorConfig
    from tests.helpers import PUBLIC_CA_DIR

    with Emulator(EmulatorConfig(layout="loopback", registration_delay=0.2, public_ca_dir=PUBLIC_CA_DIR)) as emulator:
        yield emulator.info()


@pytest.mark.slow
def test_a_team_package_comes_in_through_requirements_in_and_bootstrap(stack, template_repo, tmp_path, uv_cache):
    from tests.helpers import new_project

    project = tmp_path / "project"
    new_project(stack, project, template_repo, samples=("resource_groups",))
    assert lock.stale_reason(project) is None and "python-dotenv" not in (project / "requirements.txt").read_text()
    env = {**_corporate(dict(os.environ)), "UV_CACHE_DIR": str(uv_cache)}
    with (project / "requirements.in").open("a") as team:
        team.write("python-dotenv\n")

    first = bootstrap(project, env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Locking first: requirements.in changed" in first.stdout and "(python-dotenv)" in first.stdout
    assert "Creating the virtual environment .venv with uv" in first.stdout
    assert "uv = " in (project / ".venv" / "pyvenv.cfg").read_text()  # uv made it (no ensurepip) ...
    assert not list((project / ".venv").glob("lib/python*/site-packages/pip")), "... and put no pip in it"
    locked = {lock.normalize(e.package): e for e in lock.parse((project / "requirements.txt").read_text())}
    assert locked["python-dotenv"].hashes and locked["azure-mgmt-resource"].version == "24.0.0"
    imported = run(project, env, venv_python(project), "-c", "import dotenv, sys; print(dotenv.__file__)")
    assert imported.returncode == 0 and imported.stdout.startswith(str(project / ".venv")), imported.stderr
    # The project's own bundle: certifi, the Stack's root and every CA of the user's bundle (the corporate one).
    bundle = _certificates((project / ".venv" / "azs-ca-bundle.pem").read_text())
    assert _certificates((project / "certs" / "azure-stack-root.pem").read_text()) <= bundle
    assert _certificates(Path(MACHINE_CA_BUNDLE).read_text()) <= bundle

    lock_before = (project / "requirements.txt").read_bytes()
    again = bootstrap(project, env)
    assert again.returncode == 0 and "Locking" not in again.stdout, again.stdout + again.stderr
    assert (project / "requirements.txt").read_bytes() == lock_before

    wheels = subprocess.run([*GENERATOR_COMMAND, "wheelhouse", str(project)], capture_output=True, text=True, timeout=1800,
                            env=env)
    assert wheels.returncode == 0, wheels.stderr
    assert list((project / "wheels").glob("python_dotenv-*.whl"))


def _committed_with_a_team_package(info: dict, project: Path, template_repo: Path, index: dict[str, str]) -> Path:
    """A project of one sample whose team locked python-dotenv (with the index) and committed it all."""
    from tests.helpers import new_project

    new_project(info, project, template_repo, samples=("resource_groups",))
    (project / "requirements.in").write_text("python-dotenv\n")
    locked = _script(project, "lock.py", env={**without_emulator_proxy(), **index, "NO_PROXY": index["NO_PROXY"]})
    assert locked.returncode == 0, locked.stderr
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "generated, with the team's package")
    return project


@pytest.mark.slow
def test_an_upgrade_keeps_the_team_package_locked(template_repo, tmp_path, uv_cache):
    from azs_emulator import Emulator, EmulatorConfig
    from tests.helpers import EMULATOR_PROXY_PORT, PUBLIC_CA_DIR, run_cli

    def start(release: str) -> Emulator:
        """The same Stack (its state and names) at another release, as tests/test_upgrade.py upgrades one."""
        return Emulator(EmulatorConfig(release=release, state_dir=str(tmp_path / "state"), registration_delay=0.2,
                                       public_ca_dir=PUBLIC_CA_DIR, proxy_port=EMULATOR_PROXY_PORT)).start()

    index = {"UV_CACHE_DIR": str(uv_cache), "SSL_CERT_FILE": MACHINE_CA_BUNDLE or "",
             "NO_PROXY": os.environ.get("NO_PROXY", "") + ",pypi.org,files.pythonhosted.org"}  # the index direct, as installs go
    emulator = start("2008")
    try:
        project = _committed_with_a_team_package(emulator.info(), tmp_path / "project", template_repo, index)
        proven_2008 = (project / "constraints.txt").read_text()
    finally:
        emulator.stop()
    emulator = start("2108")
    try:
        done = run_cli("upgrade", str(project), "--yes", "--trust", "--vcs-ref", "HEAD", env=index)
        assert done.returncode == 0, done.stderr
    finally:
        emulator.stop()
    assert (project / "requirements.in").read_text() == "python-dotenv\n"
    assert (project / "constraints.txt").read_text() != proven_2008
    assert lock.stale_reason(project) is None, "the upgrade left the lock stale"
    locked = {lock.normalize(e.package): e for e in lock.parse((project / "requirements.txt").read_text())}
    proven = {lock.normalize(e.package): e for e in lock.parse((project / "constraints.txt").read_text())}
    assert "python-dotenv" in locked and all(locked[name].version == entry.version for name, entry in proven.items())


@pytest.mark.reliability
def test_r196_an_installer_option_in_the_lock_is_refused_before_anything_is_fetched(tmp_path):
    project = _scratch_project(tmp_path / "project")
    assert _script(project, "lock.py").returncode == 0
    locked = (project / "requirements.txt").read_text()
    (project / "requirements.txt").write_text("--find-links http://127.0.0.1:9/links\n" + locked)
    for options in (("--offline", "--installer", "pip"), ()):
        result = _script(project, "bootstrap.py", *options)
        assert result.returncode == 1
        (line,) = result.stderr.strip().splitlines()
        assert "requirements.txt holds an installer option (--find-links)" in line, line
        assert not (project / ".venv").exists()


@pytest.mark.slow
def test_an_upgrade_that_changes_the_proven_set_relocks_the_team_package_without_conflict(template_repo, tmp_path, uv_cache):
    """upgrade --samples (a new sample: the proven set gains packages) in a project whose team locked a package of
    its own: requirements.txt is the lock task's, never a three-way merge of two locks (which conflicts on the
    header's digest line and leaves markers that bootstrap's uv cannot read). Review dayfour, finding 1."""
    from azs_emulator import Emulator, EmulatorConfig
    from tests.helpers import EMULATOR_PROXY_PORT, PUBLIC_CA_DIR, run_cli

    index = {"UV_CACHE_DIR": str(uv_cache), "SSL_CERT_FILE": MACHINE_CA_BUNDLE or "",
             "NO_PROXY": os.environ.get("NO_PROXY", "") + ",pypi.org,files.pythonhosted.org"}
    emulator = Emulator(EmulatorConfig(state_dir=str(tmp_path / "state"), registration_delay=0.2,
                                       public_ca_dir=PUBLIC_CA_DIR, proxy_port=EMULATOR_PROXY_PORT)).start()
    try:
        project = _committed_with_a_team_package(emulator.info(), tmp_path / "project", template_repo, index)
        done = run_cli("upgrade", str(project), "--samples", "resource_groups,storage_accounts", "--yes", "--trust",
                       "--vcs-ref", "HEAD", env=index)
    finally:
        emulator.stop()
    assert done.returncode == 0, done.stderr
    text = (project / "requirements.txt").read_text()
    assert "<<<<<<<" not in text and "Conflicts" not in done.stdout, done.stdout
    assert lock.stale_reason(project) is None, "the upgrade left the lock stale"
    locked = {lock.normalize(e.package) for e in lock.parse(text)}
    assert {"python-dotenv", "azure-mgmt-storage"} <= locked
