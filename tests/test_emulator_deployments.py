"""Template deployments on the emulator, driven by the real track 2 clients with each release's profile: validate,
create, outputs, operations and export; a template refused before anything is made, a failing resource, a
cancelled deployment, and a template that takes its api-versions from an ``apiProfile``."""

from __future__ import annotations

import json

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient

from tests import sdk

# -- a template of a storage account and a network ----------------------------------------------------------------------------

TEMPLATE = {
    "$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "parameters": {
        "prefix": {"type": "string", "defaultValue": "demo"},
        "sku": {"type": "string", "defaultValue": "Standard_LRS", "allowedValues": ["Standard_LRS", "Premium_LRS"]},
        "storageApiVersion": {"type": "string"},
        "networkApiVersion": {"type": "string"},
    },
    "variables": {
        "account": "[concat(parameters('prefix'), uniqueString(resourceGroup().id))]",
        "vnet": "[format('{0}-vnet', parameters('prefix'))]",
    },
    "resources": [
        {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "[parameters('storageApiVersion')]",
         "name": "[variables('account')]", "location": "[resourceGroup().location]",
         "sku": {"name": "[parameters('sku')]"}, "kind": "Storage", "properties": {}},
        {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "[parameters('networkApiVersion')]",
         "name": "[variables('vnet')]", "location": "[resourceGroup().location]",
         "dependsOn": ["[resourceId('Microsoft.Storage/storageAccounts', variables('account'))]"],
         "properties": {"addressSpace": {"addressPrefixes": ["10.1.0.0/16"]},
                        "subnets": [{"name": "default", "properties": {"addressPrefix": "10.1.0.0/24"}}]}},
    ],
    "outputs": {
        "accountName": {"type": "string", "value": "[variables('account')]"},
        "blobEndpoint": {"type": "string",
                         "value": "[reference(resourceId('Microsoft.Storage/storageAccounts', variables('account'))).primaryEndpoints.blob]"},
        "subnetCount": {"type": "int", "value": "[length(reference(variables('vnet')).subnets)]"},
    },
}
API_VERSIONS = {"2108": ("2019-06-01", "2018-11-01"), "2008": ("2017-10-01", "2017-10-01"), "azure": ("2019-06-01", "2018-11-01")}


def _deployment(template, release, **parameters):
    storage_version, network_version = API_VERSIONS[release]
    values = {"storageApiVersion": storage_version, "networkApiVersion": network_version, **parameters}
    return {"properties": {"template": template, "mode": "Incremental", "parameters": {k: {"value": v} for k, v in values.items()}}}


def _validate(resources, group, name, deployment):
    begin = getattr(resources.deployments, "begin_validate", None)
    return begin(group, name, deployment).result() if begin else resources.deployments.validate(group, name, deployment)


@pytest.mark.parametrize(("release", "identity"), sdk.COMBINATIONS)
def test_template_deployment_validate_create_outputs_operations_export(start_emulator, release, identity):
    info, profile, resources = sdk.stack_with_group(start_emulator, release, identity, "Microsoft.Storage", "Microsoft.Network")
    validated = _validate(resources, "rg", "first", _deployment(TEMPLATE, release))
    assert validated.error is None and validated.properties.provisioning_state == "Succeeded"
    assert list(resources.resources.list_by_resource_group("rg")) == []  # validation creates nothing

    result = resources.deployments.begin_create_or_update("rg", "first", _deployment(TEMPLATE, release)).result()
    assert result.properties.provisioning_state == "Succeeded"
    outputs = result.properties.outputs
    assert outputs["accountName"]["value"].startswith("demo") and len(outputs["accountName"]["value"]) == 17
    assert outputs["blobEndpoint"]["value"].startswith(f"https://{outputs['accountName']['value']}.blob.")
    assert outputs["subnetCount"]["value"] == 1
    network = sdk.client(NetworkManagementClient, info, profile)
    assert [s.name for s in network.subnets.list("rg", "demo-vnet")] == ["default"]
    operations = list(resources.deployment_operations.list("rg", "first"))
    assert sorted(o.properties.target_resource.resource_type for o in operations) == [
        "Microsoft.Network/virtualNetworks", "Microsoft.Storage/storageAccounts"]
    assert all(o.properties.provisioning_state == "Succeeded" for o in operations)
    assert [d.name for d in resources.deployments.list_by_resource_group("rg")] == ["first"]
    assert resources.deployments.export_template("rg", "first").template == TEMPLATE
    with pytest.raises(HttpResponseError) as raised:
        resources.deployments.cancel("rg", "first")
    assert raised.value.error.code == "DeploymentCannotBeCancelled"

    # The group's exported template redeploys into another group, as it is.
    groups = resources.resource_groups
    exported = groups.begin_export_template("rg", {"resources": ["*"]}).result().template \
        if hasattr(groups, "begin_export_template") else groups.export_template("rg", {"resources": ["*"]}).template
    resources.resource_groups.create_or_update("copy", {"location": "local"})
    # Storage account names are global: redeploy the network part beside a renamed account.
    for entry in exported["resources"]:
        if entry["type"] == "Microsoft.Storage/storageAccounts":
            entry["name"] = "copy" + entry["name"][4:]
    again = resources.deployments.begin_create_or_update(
        "copy", "redeploy", {"properties": {"template": exported, "mode": "Incremental"}}).result()
    assert again.properties.provisioning_state == "Succeeded"
    assert sorted(r.type for r in resources.resources.list_by_resource_group("copy")) == [
        "Microsoft.Network/virtualNetworks", "Microsoft.Storage/storageAccounts"]

    resources.deployments.begin_delete("rg", "first").result()
    assert list(resources.deployments.list_by_resource_group("rg")) == []
    assert len(list(resources.resources.list_by_resource_group("rg"))) == 2  # deleting a deployment keeps its resources


@pytest.mark.parametrize(("change", "words"), [
    ({"sku": "Gold_LRS"}, "allowedValues"),
    ({"networkApiVersion": "2099-01-01"}, "2099-01-01"),
    ({"unknown": "x"}, "not declared"),
    ("bad-function", "is not valid"),
    ("no-parameter", "not provided"),
    ("unknown-type", "could not be found in the namespace 'Microsoft.Storage'"),
])
def test_an_invalid_template_is_refused_before_anything_is_made(start_emulator, change, words):
    info, profile, resources = sdk.stack_with_group(start_emulator, "2108", "azure_ad", "Microsoft.Storage", "Microsoft.Network")
    template = json.loads(json.dumps(TEMPLATE))
    parameters = {}
    if change == "bad-function":
        template["variables"]["vnet"] = "[makeItSo('x')]"
    elif change == "no-parameter":
        del template["parameters"]["prefix"]["defaultValue"]
    elif change == "unknown-type":  # a type the namespace lacks: 400 InvalidTemplate, not the 404 a GET of it gets
        template["resources"].append({"type": "Microsoft.Storage/storageAccountz", "apiVersion": "2019-06-01",
                                      "name": "typo", "location": "[resourceGroup().location]"})
    else:
        parameters = change
    with pytest.raises(HttpResponseError) as raised:
        resources.deployments.begin_create_or_update("rg", "bad", _deployment(template, "2108", **parameters)).result()
    assert raised.value.error.code == "InvalidTemplate" and words in raised.value.error.message
    with pytest.raises(HttpResponseError) as raised:
        _validate(resources, "rg", "bad", _deployment(template, "2108", **parameters))
    assert words in str(raised.value)
    assert list(resources.resources.list_by_resource_group("rg")) == []


def test_a_failing_resource_fails_the_deployment_and_names_it(start_emulator):
    info, profile, resources = sdk.stack_with_group(start_emulator, "2108", "azure_ad")  # a deployment registers providers itself
    template = json.loads(json.dumps(TEMPLATE))
    template["variables"]["account"] = "Not_A_Valid_Account_Name"  # refused by the provider, not by validation
    with pytest.raises(HttpResponseError) as raised:
        resources.deployments.begin_create_or_update("rg", "half", _deployment(template, "2108")).result()
    assert "DeploymentFailed" in str(raised.value)
    failed = [o for o in resources.deployment_operations.list("rg", "half") if o.properties.provisioning_state == "Failed"]
    assert [o.properties.target_resource.resource_type for o in failed] == ["Microsoft.Storage/storageAccounts"]
    assert list(resources.resources.list_by_resource_group("rg")) == []  # what depended on it never ran
    assert resources.deployments.get("rg", "half").properties.provisioning_state == "Failed"


def test_a_deployment_is_cancelled_before_it_runs(start_emulator):
    info, profile, resources = sdk.stack_with_group(start_emulator, "2108", "azure_ad", "Microsoft.Storage", "Microsoft.Network")
    url = (f"{info['arm_endpoint']}subscriptions/{info['subscription_id']}/resourcegroups/rg/providers/"
           "Microsoft.Resources/deployments/slow")
    headers = sdk.bearer(info)
    created = requests.put(url, params={"api-version": "2019-10-01"}, json=_deployment(TEMPLATE, "2108"), headers=headers,
                           verify=info["ca_cert"], timeout=10)
    assert created.status_code == 201 and created.json()["properties"]["provisioningState"] == "Accepted"
    assert "Azure-AsyncOperation" in created.headers
    cancelled = requests.post(url + "/cancel", params={"api-version": "2019-10-01"}, headers=headers, verify=info["ca_cert"], timeout=10)
    assert cancelled.status_code == 204
    assert resources.deployments.get("rg", "slow").properties.provisioning_state == "Canceled"
    assert list(resources.resources.list_by_resource_group("rg")) == []


# -- compute -----------------------------------------------------------------------------------------


PROFILE_TEMPLATE = {
    "$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "apiProfile": "2020-09-01-hybrid",  # no apiVersion on any resource: the profile gives them
    "parameters": {"vmName": {"type": "string"}, "sshKey": {"type": "string"}, "label": {"type": "string"}},
    "variables": {
        "account": "[toLower(concat('disks', uniqueString(resourceGroup().id)))]",
        "net": "[concat(parameters('vmName'), '-net')]",
        "subnetId": "[concat(resourceId('Microsoft.Network/virtualNetworks', variables('net')), '/subnets/inside')]",
        "blob": "[reference(concat('Microsoft.Storage/storageAccounts/', variables('account')), "
                "providers('Microsoft.Storage', 'storageAccounts').apiVersions[0]).primaryEndpoints.blob]",
    },
    "resources": [
        {"type": "Microsoft.Storage/storageAccounts", "name": "[variables('account')]", "location": "[resourceGroup().location]",
         "sku": {"name": "Standard_LRS"}, "kind": "Storage", "properties": {}},
        {"type": "Microsoft.Network/networkSecurityGroups", "name": "guard", "location": "[resourceGroup().location]",
         "properties": {"securityRules": [{"name": "ssh", "properties": {
             "protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "22", "sourceAddressPrefix": "*",
             "destinationAddressPrefix": "*", "access": "Allow", "priority": 300, "direction": "Inbound"}}]}},
        {"type": "Microsoft.Network/publicIPAddresses", "name": "address", "location": "[resourceGroup().location]",
         "properties": {"publicIPAllocationMethod": "Dynamic", "dnsSettings": {"domainNameLabel": "[parameters('label')]"}}},
        {"type": "Microsoft.Network/virtualNetworks", "name": "[variables('net')]", "location": "[resourceGroup().location]",
         "properties": {"addressSpace": {"addressPrefixes": ["10.2.0.0/16"]},
                        "subnets": [{"name": "inside", "properties": {"addressPrefix": "10.2.0.0/24"}}]}},
        {"type": "Microsoft.Network/networkInterfaces", "name": "card", "location": "[resourceGroup().location]",
         "dependsOn": ["[concat('Microsoft.Network/virtualNetworks/', variables('net'))]", "guard", "address"],
         "properties": {"networkSecurityGroup": {"id": "[resourceId('Microsoft.Network/networkSecurityGroups', 'guard')]"},
                        "ipConfigurations": [{"name": "first", "properties": {
                            "subnet": {"id": "[variables('subnetId')]"},
                            "publicIPAddress": {"id": "[resourceId('Microsoft.Network/publicIPAddresses', 'address')]"}}}]}},
        {"type": "Microsoft.Compute/virtualMachines", "name": "[parameters('vmName')]", "location": "[resourceGroup().location]",
         "dependsOn": ["[concat('Microsoft.Storage/storageAccounts/', variables('account'))]", "Microsoft.Network/networkInterfaces/card"],
         "properties": {
             "hardwareProfile": {"vmSize": "Standard_A1"},
             "osProfile": {"computerName": "[parameters('vmName')]", "adminUsername": "someone", "linuxConfiguration": {
                 "disablePasswordAuthentication": "true",
                 "ssh": {"publicKeys": [{"path": "/home/someone/.ssh/authorized_keys", "keyData": "[parameters('sshKey')]"}]}}},
             "storageProfile": {
                 "imageReference": {"publisher": "Canonical", "offer": "UbuntuServer", "sku": "16.04-LTS", "version": "latest"},
                 "osDisk": {"name": "system", "createOption": "FromImage", "caching": "ReadWrite",
                            "vhd": {"uri": "[concat(variables('blob'), 'vhds/system.vhd')]"}}},
             "networkProfile": {"networkInterfaces": [{"id": "[resourceId('Microsoft.Network/networkInterfaces', 'card')]"}]}}},
    ],
    "outputs": {"fqdn": {"type": "string", "value": "[reference('address').dnsSettings.fqdn]"}},
}


def test_a_template_with_an_api_profile_providers_and_an_unmanaged_disk(start_emulator):
    info, profile, resources = sdk.stack_with_group(start_emulator, "2108", "azure_ad")
    parameters = {"vmName": {"value": "box"}, "sshKey": {"value": sdk.SSH_KEY}, "label": {"value": "box-label"}}
    result = resources.deployments.begin_create_or_update(
        "rg", "profiled", {"properties": {"template": PROFILE_TEMPLATE, "parameters": parameters, "mode": "Incremental"}}).result()
    assert result.properties.outputs["fqdn"]["value"].startswith("box-label.local.cloudapp.")
    compute = sdk.client(ComputeManagementClient, info, profile)
    vm = compute.virtual_machines.get("rg", "box")
    assert vm.storage_profile.os_disk.vhd.uri.endswith("/vhds/system.vhd") and ".blob." in vm.storage_profile.os_disk.vhd.uri
    assert list(compute.disks.list_by_resource_group("rg")) == []  # an unmanaged disk is a blob, not a disk resource
