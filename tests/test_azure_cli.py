"""Azure CLI 2.66.0 - the last release with Stack profiles, a client nobody here wrote - runs a Stack user's
documented flow against the emulator, as Microsoft documents it (cloud register/set/update --profile,
login with a service principal, then groups, providers, storage, networks, resources, deployments, Key Vault
and virtual machines). Marked ``external``: it installs azure-cli into a throw-away venv (about 10 s with
uv's cache, a minute without) and takes one to two minutes per Stack.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from generator._util.files import write_private_file
from tests import sdk
from tests.helpers import MACHINE_CA_BUNDLE, without_emulator_proxy

pytestmark = [pytest.mark.external, pytest.mark.slow]

AZURE_CLI = "azure-cli==2.66.0"
# (release, identity system, the az profile Microsoft documents for it, api-version of Microsoft.Network)
STACKS = [
    ("2108", "azure_ad", "2020-09-01-hybrid", "2018-11-01"),
    ("2108", "adfs", "2020-09-01-hybrid", "2018-11-01"),
    ("2008", "azure_ad", "2019-03-01-hybrid", "2017-10-01"),
]


@pytest.fixture(scope="session")
def az_executable(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """azure-cli 2.66.0 in a venv of its own, installed with uv (pip when uv is missing)."""
    venv = tmp_path_factory.mktemp("azure-cli") / "venv"
    # The package index is reached through the machine's trust (a proxy's CA, say), not the tests' bundle.
    env = {**without_emulator_proxy(), **({"SSL_CERT_FILE": MACHINE_CA_BUNDLE} if MACHINE_CA_BUNDLE else {})}
    uv = Path(sys.executable).with_name("uv")
    uv_command = str(uv) if uv.exists() else shutil.which("uv")
    if uv_command:
        subprocess.run([uv_command, "venv", "-q", "-p", sys.executable, str(venv)], check=True, env=env)
        subprocess.run([uv_command, "pip", "install", "-q", "-p", str(venv / "bin" / "python"), AZURE_CLI], check=True,
                       timeout=900, env=env)
    else:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", AZURE_CLI], check=True, timeout=1800, env=env)
    return venv / "bin" / "az"


class AzureCli:
    """One user's az: its own config folder, trusting certifi's CAs plus the Stack's root (additive)."""

    def __init__(self, executable: Path, home: Path, info: dict[str, Any]) -> None:
        self.executable = executable
        bundle = home / "ca-bundle.pem"
        bundle.write_bytes(Path(info["public_ca_bundle"]).read_bytes() + b"\n" + Path(info["ca_cert"]).read_bytes())
        self.env = {
            **os.environ,
            "AZURE_CONFIG_DIR": str(home / "azure"),
            "REQUESTS_CA_BUNDLE": str(bundle),
            "AZURE_CORE_COLLECT_TELEMETRY": "false",
            "AZURE_CORE_NO_COLOR": "true",
            "AZURE_CORE_ONLY_SHOW_ERRORS": "true",
        }
        self.env.pop("SSL_CERT_FILE", None)
        self.env.pop("CURL_CA_BUNDLE", None)

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Any:
        result = subprocess.run([str(self.executable), *args, "-o", "json"], env={**self.env, **(env or {})}, capture_output=True,
                                text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, f"az {' '.join(args)} failed:\n{result.stderr[-3000:]}"
        return json.loads(result.stdout) if result.stdout.strip() else None

    def fails(self, *args: str) -> str:
        """Run az where it must fail; its error output."""
        result = subprocess.run([str(self.executable), *args, "-o", "json"], env=self.env, capture_output=True, text=True,
                                timeout=300, stdin=subprocess.DEVNULL)
        assert result.returncode != 0, f"az {' '.join(args)} succeeded"
        return result.stderr


def _field(assignment: dict[str, Any], name: str) -> Any:
    """A role assignment's field: top-level in newer api-versions, under ``properties`` in 2015-07-01."""
    return assignment.get(name) or assignment["properties"][name]


def _template(network_version: str) -> dict[str, Any]:
    return {
        "$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "parameters": {"name": {"type": "string", "defaultValue": "tplvnet"}},
        "variables": {"prefix": "10.9.0.0/16"},
        "resources": [{"type": "Microsoft.Network/virtualNetworks", "apiVersion": network_version, "name": "[parameters('name')]",
                       "location": "[resourceGroup().location]",
                       "properties": {"addressSpace": {"addressPrefixes": ["[variables('prefix')]"]}}}],
        "outputs": {"vnetId": {"type": "string", "value": "[resourceId('Microsoft.Network/virtualNetworks', parameters('name'))]"}},
    }


@pytest.mark.parametrize(("release", "identity", "profile", "network_version"), STACKS)
def test_a_stack_users_documented_az_flow(start_emulator, az_executable, tmp_path, release, identity, profile, network_version):
    info = start_emulator(release=release, identity_system=identity).info()
    az = AzureCli(az_executable, tmp_path, info)
    secret_file = tmp_path / "secret"
    write_private_file(secret_file, info["client_secret"].encode())  # az reads @file: the secret is never an argument
    # The Stack's own names, reached through the emulator's proxy (HTTPS_PROXY), as a Stack behind a proxy is.
    assert info["arm_endpoint"] == "https://management.local.azurestack.external/"

    # Microsoft's steps: register the Stack as a cloud, choose its profile, sign in as the service principal.
    # The directory az 2.66 asks for names in role assignments: Microsoft Graph for Azure AD, the Stack's graph for ADFS.
    graph = "https://graph.local.azurestack.external/" if identity == "adfs" else "https://graph.microsoft.com/"
    az("cloud", "register", "-n", "AzureStackUser", "--endpoint-resource-manager", info["arm_endpoint"],
       "--suffix-storage-endpoint", info["storage_suffix"], "--suffix-keyvault-dns", f".{info['keyvault_dns_suffix']}")
    az("cloud", "set", "-n", "AzureStackUser")
    az("cloud", "update", "--cloud-config", json.dumps({"endpoints": {"microsoftGraphResourceId": graph}}))
    az("cloud", "update", "--profile", profile)
    # The tenant's GUID for both identity systems (az 2.66 with --tenant adfs asks for /adfs/adfs/...: its bug).
    # --password=@FILE, joined: az reads the file, and a secret beginning with '-' would otherwise be taken for an option.
    accounts = az("login", "--service-principal", "-u", info["client_id"], f"--password=@{secret_file}", "--tenant", info["tenant_id"])
    assert [a["id"] for a in accounts] == [info["subscription_id"]]
    assert az("account", "show")["id"] == info["subscription_id"]

    assert az("group", "create", "-n", "rg", "-l", "local")["properties"]["provisioningState"] == "Succeeded"
    assert az("group", "show", "-n", "rg")["name"] == "rg"
    assert [g["name"] for g in az("group", "list")] == ["rg"]
    assert az("group", "update", "-n", "rg", "--tags", "team=a")["tags"] == {"team": "a"}
    az("provider", "register", "-n", "Microsoft.Storage", "--wait")

    account = az("storage", "account", "create", "-n", "acct1", "-g", "rg", "-l", "local", "--sku", "Standard_LRS")
    assert account["provisioningState"] == "Succeeded"
    assert [a["name"] for a in az("storage", "account", "list")] == ["acct1"]
    assert az("storage", "account", "show", "-n", "acct1", "-g", "rg")["primaryEndpoints"]["blob"] == "https://acct1.blob.local.azurestack.external/"
    keys = az("storage", "account", "keys", "list", "-n", "acct1", "-g", "rg")
    assert [k["keyName"] for k in keys] == ["key1", "key2"]
    # Blobs with the account key, given as az reads it from the environment (never on a command line).
    with_key = {"AZURE_STORAGE_ACCOUNT": "acct1", "AZURE_STORAGE_KEY": keys[0]["value"]}
    az("storage", "container", "create", "-n", "box", env=with_key)
    sent, received = tmp_path / "hello.txt", tmp_path / "back.txt"
    sent.write_text("hello from az\n" * 100)
    az("storage", "blob", "upload", "-c", "box", "-n", "dir/hello.txt", "-f", str(sent), env=with_key)
    az("storage", "blob", "upload", "-c", "box", "-n", "other.txt", "-f", str(sent), env=with_key)
    assert [b["name"] for b in az("storage", "blob", "list", "-c", "box", "--prefix", "dir/", env=with_key)] == ["dir/hello.txt"]
    az("storage", "blob", "download", "-c", "box", "-n", "dir/hello.txt", "-f", str(received), env=with_key)
    assert received.read_text() == sent.read_text()

    # Microsoft.Network is not registered: az's SDK registers it itself (register?api-version=2016-02-01).
    vnet = az("network", "vnet", "create", "-n", "vnet1", "-g", "rg", "--address-prefix", "10.0.0.0/16",
              "--subnet-name", "default", "--subnet-prefix", "10.0.0.0/24")
    assert [s["name"] for s in vnet["newVNet"]["subnets"]] == ["default"]
    assert sorted(r["name"] for r in az("resource", "list", "-g", "rg")) == ["acct1", "vnet1"]
    if profile == "2020-09-01-hybrid":
        # az 2.66 calls begin_export_template, which the 2019-03-01-hybrid Resources client lacks: its bug.
        exported = az("group", "export", "-n", "rg")
        assert sorted(r["type"] for r in exported["resources"]) == ["Microsoft.Network/virtualNetworks", "Microsoft.Storage/storageAccounts"]
    az("storage", "account", "delete", "-n", "acct1", "-g", "rg", "--yes")

    template = tmp_path / "template.json"
    template.write_text(json.dumps(_template(network_version), indent=2))
    validated = az("deployment", "group", "validate", "-g", "rg", "--template-file", str(template))
    assert validated["properties"]["provisioningState"] == "Succeeded"
    deployed = az("deployment", "group", "create", "-g", "rg", "-n", "first", "--template-file", str(template),
                  "--parameters", "name=fromtemplate")
    assert deployed["properties"]["outputs"]["vnetId"]["value"].endswith("/virtualNetworks/fromtemplate")

    # Roles (Microsoft.Authorization 2015-07-01): the built-in definitions, the owner's assignment, a new one.
    assert [r["roleName"] for r in az("role", "definition", "list", "--name", "Reader")] == ["Reader"]
    # (--all calls list_for_subscription, which the 2015-07-01 client the hybrid profiles name lacks: an az 2.66 bug.)
    owner = az("role", "assignment", "list", "--scope", f"/subscriptions/{info['subscription_id']}")
    assert [_field(a, "roleDefinitionId").rsplit("/", 1)[-1] for a in owner] == ["8e3af657-a8ff-443c-a75c-2fe8c4bcb635"]
    someone = _field(owner[0], "principalId")  # the signed-in principal: Reader on the group as well
    scope = f"/subscriptions/{info['subscription_id']}/resourceGroups/rg"
    # az 2.66 sends 2015-07-01's create without the spec's "properties" wrapper (it hands azure-mgmt-authorization 4's
    # create() the properties model): refused as the spec says; the assignment is made as the spec says instead.
    refused = az.fails("role", "assignment", "create", "--assignee-object-id", someone, "--role", "Reader", "--scope", scope)
    assert "InvalidRequestContent" in refused and "properties.roleDefinitionId" in refused
    reader = az("role", "definition", "list", "--name", "Reader")[0]["id"]
    created_role = az("rest", "--method", "put", "--url", f"{info['arm_endpoint'].rstrip('/')}{scope}/providers/Microsoft.Authorization/"
                      "roleAssignments/5f6a1c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b?api-version=2015-07-01",
                      "--body", json.dumps({"properties": {"roleDefinitionId": reader, "principalId": someone}}))
    assert _field(created_role, "principalId") == someone and _field(created_role, "scope") == scope
    listed = az("role", "assignment", "list", "--scope", scope, "--include-inherited")
    assert sorted(_field(a, "scope") for a in listed) == sorted([_field(owner[0], "scope"), scope])
    az("role", "assignment", "delete", "--ids", created_role["id"])
    assert [_field(a, "scope") for a in az("role", "assignment", "list", "--scope", scope, "--include-inherited")] == [
        _field(owner[0], "scope")]

    vault = az("keyvault", "create", "-n", f"kv{release}{identity[:3]}".replace("_", ""), "-g", "rg", "-l", "local")
    assert vault["properties"]["vaultUri"] == f"https://{vault['name']}.vault.local.azurestack.external/"
    assert az("keyvault", "show", "-n", vault["name"])["properties"]["vaultUri"] == vault["properties"]["vaultUri"]

    urns = [i["urn"] for i in az("vm", "image", "list", "--all", "--publisher", "Canonical", "-l", "local")]
    assert "Canonical:UbuntuServer:18.04-LTS:18.04.202401161" in urns
    key = tmp_path / "id.pub"
    key.write_text(sdk.SSH_KEY + "\n")
    created = az("vm", "create", "-g", "rg", "-n", "vm1", "--image", "Canonical:UbuntuServer:18.04-LTS:latest",
                 "--size", "Standard_A2_v2", "--admin-username", "azureuser", "--ssh-key-values", str(key), "--nsg-rule", "NONE")
    assert created["powerState"] == "VM running" and created["privateIpAddress"]
    assert [v["name"] for v in az("vm", "list", "-g", "rg")] == ["vm1"]
    assert az("vm", "show", "-g", "rg", "-n", "vm1")["storageProfile"]["osDisk"]["managedDisk"]["id"]
    az("vm", "stop", "-g", "rg", "-n", "vm1")
    assert az("vm", "show", "-d", "-g", "rg", "-n", "vm1")["powerState"] == "VM stopped"
    az("vm", "start", "-g", "rg", "-n", "vm1")
    az("vm", "deallocate", "-g", "rg", "-n", "vm1")
    assert az("vm", "show", "-d", "-g", "rg", "-n", "vm1")["powerState"] == "VM deallocated"
    az("vm", "delete", "-g", "rg", "-n", "vm1", "--yes")
    assert az("vm", "list", "-g", "rg") == []

    az("group", "delete", "-n", "rg", "--yes")
    assert az("group", "list") == []
