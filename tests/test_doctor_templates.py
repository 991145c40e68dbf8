"""doctor's ARM template checks ("will this template deploy on my Stack?"): against the API profiles of a release,
against the capabilities ``discover --capabilities`` wrote from an emulated Stack, and against that Stack live;
each finding with its file, JSON path and fix, and none on a clean template."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

from tests.helpers import GENERATOR_COMMAND

TEMPLATES = Path(__file__).parent / "fixtures" / "arm"
SCHEMA = "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#"

# Written for a 2102 and later Stack; on 2008: a Compute api-version it does not serve, and a profile it lacks.
NEWER_THAN_2008 = {
    "$schema": SCHEMA, "contentVersion": "1.0.0.0",
    "parameters": {"size": {"type": "string", "defaultValue": "Standard_G5"}},
    "variables": {"diskUri": "https://mydisks.blob.core.windows.net/vhds/os.vhd"},
    "resources": [
        {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2016-01-01", "name": "geo", "sku": {"name": "Standard_GRS"},
         "kind": "Storage", "location": "[resourceGroup().location]"},
        {"type": "Microsoft.Compute/availabilitySets", "apiVersion": "2020-06-01", "name": "set", "location": "[resourceGroup().location]"},
        {"type": "Microsoft.Compute/virtualMachines", "apiVersion": "2017-03-30", "name": "vm", "location": "[resourceGroup().location]",
         "properties": {"hardwareProfile": {"vmSize": "[parameters('size')]"},
                        "storageProfile": {"imageReference": {"publisher": "RedHat", "offer": "RHEL", "sku": "8", "version": "latest"},
                                           "osDisk": {"createOption": "FromImage", "vhd": {"uri": "[variables('diskUri')]"}}}},
         "resources": [{"type": "extensions", "apiVersion": "2017-03-30", "name": "agent", "location": "[resourceGroup().location]",
                        "properties": {"publisher": "Microsoft.Azure.Monitor", "type": "AzureMonitorLinuxAgent",
                                       "typeHandlerVersion": "1.0"}}]},
    ],
}
PROFILED = {"$schema": SCHEMA, "contentVersion": "1.0.0.0", "apiProfile": "2020-09-01-hybrid",
            "resources": [{"type": "Microsoft.Network/virtualNetworks", "name": "net", "location": "[resourceGroup().location]",
                           "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}}]}


def _doctor(project: Path, *args: str, env: dict | None = None) -> tuple[int, list[dict], str]:
    result = subprocess.run([*GENERATOR_COMMAND, "doctor", str(project), "--json", *args], capture_output=True,
                            text=True, timeout=300, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)["findings"] if result.stdout.strip() else [], result.stderr


def _project(tmp_path: Path, **templates: dict) -> Path:
    project = tmp_path / "project"
    (project / "templates").mkdir(parents=True, exist_ok=True)
    for name, template in templates.items():
        (project / "templates" / f"{name}.json").write_text(json.dumps(template, indent=2))
    return project


def _by_where(findings: list[dict]) -> dict[str, dict]:
    return {f["where"]: f for f in findings}


def test_our_clean_templates_have_no_findings_on_either_release(tmp_path):
    project = tmp_path / "clean"
    shutil.copytree(TEMPLATES, project / "templates")
    (project / "templates" / "azuredeploy.parameters.json").write_text(json.dumps({
        "$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentParameters.json#",
        "contentVersion": "1.0.0.0", "parameters": {"prefix": {"value": "x"}}}))
    for release in ([], ["--release", "2008"], ["--release", "2108"]):
        assert _doctor(project, *release)[:2] == (0, [])


def test_an_api_version_and_a_profile_2008_does_not_serve_and_a_public_endpoint(tmp_path):
    project = _project(tmp_path, newer=NEWER_THAN_2008, profiled=PROFILED)
    code, findings, _ = _doctor(project, "--release", "2008")
    found = _by_where(findings)
    assert code == 1
    version = found["templates/newer.json resources[1].apiVersion"]
    assert "Microsoft.Compute/availabilitySets api-version 2020-06-01 is not served by a 2008 Stack" in version["problem"]
    assert version["fix"].startswith("use apiVersion 2017-12-01")
    endpoint = found["templates/newer.json variables.diskUri"]
    assert "blob.core.windows.net" in endpoint["problem"] and "primaryEndpoints.blob" in endpoint["fix"]
    profile = found["templates/profiled.json apiProfile"]
    assert "'2020-09-01-hybrid' is not supported by a 2008 Stack" in profile["problem"]
    assert "2019-03-01-hybrid" in profile["fix"]
    sku = found["templates/newer.json resources[0].sku.name"]
    assert "Standard_GRS is not offered" in sku["problem"] and sku["fix"] == "use Standard_LRS or Premium_LRS"
    # A 2108 serves both; the endpoint and the sku are wrong on every Stack.
    code, findings, _ = _doctor(project, "--release", "2108")
    assert sorted(f["where"] for f in findings) == ["templates/newer.json resources[0].sku.name", "templates/newer.json variables.diskUri"]
    # --template checks that file only
    code, findings, _ = _doctor(project, "--release", "2008", "--template", str(project / "templates" / "profiled.json"))
    assert [f["where"] for f in findings] == ["templates/profiled.json apiProfile"]


def test_capabilities_written_by_discover_check_sizes_images_extensions_offline(tmp_path, start_emulator):
    info = start_emulator(release="2008").info()
    capabilities = tmp_path / "stack.json"
    result = subprocess.run([*GENERATOR_COMMAND, "discover", "--arm-endpoint", info["arm_endpoint"], "--root-ca",
                             info["ca_cert"], "--client-id", info["client_id"], "--client-secret-env", "AZS_TEST_SECRET",
                             "--capabilities", str(capabilities)], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "AZS_TEST_SECRET": info["client_secret"]}, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(capabilities.stat().st_mode) == 0o600
    data = json.loads(capabilities.read_text())
    assert info["client_secret"] not in capabilities.read_text() + result.stdout + result.stderr
    assert {"publisher": "Canonical", "offer": "UbuntuServer", "sku": "16.04-LTS"} in data["vmImages"]
    assert "Standard_A1" in data["vmSizes"]
    assert any(e["type"] == "BGInfo" for e in data["vmExtensions"])

    project = _project(tmp_path, newer=NEWER_THAN_2008)
    shutil.copy(TEMPLATES / "scale-set-with-dns.json", project / "templates" / "clean.json")
    code, findings, _ = _doctor(project, "--capabilities", str(capabilities))
    found = _by_where(findings)
    assert not [w for w in found if "clean.json" in w]
    assert "is not served by the Stack in" in found["templates/newer.json resources[1].apiVersion"]["problem"]
    assert "VM size Standard_G5" in found["templates/newer.json resources[2].properties.hardwareProfile.vmSize"]["problem"]
    image = found["templates/newer.json resources[2].properties.storageProfile.imageReference"]
    assert "RedHat:RHEL:8" in image["problem"] and "syndicate" in image["fix"]
    extension = found["templates/newer.json resources[2].resources[0].properties.type"]
    assert "Microsoft.Azure.Monitor.AzureMonitorLinuxAgent is not offered" in extension["problem"]


def test_doctor_checks_templates_against_the_stack_it_reaches(tmp_path, start_emulator):
    info = start_emulator(release="2008").info()
    project = _project(tmp_path, newer=NEWER_THAN_2008)
    code, findings, stderr = _doctor(project, "--arm-endpoint", info["arm_endpoint"], "--root-ca", info["ca_cert"],
                                     "--client-id", info["client_id"], "--client-secret-env", "AZS_TEST_SECRET",
                                     env={"AZS_TEST_SECRET": info["client_secret"]})
    found = _by_where(findings)
    assert f"not served by the Stack at {info['arm_endpoint']}" in found["templates/newer.json resources[1].apiVersion"]["problem"]
    assert "templates/newer.json resources[2].properties.hardwareProfile.vmSize" in found


def test_a_template_option_that_names_no_template_could_not_be_examined(tmp_path):
    project = _project(tmp_path)
    (project / "data.json").write_text(json.dumps({"name": "not a template"}))
    code, findings, stderr = _doctor(project, "--template", str(project / "data.json"))
    assert code == 2 and "is not an ARM deployment template" in stderr and len(stderr.strip().splitlines()) == 1
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    code, findings, stderr = _doctor(project, "--capabilities", str(broken))
    assert code == 2 and "is not JSON" in stderr


def test_discover_capabilities_without_a_principal_is_refused_before_any_request(tmp_path):
    result = subprocess.run([*GENERATOR_COMMAND, "discover", "--arm-endpoint", "https://management.unreachable.invalid",
                             "--capabilities", str(tmp_path / "stack.json")], capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and "--capabilities needs a service principal" in result.stderr
    assert "Reading metadata" not in result.stderr and not (tmp_path / "stack.json").exists()


def test_a_stack_release_is_judged_by_what_real_stacks_served_not_only_its_profiles(tmp_path):
    # A 2019 Stack listed loadBalancers 2017-06-01 and Resource Manager up to 2018-09-01 (tests/fixtures/parity/),
    # which no profile names: Microsoft's Stack quickstarts nest deployments at 2018-09-01.
    nested = {"$schema": SCHEMA, "contentVersion": "1.0.0.0", "resources": [
        {"type": "Microsoft.Network/loadBalancers", "apiVersion": "2017-06-01", "name": "lb", "location": "[resourceGroup().location]"},
        {"type": "Microsoft.Resources/deployments", "apiVersion": "2018-09-01", "name": "inner",
         "properties": {"mode": "Incremental", "template": {"$schema": SCHEMA, "contentVersion": "1.0.0.0", "resources": []}}}]}
    project = _project(tmp_path, nested=nested)
    for release in ("2008", "2108"):
        assert _doctor(project, "--release", release)[:2] == (0, [])
    # day two: the team moves the nested deployment to a version no Stack of 2008 served
    nested["resources"][1]["apiVersion"] = "2019-05-01"
    project = _project(tmp_path, nested=nested)
    code, findings, _ = _doctor(project, "--release", "2008")
    assert code == 1 and [f["where"] for f in findings] == ["templates/nested.json resources[1].apiVersion"]
    assert findings[0]["fix"].startswith("use apiVersion 2018-09-01")
    assert _doctor(project, "--release", "2108")[:2] == (0, [])  # a 2102+ Stack served it
