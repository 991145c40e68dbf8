"""ARM templates written as Microsoft's Azure Stack quickstart templates are (resource, property and variable
loops, ``apiProfile``, conditions, scale sets behind a load balancer, VM extensions, DNS zones, an inline nested
deployment), deployed through the real Azure SDK on 2008 and 2108 emulators; then the resources are read
back through each service's own client. Templates a Stack refuses are refused with ARM's errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource import ResourceManagementClient

from tests import sdk

TEMPLATES = Path(__file__).parent / "fixtures" / "arm"
RELEASES = ["2008", "2108"]
PASSWORD = "Not-a-real-secret-1"  # a template parameter of type securestring


def _template(name: str) -> dict:
    return json.loads((TEMPLATES / name).read_text(encoding="utf-8"))


def _stack(start_emulator, release):
    info = start_emulator(release=release).info()
    profile = sdk.PROFILE_OF_RELEASE[release]
    resources = sdk.client(ResourceManagementClient, info, profile)
    resources.resource_groups.create_or_update("rg", {"location": "local"})
    return info, profile, resources


def _deploy(resources, name, template, **parameters):
    body = {"properties": {"template": template, "mode": "Incremental",
                           "parameters": {k: {"value": v} for k, v in parameters.items()}}}
    return resources.deployments.begin_create_or_update("rg", name, body).result()


@pytest.mark.parametrize("release", RELEASES)
def test_a_scale_set_behind_a_load_balancer_with_loops_extensions_and_dns(start_emulator, release):
    info, profile, resources = _stack(start_emulator, release)
    result = _deploy(resources, "web", _template("scale-set-with-dns.json"), adminPassword=PASSWORD)
    assert result.properties.provisioning_state == "Succeeded"
    assert result.properties.outputs["capacity"]["value"] == 2
    assert len(result.properties.outputs["nameServers"]["value"]) == 2

    network = sdk.client(NetworkManagementClient, info, profile)
    # a variable loop made the rules, a property loop the subnets, a serial resource loop the addresses
    assert sorted(r.destination_port_range for r in network.network_security_groups.get("rg", "web-nsg").security_rules) == ["8080", "8081"]
    assert [s.address_prefix for s in network.subnets.list("rg", "web-vnet")] == ["10.0.0.0/24", "10.0.1.0/24"]
    addresses = {ip.name: ip for ip in network.public_ip_addresses.list("rg")}
    assert sorted(addresses) == ["web-ip1", "web-ip2"]
    assert addresses["web-ip2"].dns_settings.domain_name_label == "web002"
    balancer = network.load_balancers.get("rg", "web-lb")
    assert balancer.frontend_ip_configurations[0].public_ip_address.id == addresses["web-ip1"].id
    assert balancer.inbound_nat_pools[0].frontend_port_range_start == 50000
    assert balancer.backend_address_pools[0].id.endswith("/loadBalancers/web-lb/backendAddressPools/pool")

    compute = sdk.client(ComputeManagementClient, info, profile)
    scale_set = compute.virtual_machine_scale_sets.get("rg", "web-vmss")
    assert scale_set.sku.capacity == 2 and scale_set.provisioning_state == "Succeeded"
    assert scale_set.virtual_machine_profile.os_profile.admin_password is None  # never shown
    extension = scale_set.virtual_machine_profile.extension_profile.extensions[0]
    assert (extension.publisher, extension.type_properties_type if hasattr(extension, "type_properties_type") else extension.type) \
        == ("Microsoft.Azure.Extensions", "CustomScript")
    instances = list(compute.virtual_machine_scale_set_vms.list("rg", "web-vmss"))
    assert [i.instance_id for i in instances] == ["0", "1"]
    assert instances[1].os_profile.computer_name == "web000001"
    assert compute.virtual_machine_scale_set_vms.get("rg", "web-vmss", "1").name == "web-vmss_1"

    # scale out by capacity, as `az vmss scale` does, then in again
    scale_set.sku.capacity = 3
    assert compute.virtual_machine_scale_sets.begin_create_or_update("rg", "web-vmss", scale_set).result().sku.capacity == 3
    assert [i.instance_id for i in compute.virtual_machine_scale_set_vms.list("rg", "web-vmss")] == ["0", "1", "2"]
    compute.virtual_machine_scale_sets.begin_update("rg", "web-vmss", {"sku": {"capacity": 1}}).result()
    assert [i.instance_id for i in compute.virtual_machine_scale_set_vms.list("rg", "web-vmss")] == ["0"]

    zone_id = f"/subscriptions/{info['subscription_id']}/resourceGroups/rg/providers/Microsoft.Network/dnszones/apps.contoso.test"
    zone = resources.resources.get_by_id(zone_id, "2016-04-01")
    assert zone.location == "global" and zone.properties["numberOfRecordSets"] == 3  # SOA, NS and www
    record = resources.resources.get_by_id(zone_id + "/A/www", "2016-04-01")
    assert record.properties["ARecords"] == [{"ipv4Address": addresses["web-ip1"].ip_address}]
    assert record.properties["fqdn"] == "www.apps.contoso.test."
    listed = requests.get(f"{info['arm_endpoint'].rstrip('/')}{zone_id}/recordsets", params={"api-version": "2016-04-01"},
                          headers=sdk.bearer(info), verify=info["ca_cert"], timeout=10)
    assert sorted((r["type"], r["name"]) for r in listed.json()["value"]) == [
        ("Microsoft.Network/dnszones/A", "www"), ("Microsoft.Network/dnszones/NS", "@"), ("Microsoft.Network/dnszones/SOA", "@")]

    compute.virtual_machine_scale_sets.begin_delete("rg", "web-vmss").result()
    assert list(compute.virtual_machine_scale_sets.list("rg")) == []


@pytest.mark.parametrize("release", RELEASES)
def test_a_condition_false_leaves_its_resources_out_and_what_depends_on_them_deploys(start_emulator, release):
    info, profile, resources = _stack(start_emulator, release)
    result = _deploy(resources, "web", _template("scale-set-with-dns.json"), adminPassword=PASSWORD, withDns=False, instanceCount=0)
    assert result.properties.outputs["nameServers"]["value"] == []  # if() evaluated only the branch it took
    types = {r.type for r in resources.resources.list_by_resource_group("rg")}
    assert "Microsoft.Network/dnszones" not in types and "Microsoft.Compute/virtualMachineScaleSets" in types


@pytest.mark.parametrize("release", RELEASES)
def test_windows_vms_from_a_loop_with_extensions_data_disk_loops_and_a_nested_deployment(start_emulator, release):
    info, profile, resources = _stack(start_emulator, release)
    result = _deploy(resources, "apps", _template("windows-vms-with-extensions.json"), adminPassword=PASSWORD)
    assert result.properties.provisioning_state == "Succeeded"
    assert ".blob." in result.properties.outputs["diagnosticsBlob"]["value"]

    compute = sdk.client(ComputeManagementClient, info, profile)
    vms = {vm.name: vm for vm in compute.virtual_machines.list("rg")}
    assert sorted(vms) == ["appvm0", "appvm1"]
    assert result.properties.outputs["firstVm"]["value"] == vms["appvm0"].vm_id
    assert [d.disk_size_gb for d in vms["appvm1"].storage_profile.data_disks] == [4, 8]
    for name in vms:
        extensions = {e: compute.virtual_machine_extensions.get("rg", name, e) for e in ("BGInfo", "setup")}
        assert sorted(e.name for e in vms[name].resources) == ["BGInfo", "setup"]  # as ARM shows a VM's extensions
        assert all(e.provisioning_state == "Succeeded" for e in extensions.values())
        assert extensions["setup"].protected_settings is None  # secrets given to an extension are never shown
    network = sdk.client(NetworkManagementClient, info, profile)
    assert all(n.ip_configurations[0].public_ip_address is None for n in network.network_interfaces.list("rg"))
    # the inner-scoped nested deployment is a deployment of its own, and made its storage account
    assert sorted(d.name for d in resources.deployments.list_by_resource_group("rg")) == ["apps", "diagnostics"]
    assert any(r.type == "Microsoft.Storage/storageAccounts" for r in resources.resources.list_by_resource_group("rg"))


@pytest.mark.parametrize("release", RELEASES)
def test_a_function_the_stack_lacks_is_refused_with_arms_error(start_emulator, release):
    info, profile, resources = _stack(start_emulator, release)
    template = {"$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
                "contentVersion": "1.0.0.0", "resources": [],
                "outputs": {"rest": {"type": "array", "value": "[skip(createArray(1, 2, 3), 1)]"}}}
    with pytest.raises(HttpResponseError) as raised:
        _deploy(resources, "skip", template)
    assert raised.value.error.code == "InvalidTemplate"
    assert "The template function 'skip' is not valid" in raised.value.error.message


def test_global_azure_has_the_function_a_stack_lacks(start_emulator):
    info, profile, resources = _stack(start_emulator, "azure")
    template = {"$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
                "contentVersion": "1.0.0.0", "resources": [],
                "outputs": {"rest": {"type": "array", "value": "[skip(createArray(1, 2, 3), 1)]"}}}
    assert _deploy(resources, "skip", template).properties.outputs["rest"]["value"] == [2, 3]


@pytest.mark.parametrize(("change", "code", "words"), [
    ("api-version", "InvalidTemplate", "the api-version '2020-06-01'"),
    ("profile", "InvalidTemplate", "the apiProfile '2022-01-01-hybrid' is not supported"),
    ("child-loop", "InvalidTemplate", "copies only top-level resources"),
    ("linked", "InvalidTemplate", "templateLink"),
    ("min-value", "InvalidTemplate", "'vmCount' is 0; it must be at least 1"),
])
def test_a_template_2008_refuses_is_refused_before_anything_is_made(start_emulator, change, code, words):
    info, profile, resources = _stack(start_emulator, "2008")
    template = _template("windows-vms-with-extensions.json")
    parameters = {"adminPassword": PASSWORD}
    if change == "min-value":
        parameters["vmCount"] = 0
    elif change == "api-version":  # the 2020-09-01-hybrid profile's Compute version: a 2102 and later serve it
        template["resources"][3]["apiVersion"] = "2020-06-01"
    elif change == "profile":
        template["apiProfile"] = "2022-01-01-hybrid"
    elif change == "child-loop":
        template["resources"][3]["resources"][0]["copy"] = {"name": "twice", "count": 2}
    elif change == "linked":
        template["resources"][5]["properties"] = {"mode": "Incremental", "templateLink": {"uri": "https://example.invalid/t.json"}}
    with pytest.raises(HttpResponseError) as raised:
        _deploy(resources, "bad", template, **parameters)
    assert raised.value.error.code == code and words in raised.value.error.message
    assert list(resources.resources.list_by_resource_group("rg")) == []


def test_an_extension_the_marketplace_lacks_fails_the_deployment_with_arms_error(start_emulator):
    info, profile, resources = _stack(start_emulator, "2108")
    template = _template("scale-set-with-dns.json")
    settings = template["resources"][4]["properties"]["virtualMachineProfile"]["extensionProfile"]["extensions"][0]["properties"]
    settings["type"] = "NoSuchExtension"
    with pytest.raises(HttpResponseError) as raised:
        _deploy(resources, "web", template, adminPassword=PASSWORD)
    assert "DeploymentFailed" in str(raised.value)
    failed = [o for o in resources.deployment_operations.list("rg", "web") if o.properties.provisioning_state == "Failed"]
    assert [o.properties.target_resource.resource_type for o in failed] == ["Microsoft.Compute/virtualMachineScaleSets"]
    assert failed[0].properties.status_message["error"]["code"] == "ArtifactNotFound"


def test_the_marketplace_lists_its_extensions(start_emulator):
    info, profile, resources = _stack(start_emulator, "2108")
    compute = sdk.client(ComputeManagementClient, info, profile)
    types = [t.name for t in compute.virtual_machine_extension_images.list_types("local", "Microsoft.Compute")]
    assert {"BGInfo", "CustomScriptExtension", "VMAccessAgent"} <= set(types)
    versions = [v.name for v in compute.virtual_machine_extension_images.list_versions("local", "Microsoft.Compute", "BGInfo")]
    assert versions == ["2.1"]
    image = compute.virtual_machine_extension_images.get("local", "Microsoft.Compute", "BGInfo", "2.1")
    assert image.operating_system == "Windows"


# The deployable types each profile names, with their versions: Microsoft's profile definitions
# (azure-rest-api-specs profiles/definitions hybrid-2018-03-01.md, hybrid-2019-03-01.md) and, for
# 2020-09-01-hybrid, the Azure SDK's and Azure CLI's profile of that name.
_COMPUTE = ("availabilitySets", "virtualMachines", "virtualMachineScaleSets")
_NETWORK = ("connections", "loadBalancers", "localNetworkGateways", "networkInterfaces", "networkSecurityGroups",
            "publicIPAddresses", "routeTables", "virtualNetworkGateways", "virtualNetworks")
PROFILE_TYPES = {
    "2018-03-01-hybrid": {**{("Microsoft.Compute", t): "2017-03-30" for t in (*_COMPUTE, "disks", "snapshots")},
                          **{("Microsoft.Network", t): "2017-10-01" for t in _NETWORK}, ("Microsoft.Network", "dnsZones"): "2016-04-01",
                          ("Microsoft.Storage", "storageAccounts"): "2016-01-01", ("Microsoft.KeyVault", "vaults"): "2016-10-01",
                          ("Microsoft.Resources", "deployments"): "2018-02-01", ("Microsoft.Authorization", "locks"): "2016-09-01",
                          ("Microsoft.Authorization", "policyAssignments"): "2016-12-01",
                          ("Microsoft.Authorization", "roleAssignments"): "2015-07-01"},
    "2019-03-01-hybrid": {**{("Microsoft.Compute", t): "2017-12-01" for t in (*_COMPUTE, "images")},
                          **{("Microsoft.Compute", t): "2017-03-30" for t in ("disks", "snapshots")},
                          **{("Microsoft.Network", t): "2017-10-01" for t in _NETWORK}, ("Microsoft.Network", "dnsZones"): "2016-04-01",
                          ("Microsoft.Storage", "storageAccounts"): "2017-10-01", ("Microsoft.KeyVault", "vaults"): "2016-10-01",
                          ("Microsoft.Resources", "deployments"): "2018-05-01", ("Microsoft.Authorization", "locks"): "2016-09-01",
                          ("Microsoft.Authorization", "policyDefinitions"): "2016-12-01",
                          ("Microsoft.Authorization", "roleDefinitions"): "2015-07-01"},
    "2020-09-01-hybrid": {**{("Microsoft.Compute", t): "2020-06-01" for t in (*_COMPUTE, "images")},
                          **{("Microsoft.Compute", t): "2019-07-01" for t in ("disks", "snapshots")},
                          **{("Microsoft.Network", t): "2018-11-01" for t in _NETWORK}, ("Microsoft.Network", "dnsZones"): "2016-04-01",
                          ("Microsoft.Storage", "storageAccounts"): "2019-06-01", ("Microsoft.KeyVault", "vaults"): "2019-09-01",
                          ("Microsoft.Resources", "deployments"): "2019-10-01", ("Microsoft.Authorization", "locks"): "2016-09-01",
                          ("Microsoft.Authorization", "policyAssignments"): "2016-12-01"},
}


@pytest.mark.parametrize("profile", sorted(PROFILE_TYPES))
def test_an_api_profile_resolves_every_type_microsofts_definition_names(profile):
    from azs_emulator.api_tables import profile_version

    resolved = {key: profile_version(profile, *key) for key in PROFILE_TYPES[profile]}
    assert resolved == PROFILE_TYPES[profile]


def _account_template(*names: str) -> dict:
    """Storage accounts ``names``, each made after the one before it."""
    return {"$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
            "contentVersion": "1.0.0.0", "resources": [{
                "type": "Microsoft.Storage/storageAccounts", "apiVersion": "2016-01-01", "name": name, "location": "local",
                "sku": {"name": "Standard_LRS"}, "kind": "Storage", "properties": {},
                "dependsOn": [names[index - 1]] if index else []} for index, name in enumerate(names)]}


@pytest.mark.parametrize("release", RELEASES)
def test_a_failed_deployment_rolls_back_to_the_last_successful_or_a_named_one(start_emulator, release):
    info, profile, resources = _stack(start_emulator, release)
    resources.providers.register("Microsoft.Storage")
    first = resources.deployments.begin_create_or_update("rg", "first", {"properties": {
        "template": _account_template("rollbackfirst"), "mode": "Incremental"}}).result()
    assert first.properties.on_error_deployment is None

    # an account name with capitals fails when the deployment runs (its template validates), after one account is made
    failing = {"properties": {"template": _account_template("rollbackextra", "NotAValidName"), "mode": "Incremental",
                              "on_error_deployment": {"type": "LastSuccessful"}}}
    with pytest.raises(HttpResponseError):
        resources.deployments.begin_create_or_update("rg", "second", failing).result()
    second = resources.deployments.get("rg", "second")
    assert second.properties.provisioning_state == "Failed"
    assert (second.properties.on_error_deployment.type, second.properties.on_error_deployment.deployment_name) == (
        "LastSuccessful", "first")
    assert second.properties.on_error_deployment.provisioning_state == "Succeeded"  # "first" was deployed again
    assert resources.deployments.get("rg", "first").properties.provisioning_state == "Succeeded"
    # Resource Manager runs the rollback in Complete mode, whatever the target's: what only the failed one made goes.
    accounts = {r.name for r in resources.resources.list_by_resource_group("rg", filter="resourceType eq 'Microsoft.Storage/storageAccounts'")}
    assert accounts == {"rollbackfirst"}

    named = {"properties": {"template": _account_template("rollbackthird"), "mode": "Incremental",
                            "on_error_deployment": {"type": "SpecificDeployment", "deployment_name": "second"}}}
    with pytest.raises(HttpResponseError) as raised:  # only a deployment that succeeded can be rolled back to
        resources.deployments.begin_create_or_update("rg", "third", named).result()
    assert raised.value.status_code == 400
    named["properties"]["on_error_deployment"]["deployment_name"] = "first"
    third = resources.deployments.begin_create_or_update("rg", "third", named).result()
    assert third.properties.on_error_deployment.deployment_name == "first"
