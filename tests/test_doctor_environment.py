"""doctor on a project's installed environment (``.venv`` read on disk, or ``--python``): what the code cannot start
without against what is installed, in a generated project against its lock; every finding names the importing file
and line."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

from generator import catalog
from tests.helpers import new_project
from tests.test_doctor import GOOD_CODE, GOOD_REQUIREMENTS, RESOURCE, _doctor, _project, _run


def _fake_venv(project: Path, marker: Path, versions: dict[str, str]) -> None:
    """A .venv whose Python and whose .pth file each leave ``marker`` if anything runs them."""
    venv = project / ".venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(f"#!/bin/sh\ntouch {marker}.python\nexec {sys.executable} \"$@\"\n")
    python.chmod(0o755)
    site = venv / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    (site / "zz-run-me.pth").write_text(f"import pathlib; pathlib.Path({str(marker) + '.pth'!r}).touch()\n")
    for name, version in versions.items():
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


@pytest.mark.reliability
def test_r121_doctor_reads_the_venv_on_disk_and_runs_it_only_when_asked(tmp_path):
    project = _project(tmp_path / "p", GOOD_REQUIREMENTS, GOOD_CODE)
    marker = tmp_path / "ran"
    _fake_venv(project, marker, {"azure-mgmt-resource": "25.0.0", "azure-common": "1.1.28", "azure-identity": "1.27.0"})
    code, report = _doctor(project)
    assert code == 1, report
    (finding,) = report["findings"]
    assert finding["where"] == "app.py:2", finding  # the import of it
    assert "azure-mgmt-resource 25.0.0 is installed in environment .venv (read on disk)" in finding["problem"], finding
    assert not Path(f"{marker}.python").exists() and not Path(f"{marker}.pth").exists()  # nothing of the venv ran
    # --python runs the Python it names, and says so
    result = _run(str(project), "--python", str(project / ".venv/bin/python"))
    assert Path(f"{marker}.python").exists() and "Running " in result.stderr and "--python" in result.stderr, result.stderr


def _install_on_disk(project: Path, locked: list[list[str]]) -> Path:
    """The project's .venv holding ``locked`` ([name, version] each) as bootstrap leaves it: metadata on disk."""
    site_packages = project / ".venv" / "lib" / "python3.11" / "site-packages"
    for name, version in locked:
        dist_info = site_packages / f"{name.replace('-', '_')}-{version}.dist-info"
        dist_info.mkdir(parents=True)
        (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return site_packages


@pytest.mark.reliability
def test_a_generated_project_with_its_lock_installed_has_no_findings(start_emulator, template_repo, tmp_path):
    """A project generated with one sample, its .venv holding exactly its lock (metadata on disk, as bootstrap
    leaves it): the helper package's lazy imports of other samples' packages (samples/azure_stack/clients.py:
    azure.keyvault.secrets, azure.storage.blob inside functions) are no finding. (Review dayfour, finding 3.)
    Then the lock decides: a top-level import of a package it does not hold, and a locked package missing from the
    .venv, are findings that name the file and line and send the team to requirements.in and bootstrap."""
    info = start_emulator().info()
    project = tmp_path / "generated"
    new_project(info, project, template_repo, samples=["resource_groups"])
    locked = [line.split(" ")[0].split("==") for line in (project / "requirements.txt").read_text().splitlines()
              if "==" in line and not line.startswith(("#", " "))]
    site_packages = _install_on_disk(project, locked)
    code, report = _doctor(project)
    assert (code, report["findings"]) == (0, []), report
    # day two: the team imports the blob client at the top of a module of its own, and the .venv loses a package
    (project / "samples" / "archive.py").write_text('"""Archive."""\n\nfrom azure.storage.blob import BlobServiceClient\n')
    shutil.rmtree(next(site_packages.glob("azure_mgmt_resource-*.dist-info")))
    code, report = _doctor(project)
    assert code == 1, report
    by_where = {finding["where"]: finding for finding in report["findings"]}
    blob = by_where.pop("samples/archive.py:3")
    assert "azure-storage-blob is imported but the lock (requirements.txt) does not hold it" in blob["problem"], blob
    assert blob["fix"].startswith(f"add {catalog.PINS['azure-storage-blob'].requirement} (the release proven with the Stack) "
                                  "to requirements.in, then python scripts/bootstrap.py"), blob
    ((where, missing),) = by_where.items()
    line = int(where.removeprefix("requirements.txt:"))
    assert (project / "requirements.txt").read_text().splitlines()[line - 1].startswith("azure-mgmt-resource=="), where
    assert "is locked but not installed in environment .venv (read on disk)" in missing["problem"], missing
    assert re.search(r"\(imported at [\w/]+\.py:\d+\)$", missing["problem"]) and missing["fix"].startswith("python scripts/bootstrap.py"), missing


@pytest.mark.parametrize(("code", "where"), [
    ("import os\n\nimport azure.mgmt.resource\n", "app.py:3"),  # before: where was "environment .venv (read on disk)"
    ("class Deployer:\n    from azure.mgmt.resource import ResourceManagementClient\n", "app.py:2"),
    ("try:\n    from azure.mgmt.resource import ResourceManagementClient\nexcept KeyError:\n    pass\n", "app.py:2"),
])
@pytest.mark.reliability
def test_r291_a_top_level_import_of_a_package_not_installed_is_found_with_its_file_and_line(tmp_path, code, where):
    project = _project(tmp_path / "p", GOOD_REQUIREMENTS, code)
    _fake_venv(project, tmp_path / "ran", {"azure-common": "1.1.28", "azure-identity": "1.27.0"})
    status, report = _doctor(project)
    assert status == 1, report
    (finding,) = report["findings"]
    assert (finding["where"], finding["problem"], finding["fix"]) == (
        where, "azure-mgmt-resource is imported but not installed in environment .venv (read on disk)",
        f"install {RESOURCE.requirement}"), finding


@pytest.mark.parametrize("code", [
    "def client():\n    from azure.mgmt.resource import ResourceManagementClient\n    return ResourceManagementClient\n",
    "try:\n    import azure.mgmt.resource\nexcept ImportError:\n    azure = None\n",
    "try:\n    import azure.mgmt.resource\nexcept (ValueError, ModuleNotFoundError):\n    azure = None\n",
    "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from azure.mgmt.resource import ResourceManagementClient\n",
])
@pytest.mark.reliability
def test_r291_an_import_the_module_starts_without_needs_no_install(tmp_path, code):
    """A lazy import (inside a function), one guarded by except ImportError, or one for the type checker only: the
    module starts without the package, so not having it installed is no finding."""
    project = _project(tmp_path / "p", GOOD_REQUIREMENTS, code)
    _fake_venv(project, tmp_path / "ran", {"azure-common": "1.1.28", "azure-identity": "1.27.0"})
    status, report = _doctor(project)
    assert (status, report["findings"]) == (0, []), report
