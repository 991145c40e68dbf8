"""azs-scaffold doctor: hand-written projects, one finding each, a sample-style project with several,
a generated project with none, and --fix whose output installs and clears the requirement findings."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from generator import catalog
from tests.test_template import _new

RESOURCE = catalog.PINS["azure-mgmt-resource"]


def _project(root: Path, requirements: str = "", code: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if requirements:
        (root / "requirements.txt").write_text(textwrap.dedent(requirements).lstrip())
    if code:
        (root / "app.py").write_text(textwrap.dedent(code).lstrip())
    return root


def _doctor(project: Path, *args: str) -> tuple[int, dict]:
    result = subprocess.run([sys.executable, "-m", "generator", "doctor", str(project), "--json", *args],
                            capture_output=True, text=True, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout) if result.stdout.strip() else {}


GOOD_CODE = f"""
    from azure.identity import ClientSecretCredential
    from azure.mgmt.resource import ResourceManagementClient
    from azure.profiles import KnownProfiles

    credential = ClientSecretCredential("adfs", "id", "secret", authority="https://adfs.local.azurestack.external",
                                        disable_instance_discovery=True)
    client = ResourceManagementClient(credential, "sub", base_url="https://management.local.azurestack.external",
                                      credential_scopes=["https://management.adfs.azurestack.local/x/.default"],
                                      profile=KnownProfiles.v2020_09_01_hybrid)
"""
GOOD_REQUIREMENTS = f"{RESOURCE.requirement}\nazure-common==1.1.28\nazure-identity==1.27.0\n"


@pytest.mark.parametrize(("requirements", "code", "where", "fragment"), [
    ("azure-mgmt-resource\nazure-common\n", GOOD_CODE, "requirements.txt:1", "is not pinned"),
    ("azure-mgmt-resource==25.0.0\nazure-common\n", GOOD_CODE, "requirements.txt:1", "newer than the last release"),
    ("azure-mgmt-resource==10.0.0\nazure-common\n", GOOD_CODE, "requirements.txt:1", "track 1 release"),
    (f"{RESOURCE.requirement}\n", GOOD_CODE, "app.py:3", "azure-common"),
    (GOOD_REQUIREMENTS + "msrestazure\n", GOOD_CODE, "requirements.txt:4", "msrestazure is retired"),
    (GOOD_REQUIREMENTS, GOOD_CODE.replace('local.azurestack.external",\n', 'local.azurestack.external/adfs",\n', 1), "app.py:5",
     "ends in /adfs"),
    (GOOD_REQUIREMENTS, GOOD_CODE.replace(",\n                                        disable_instance_discovery=True)", ")"), "app.py:5",
     "without disable_instance_discovery"),
    (GOOD_REQUIREMENTS, GOOD_CODE.replace('base_url="https://management.local.azurestack.external",\n', ""), "app.py:7",
     "without base_url"),
    (GOOD_REQUIREMENTS, GOOD_CODE.replace('credential_scopes=["https://management.adfs.azurestack.local/x/.default"],\n', ""),
     "app.py:7", "without credential_scopes"),
    (GOOD_REQUIREMENTS, GOOD_CODE.replace(",\n                                      profile=KnownProfiles.v2020_09_01_hybrid", ""), "app.py:7",
     "without profile="),
    (GOOD_REQUIREMENTS, "from msrestazure.azure_active_directory import AADTokenCredentials\n", "app.py:1", "retired"),
])
def test_each_problem_is_named_where_it_is_with_its_fix(tmp_path, requirements, code, where, fragment):
    code_, report = _doctor(_project(tmp_path / "p", requirements, code))
    assert code_ == 1
    matching = [f for f in report["findings"] if fragment in f["problem"]]
    assert matching and matching[0]["where"] == where and matching[0]["fix"], report


def test_a_clean_hand_written_project_has_no_findings(tmp_path):
    assert _doctor(_project(tmp_path / "p", GOOD_REQUIREMENTS, GOOD_CODE)) == (0, {"project": str(tmp_path / "p"), "findings": []})


SAMPLE_STYLE = """
    import os
    from azure.identity import ClientSecretCredential
    from azure.mgmt.resource import ResourceManagementClient
    from azure.profiles import KnownProfiles


    def get_credential(config):
        # written the way many adapted hybrid samples are: the ADFS authority with /adfs, no instance-discovery switch
        return ClientSecretCredential(config["tenantId"], config["clientId"], config["clientSecret"],
                                      authority=config["authority"] + "/adfs" if config.get("adfs") else config["authority"])


    def run(config):
        client = ResourceManagementClient(get_credential(config), config["subscriptionId"],
                                          profile=KnownProfiles.v2019_03_01_hybrid)
        for group in client.resource_groups.list():
            print(group.name)
"""


def test_a_sample_style_project_gets_each_of_its_problems(tmp_path, start_emulator):
    project = _project(tmp_path / "sample", "azure-mgmt-resource\nazure-identity\nmsrestazure\n", SAMPLE_STYLE)
    info = start_emulator(stack_version="2108").info()
    code, report = _doctor(project, "--arm-endpoint", info["arm_endpoint"], "--ca-cert", info["ca_cert"], "--stack-version", "2108")
    problems = "\n".join(f"{f['where']} {f['problem']}" for f in report["findings"])
    assert code == 1
    for expected in ("requirements.txt:1 azure-mgmt-resource is not pinned", "msrestazure is retired",
                     "azure-common", "without disable_instance_discovery", "without base_url", "without credential_scopes",
                     "KnownProfiles.v2019_03_01_hybrid; the Stack at"):
        assert expected in problems, problems


def test_a_generated_project_has_no_findings(start_emulator, template_repo, tmp_path):
    info = start_emulator().info()
    project = tmp_path / "generated"
    _new(info, project, template_repo)
    code, report = _doctor(project)
    assert (code, report["findings"]) == (0, [])


def test_fix_writes_pins_that_install_and_clear_the_requirement_findings(tmp_path, project_env):
    project = _project(tmp_path / "p", "azure-mgmt-resource\nazure-identity\n", GOOD_CODE)
    result = subprocess.run([sys.executable, "-m", "generator", "doctor", str(project), "--fix"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 1 and "+azure-mgmt-resource==" in result.stdout and "Wrote" in result.stdout, result.stdout
    assert (project / "app.py").read_text() == textwrap.dedent(GOOD_CODE).lstrip()  # code never edited
    install = subprocess.run([sys.executable, "-m", "venv", str(project / ".venv")], capture_output=True)
    assert install.returncode == 0
    pip = subprocess.run([str(project / ".venv/bin/python"), "-m", "pip", "install", "-q", "-r", "requirements.txt"], cwd=project,
                         env=project_env, capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr
    assert _doctor(project) == (0, {"project": str(project), "findings": []})


def test_a_project_that_is_not_a_folder_could_not_be_examined(tmp_path):
    result = subprocess.run([sys.executable, "-m", "generator", "doctor", str(tmp_path / "missing")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and "is not a directory" in result.stderr and "Traceback" not in result.stderr
