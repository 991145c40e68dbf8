"""What the template engine must take because Resource Manager on a Stack takes it (issue 40, the faults Microsoft's
Stack quickstart corpus found; each shown with a template of our own): two resource loops with one copy name, a
nested child written with its whole type and name, ``listKeys`` of a ``Namespace/type/name`` and its 2015-06-15
answer, ``allowedValues`` compared without case, and parameters that are Key Vault references."""

from __future__ import annotations

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.storage import StorageManagementClient

from tests import sdk

SCHEMA = "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#"
LOCATION = "[resourceGroup().location]"


def _stack(start_emulator, *namespaces):
    info, profile, resources = sdk.stack_with_group(start_emulator, "2108", "azure_ad", *namespaces)
    return info, profile, resources


def _deploy(resources, name, template, **parameters):
    body = {"properties": {"template": template, "mode": "Incremental",
                           "parameters": {k: v if isinstance(v, dict) else {"value": v} for k, v in parameters.items()}}}
    return resources.deployments.begin_create_or_update("rg", name, body).result()


def _template(*resources, parameters=None, outputs=None):
    return {"$schema": SCHEMA, "contentVersion": "1.0.0.0", "parameters": parameters or {}, "resources": list(resources),
            "outputs": outputs or {}}


def test_two_resource_loops_may_share_a_copy_name_and_depends_on_waits_for_both(start_emulator):
    info, profile, resources = _stack(start_emulator, "Microsoft.Network")

    def loop(prefix, count):
        return {"type": "Microsoft.Network/publicIPAddresses", "apiVersion": "2018-11-01", "location": LOCATION,
                "name": f"[concat('{prefix}', copyIndex())]", "copy": {"name": "addresses", "count": count},
                "properties": {"publicIPAllocationMethod": "Dynamic"}}

    security = {"type": "Microsoft.Network/networkSecurityGroups", "apiVersion": "2018-11-01", "name": "after",
                "location": LOCATION, "dependsOn": ["addresses"]}
    network = sdk.client(NetworkManagementClient, info, profile)
    for count in (2, 3):  # and again, one more each
        result = _deploy(resources, "loops", _template(loop("front", count), loop("back", count), security))
        assert result.properties.provisioning_state == "Succeeded"
        names = sorted(ip.name for ip in network.public_ip_addresses.list("rg"))
        assert names == sorted([f"front{i}" for i in range(count)] + [f"back{i}" for i in range(count)])
    # the security group came after every address of both loops
    operations = list(resources.deployment_operations.list("rg", "loops"))
    done = sorted((o.properties.timestamp, o.properties.target_resource.resource_name) for o in operations)
    assert done[-1][1] == "after" and len(done) == len(names) + 1
    # with symbolic names (languageVersion 2.0) ARM refuses it, and so does the emulator
    symbolic = {**_template(loop("front", 1), loop("back", 1)), "languageVersion": "2.0"}
    with pytest.raises(HttpResponseError, match="copy name 'addresses'"):
        _deploy(resources, "symbolic", symbolic)


def test_a_nested_child_may_carry_its_whole_type_and_name(start_emulator):
    info, profile, resources = _stack(start_emulator, "Microsoft.Network")
    whole = {"type": "Microsoft.Network/virtualNetworks/subnets", "apiVersion": "2018-11-01", "name": "net/whole",
             "dependsOn": ["net"], "properties": {"addressPrefix": "10.0.1.0/24"}}
    short = {"type": "subnets", "apiVersion": "2018-11-01", "name": "short", "dependsOn": ["net"],
             "properties": {"addressPrefix": "10.0.2.0/24"}}
    vnet = {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2018-11-01", "name": "net", "location": LOCATION,
            "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}, "resources": [whole, short]}
    assert _deploy(resources, "nested", _template(vnet)).properties.provisioning_state == "Succeeded"
    network = sdk.client(NetworkManagementClient, info, profile)
    assert sorted(s.name for s in network.subnets.list("rg", "net")) == ["short", "whole"]
    # a whole type with a short name is still wrong, as in ARM
    vnet["resources"] = [{**whole, "name": "whole"}]
    with pytest.raises(HttpResponseError, match="name segment"):
        _deploy(resources, "wrong", _template(vnet))


def test_list_keys_of_a_type_and_name_and_its_2015_06_15_answer(start_emulator):
    info, profile, resources = _stack(start_emulator, "Microsoft.Storage")
    account = {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2015-06-15", "name": "keysacct",
               "location": LOCATION, "properties": {"accountType": "Standard_LRS"}}
    outputs = {
        "old": {"type": "string", "value": "[listKeys(concat('Microsoft.Storage/storageAccounts/', 'keysacct'), '2015-06-15').key1]"},
        "new": {"type": "string", "value": "[listKeys(resourceId('Microsoft.Storage/storageAccounts', 'keysacct'), '2019-06-01').keys[1].value]"},
    }
    result = _deploy(resources, "keys", _template(account, outputs=outputs))
    storage = sdk.client(StorageManagementClient, info, profile)
    keys = [k.value for k in storage.storage_accounts.list_keys("rg", "keysacct").keys]
    assert (result.properties.outputs["old"]["value"], result.properties.outputs["new"]["value"]) == (keys[0], keys[1])
    url = (f"{info['arm_endpoint']}subscriptions/{info['subscription_id']}/resourceGroups/rg/providers/"
           "Microsoft.Storage/storageAccounts/keysacct/listKeys")
    old = requests.post(f"{url}?api-version=2015-06-15", headers=sdk.bearer(info), verify=info["ca_cert"], timeout=10)
    assert old.json() == {"key1": keys[0], "key2": keys[1]}  # spec: 2015-06-15's StorageAccountKeys
    # day two: a regenerated key is what the next deployment reads
    storage.storage_accounts.regenerate_key("rg", "keysacct", {"key_name": "key1"})
    again = _deploy(resources, "keys", _template(account, outputs=outputs))
    assert again.properties.outputs["old"]["value"] == storage.storage_accounts.list_keys("rg", "keysacct").keys[0].value != keys[0]


def test_allowed_values_are_compared_without_case(start_emulator):
    _, _, resources = _stack(start_emulator)
    parameters = {"sku": {"type": "string", "defaultValue": "2022-Datacenter-Core", "allowedValues": ["2022-Datacenter-core"]}}
    template = _template(parameters=parameters, outputs={"sku": {"type": "string", "value": "[parameters('sku')]"}})
    assert _deploy(resources, "case", template).properties.outputs["sku"]["value"] == "2022-Datacenter-Core"
    with pytest.raises(HttpResponseError, match="allowedValues"):
        _deploy(resources, "case", template, sku="2019-Datacenter")


def test_a_parameter_from_a_key_vault_enabled_for_template_deployment(start_emulator):
    info, profile, resources = _stack(start_emulator, "Microsoft.KeyVault", "Microsoft.Network")
    base = f"{info['arm_endpoint']}subscriptions/{info['subscription_id']}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults"

    def put(path, body):
        answer = requests.put(f"{base}/{path}?api-version=2019-09-01", json=body, headers=sdk.bearer(info),
                              verify=info["ca_cert"], timeout=10)
        assert answer.status_code in (200, 201), answer.text
        return answer.json()

    def vault(enabled):
        return put("deployvault", {"location": "local", "properties": {
            "tenantId": info["tenant_id"], "sku": {"family": "A", "name": "standard"}, "accessPolicies": [],
            "enabledForTemplateDeployment": enabled}})

    vault_id = vault(False)["id"]
    put("deployvault/secrets/label", {"properties": {"value": "first"}})
    parameters = {"label": {"type": "securestring"}}
    address = {"type": "Microsoft.Network/publicIPAddresses", "apiVersion": "2018-11-01", "name": "labelled",
               "location": LOCATION, "tags": {"label": "[parameters('label')]"}, "properties": {"publicIPAllocationMethod": "Dynamic"}}
    reference = {"reference": {"keyVault": {"id": vault_id}, "secretName": "label"}}
    with pytest.raises(HttpResponseError, match="not enabled for template deployment"):
        _deploy(resources, "fromvault", _template(address, parameters=parameters), label=reference)
    vault(True)
    network = sdk.client(NetworkManagementClient, info, profile)
    _deploy(resources, "fromvault", _template(address, parameters=parameters), label=reference)
    assert network.public_ip_addresses.get("rg", "labelled").tags == {"label": "first"}
    # day two: a new version of the secret is what the next deployment reads
    put("deployvault/secrets/label", {"properties": {"value": "second"}})
    _deploy(resources, "fromvault", _template(address, parameters=parameters), label=reference)
    assert network.public_ip_addresses.get("rg", "labelled").tags == {"label": "second"}
    with pytest.raises(HttpResponseError, match="secret 'missing' was not found"):
        _deploy(resources, "fromvault", _template(address, parameters=parameters),
                label={"reference": {"keyVault": {"id": vault_id}, "secretName": "missing"}})


@pytest.mark.parametrize(("release", "versions"), [("2008", ("2015-01-01", "2016-02-01", "2016-09-01", "2017-05-10", "2018-09-01")),
                                                   ("2108", ("2015-01-01", "2016-09-01", "2017-05-10", "2018-09-01", "2020-06-01"))])
def test_nested_deployments_at_the_versions_a_stack_serves(start_emulator, release, versions):
    # Microsoft's Stack quickstarts nest deployments at 2015-01-01, 2016-02-01 and 2018-09-01, Azure CLI's tests at
    # 2017-05-10: real Stacks listed them (tests/fixtures/parity/); a version newer than the release's is refused.
    _, _, resources = sdk.stack_with_group(start_emulator, release, "azure_ad")
    inner = {"$schema": SCHEMA, "contentVersion": "1.0.0.0", "resources": [],
             "outputs": {"said": {"type": "string", "value": "inner"}}}

    def nested(version):
        return _template({"type": "Microsoft.Resources/deployments", "apiVersion": version, "name": "inner",
                          "properties": {"mode": "Incremental", "template": inner}},
                         outputs={"said": {"type": "string", "value": "[reference('inner').outputs.said.value]"}})

    for version in versions:
        assert _deploy(resources, "outer", nested(version)).properties.outputs["said"]["value"] == "inner"
    with pytest.raises(HttpResponseError, match="2021-04-01"):
        _deploy(resources, "outer", nested("2021-04-01"))


def test_a_profiled_resource_of_a_provider_the_stack_lacks_is_no_registered_provider(start_emulator):
    # Microsoft's 2018-03-01-hybrid maps Microsoft.Web; a Stack without App Service answers NoRegisteredProviderFound.
    _, _, resources = _stack(start_emulator)
    site = {"type": "Microsoft.Web/sites", "name": "site", "location": LOCATION, "properties": {}}
    template = {**_template(site), "apiProfile": "2018-03-01-hybrid"}
    with pytest.raises(HttpResponseError) as raised:
        _deploy(resources, "web", template)
    assert raised.value.error.code == "NoRegisteredProviderFound" and "Microsoft.Web" in raised.value.error.message


def test_template_keywords_are_read_without_case(start_emulator):
    # ARM reads a template's keywords in any case (Microsoft's Stack quickstarts declare parameters with "defaultvalue"):
    # azs_emulator/template_keywords.py names the evidence.
    info, profile, resources = _stack(start_emulator, "Microsoft.Network")
    template = {"$schema": SCHEMA, "ContentVersion": "1.0.0.0",
                "Parameters": {"prefix": {"Type": "String", "defaultvalue": "[concat('ip', 'x')]", "AllowedValues": ["ipx", "ipy"]}},
                "Resources": [
                    {"Type": "Microsoft.Network/publicIPAddresses", "APIVersion": "2018-11-01", "Location": LOCATION,
                     "Name": "[concat(parameters('prefix'), copyIndex())]", "Copy": {"Name": "ips", "Count": 2},
                     "Properties": {"publicIPAllocationMethod": "Dynamic"}},
                    {"type": "Microsoft.Network/networkSecurityGroups", "apiVersion": "2018-11-01", "name": "after",
                     "location": LOCATION, "DependsOn": ["ips"]}],
                "Outputs": {"prefix": {"Type": "string", "Value": "[parameters('prefix')]"}}}
    network = sdk.client(NetworkManagementClient, info, profile)
    for prefix in (None, "ipy"):  # the default, then a value given (day two)
        result = _deploy(resources, "cased", template, **({"prefix": prefix} if prefix else {}))
        assert result.properties.outputs["prefix"]["value"] == (prefix or "ipx")
    assert sorted(ip.name for ip in network.public_ip_addresses.list("rg")) == ["ipx0", "ipx1", "ipy0", "ipy1"]
    assert network.network_security_groups.get("rg", "after").name == "after"
    with pytest.raises(HttpResponseError, match="allowedValues"):
        _deploy(resources, "cased", template, prefix="ipz")


def test_of_the_resources_ready_the_first_in_the_template_is_deployed_first(start_emulator):
    # A VM that names its NIC by id but depends only on its storage account (Microsoft's Stack quickstarts do so): ARM
    # has the NIC, listed earlier, done long before the storage account; the emulator deploys it first.
    info, profile, resources = _stack(start_emulator, "Microsoft.Network", "Microsoft.Compute", "Microsoft.Storage")
    nic_id = "[resourceId('Microsoft.Network/networkInterfaces', 'nic')]"
    template = _template(
        {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2016-01-01", "name": "[concat('sa', uniqueString(resourceGroup().id))]",
         "location": LOCATION, "sku": {"name": "Standard_LRS"}, "kind": "Storage", "properties": {}},
        {"type": "Microsoft.Network/networkSecurityGroups", "apiVersion": "2017-10-01", "name": "nsg", "location": LOCATION},
        {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2017-10-01", "name": "net", "location": LOCATION,
         "dependsOn": ["nsg"], "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                                              "subnets": [{"name": "a", "properties": {"addressPrefix": "10.0.0.0/24"}}]}},
        {"type": "Microsoft.Network/networkInterfaces", "apiVersion": "2017-10-01", "name": "nic", "location": LOCATION,
         "dependsOn": ["net"], "properties": {"ipConfigurations": [{"name": "c", "properties": {
             "privateIPAllocationMethod": "Dynamic",
             "subnet": {"id": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'net', 'a')]"}}}]}},
        {"type": "Microsoft.Compute/virtualMachines", "apiVersion": "2017-03-30", "name": "vm", "location": LOCATION,
         "dependsOn": ["[concat('Microsoft.Storage/storageAccounts/sa', uniqueString(resourceGroup().id))]"],
         "properties": {"hardwareProfile": {"vmSize": "Standard_A1"},
                        "osProfile": {"computerName": "vm", "adminUsername": "azsuser", "linuxConfiguration": {
                            "disablePasswordAuthentication": True,
                            "ssh": {"publicKeys": [{"path": "/home/azsuser/.ssh/authorized_keys", "keyData": sdk.SSH_KEY}]}}},
                        "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "UbuntuServer",
                                                              "sku": "16.04-LTS", "version": "latest"},
                                           "osDisk": {"createOption": "FromImage"}},
                        "networkProfile": {"networkInterfaces": [{"id": nic_id}]}}})
    for _ in range(2):  # and again, over what the first made
        assert _deploy(resources, "order", template).properties.provisioning_state == "Succeeded"
    operations = sorted(resources.deployment_operations.list("rg", "order"), key=lambda o: o.properties.timestamp)
    assert [o.properties.target_resource.resource_type.split("/")[-1] for o in operations][-2:] == ["networkInterfaces", "virtualMachines"]


def test_a_vm_from_a_managed_image_made_in_the_same_template(start_emulator):
    # Spec (Compute 2017-03-30 and later): imageReference.id names a Microsoft.Compute/images resource; the OS disk is
    # made from it with its osType (Microsoft's Stack quickstarts 101-simple-{linux,windows}-vm-custom-managed-disk).
    from azure.mgmt.compute import ComputeManagementClient

    info, profile, resources = _stack(start_emulator, "Microsoft.Network", "Microsoft.Compute")
    image = {"type": "Microsoft.Compute/images", "apiVersion": "2017-03-30", "name": "golden", "location": LOCATION,
             "properties": {"storageProfile": {"osDisk": {"osType": "Windows", "osState": "Generalized", "storageAccountType": "Standard_LRS",
                                                          "blobUri": "https://images.blob.local.azurestack.external/vhds/golden.vhd"}}}}
    vnet = {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2017-10-01", "name": "net", "location": LOCATION,
            "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                           "subnets": [{"name": "a", "properties": {"addressPrefix": "10.0.0.0/24"}}]}}
    nic = {"type": "Microsoft.Network/networkInterfaces", "apiVersion": "2017-10-01", "name": "nic", "location": LOCATION,
           "dependsOn": ["net"], "properties": {"ipConfigurations": [{"name": "c", "properties": {
               "subnet": {"id": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'net', 'a')]"}}}]}}

    def vm(image_name):
        return {"type": "Microsoft.Compute/virtualMachines", "apiVersion": "2017-03-30", "name": "vm", "location": LOCATION,
                "dependsOn": ["nic", "golden"], "properties": {
                    "hardwareProfile": {"vmSize": "Standard_A1"},
                    "osProfile": {"computerName": "vm", "adminUsername": "azsuser", "adminPassword": "Not-a-real-secret-1"},
                    "storageProfile": {"imageReference": {"id": f"[resourceId('Microsoft.Compute/images', '{image_name}')]"}},
                    "networkProfile": {"networkInterfaces": [{"id": "[resourceId('Microsoft.Network/networkInterfaces', 'nic')]"}]}}}

    compute = sdk.client(ComputeManagementClient, info, profile)
    for _ in range(2):  # and again, over what the first made
        assert _deploy(resources, "custom", _template(image, vnet, nic, vm("golden"))).properties.provisioning_state == "Succeeded"
        made = compute.virtual_machines.get("rg", "vm")
        assert made.storage_profile.image_reference.id.endswith("/images/golden")
        assert made.storage_profile.os_disk.os_type == "Windows" and made.storage_profile.os_disk.managed_disk.id
    compute.virtual_machines.begin_delete("rg", "vm").result()
    with pytest.raises(HttpResponseError, match="Image .*/images/missing was not found"):
        _deploy(resources, "custom", _template(image, vnet, nic, vm("missing")))
