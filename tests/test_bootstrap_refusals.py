"""The generated project's bootstrap where the project's folder cannot be written: another user's checkout
(permission denied), a read-only file system, a full disk. Each is a real failing call: bootstrap run as ``nobody``
(setpriv), or .venv on a tmpfs mounted read-only or one page large in a mount namespace of the test's own
(unshare); skipped where the machine allows neither (not root)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests import test_team_packages as team_packages
from tests.helpers import one_error

_scratch_project, _script = team_packages._scratch_project, team_packages._script


def _writable_by_nobody_to_read(tmp_path: Path) -> Path:
    """A scratch project, locked, in a folder the user ``nobody`` may read but not write (as a root-owned checkout)."""
    folder = Path(tempfile.mkdtemp(prefix="azs-nobody-"))  # /tmp itself: pytest's own folders are private to root
    folder.chmod(0o755)
    project = _scratch_project(folder / "project")
    assert _script(project, "lock.py").returncode == 0  # fresh: bootstrap goes straight to the venv
    for path in (folder, *folder.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return project


@pytest.mark.reliability
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="runs bootstrap as nobody: needs root and setpriv")
@pytest.mark.parametrize("lock_file", ["fresh", "missing"])
def test_r283_bootstrap_in_a_folder_the_user_may_not_write_says_so(tmp_path, lock_file):
    """bootstrap run by another user than the project's owner: neither the venv nor (when it must lock first)
    requirements.txt can be made, and the line says why (permission denied) and what to do, not 'install
    python3-venv', and no traceback."""
    project = _writable_by_nobody_to_read(tmp_path)
    if lock_file == "missing":
        (project / "requirements.txt").unlink()
    try:
        done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3",
                               "scripts/bootstrap.py"], cwd=project, capture_output=True, text=True, timeout=120,
                              env={"HOME": "/tmp", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    finally:
        shutil.rmtree(project.parent)
    line = one_error(done.returncode, done.stderr, "bootstrap: error: could not create")
    made = r"requirements\.txt \(\S+\)" if lock_file == "missing" else r"\S+/project/\.venv"
    assert re.search(rf"could not create {made}: permission denied; ", line), line
    assert "run it as the user who owns the project folder" in line, line
    assert "python3-venv" not in line, line


def _bootstrap_on_a_mounted_venv(project: Path, options: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """bootstrap (locked first) with .venv a tmpfs mounted with ``options``, in a mount namespace of its own: the mount
    goes with the process."""
    assert _script(project, "lock.py").returncode == 0
    (project / ".venv").mkdir()
    mounted = "mount -t tmpfs -o \"$1\" azs-test .venv && shift && exec \"$@\""
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", mounted, "sh", options, sys.executable,
                           "scripts/bootstrap.py", *args], cwd=project, capture_output=True, text=True, timeout=600, env=env)
    if "mount:" in done.stderr and "bootstrap" not in done.stderr:
        pytest.skip(f"no tmpfs mount here: {done.stderr.strip()}")
    return done


@pytest.mark.reliability
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="mounts a file system: needs root and unshare")
@pytest.mark.parametrize(("options", "said"), [("ro", "read-only file system"), ("size=4k", "no space left on the device")])
def test_r284_r285_bootstrap_on_a_read_only_or_full_file_system_says_so(tmp_path, options, said):
    """.venv on a read-only file system, or on a full one (a tmpfs of one page, mounted in a mount namespace of the
    test's own): a real EROFS / ENOSPC from the venv's creation, each said as itself."""
    project = _scratch_project(tmp_path / "project")
    done = _bootstrap_on_a_mounted_venv(project, options, dict(os.environ))
    line = one_error(done.returncode, done.stderr, "bootstrap: error: could not create")
    assert said in line and "python3-venv" not in line, line
    assert not (project / ".venv" / "bin").exists()  # the mount went with its namespace; nothing half-made is left


@pytest.mark.slow  # installs packages (or pip, with --installer pip)
@pytest.mark.reliability
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="mounts a file system: needs root and unshare")
@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_r288_the_disk_filling_up_while_installing_is_said_as_such(tmp_path, project_env, installer):
    """.venv on a tmpfs of 1 MB: the venv itself fits, the packages (uv) or pip (venv's ensurepip) do not. Said as a
    full disk, never as the package index's fault nor as python3-venv missing."""
    project = _scratch_project(tmp_path / "project")
    done = _bootstrap_on_a_mounted_venv(project, "size=1m", project_env, "--installer", installer)
    line = one_error(done.returncode, done.stderr, "bootstrap: error: ")
    assert "no space left on the device; free some space, then run again" in line, line
    assert "package index" not in line and "python3-venv" not in line, line
