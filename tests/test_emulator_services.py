"""Compute, Key Vault, resource lists, tags and storage keys on the emulator, driven by the real track 2 clients with
each release's profile (and the data plane with azure-keyvault-secrets); template deployments are in
test_emulator_deployments.py."""

from __future__ import annotations

import base64
import json

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.keyvault.secrets import SecretClient
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource import ResourceManagementClient
from azure.mgmt.storage import StorageManagementClient

from tests import sdk


def _get(info, path, **params):
    params.setdefault("api-version", "2019-10-01")
    response = requests.get(f"{info['arm_endpoint']}subscriptions/{info['subscription_id']}/{path}", params=params,
                            headers=sdk.bearer(info), verify=info["ca_cert"], timeout=10)
    return response.status_code, response.json()


# -- several api-versions per type -------------------------------------------------------------------


@pytest.mark.parametrize(("release", "older"), [("2108", "2018-05-01"), ("2108", "2016-02-01"), ("2008", "2016-02-01")])
def test_a_release_serves_older_profiles_versions_too(start_emulator, release, older):
    info = start_emulator(release=release).info()
    status, body = _get(info, "resourcegroups", **{"api-version": older})
    assert status == 200 and body["value"] == []
    status, body = _get(info, "providers/Microsoft.KeyVault", **{"api-version": older})
    vaults = next(t for t in body["resourceTypes"] if t["resourceType"] == "vaults")
    assert "2016-10-01" in vaults["apiVersions"]
    assert ("2019-09-01" in vaults["apiVersions"]) == (release == "2108")


@pytest.mark.slow
def test_azure_mgmt_core_registers_a_provider_itself_on_409(start_emulator):
    """No explicit registration: the SDK's own policy POSTs register?api-version=2016-02-01 and retries.
    (A plain PUT: the policy cannot read the 409 of a long-running operation's first request, which the SDK
    streams, so there it gives up - on a real Stack too; hence the generated project's registration step.)"""
    emulator = start_emulator()
    info = emulator.info()
    profile = sdk.PROFILE_OF_RELEASE["2108"]
    sdk.client(ResourceManagementClient, info, profile).resource_groups.create_or_update("rg", {"location": "local"})
    compute = sdk.client(ComputeManagementClient, info, profile)
    created = compute.availability_sets.create_or_update("rg", "set", {"location": "local"})
    assert created.platform_fault_domain_count == 2
    assert ("POST", f"/subscriptions/{info['subscription_id']}/providers/Microsoft.Compute/register") in emulator.request_log


# -- resources, filters and tags ---------------------------------------------------------------------


def test_resource_lists_filter_expand_top_and_tags(start_emulator):
    info, profile, resources = sdk.stack_with_group(start_emulator, "2108", "azure_ad", "Microsoft.Storage", "Microsoft.Network")
    storage = sdk.client(StorageManagementClient, info, profile)
    network = sdk.client(NetworkManagementClient, info, profile)
    for index in range(3):
        storage.storage_accounts.begin_create("rg", f"acct{index}", {"location": "local", "sku": {"name": "Standard_LRS"},
                                                                     "kind": "Storage", "tags": {"team": f"t{index % 2}"}}).result()
    network.virtual_networks.begin_create_or_update("rg", "vnet", {"location": "local", "tags": {"team": "t0"},
                                                                   "address_space": {"address_prefixes": ["10.0.0.0/16"]}}).result()
    everything = list(resources.resources.list())
    assert sorted(r.name for r in everything) == ["acct0", "acct1", "acct2", "vnet"]
    accounts = resources.resources.list(filter="resourceType eq 'Microsoft.Storage/storageAccounts'")
    assert sorted(r.name for r in accounts) == ["acct0", "acct1", "acct2"]
    tagged = resources.resources.list(filter="tagName eq 'team' and tagValue eq 't0'")
    assert sorted(r.name for r in tagged) == ["acct0", "acct2", "vnet"]
    expanded = list(resources.resources.list_by_resource_group("rg", expand="createdTime,provisioningState"))
    assert all(r.created_time is not None and r.provisioning_state == "Succeeded" for r in expanded)
    status, page = _get(info, "resources", **{"$top": "2"})
    assert status == 200 and len(page["value"]) == 2 and "nextLink" in page
    follow = requests.get(page["nextLink"], headers=sdk.bearer(info), verify=info["ca_cert"], timeout=10).json()
    assert {r["name"] for r in page["value"]} | {r["name"] for r in follow["value"]} == {"acct0", "acct1", "acct2", "vnet"}
    status, error = _get(info, "resources", **{"$filter": "nonsense"})
    assert status == 400 and error["error"]["code"] == "InvalidFilterInQueryString"

    names = {t.tag_name: t.count.value for t in resources.tags.list()}
    assert names == {"team": 4}
    account_id = next(r.id for r in everything if r.name == "acct1")
    resources.tags.update_at_scope(account_id, {"operation": "Merge", "properties": {"tags": {"owner": "me"}}})
    assert storage.storage_accounts.get_properties("rg", "acct1").tags == {"team": "t1", "owner": "me"}
    assert resources.tags.get_at_scope(account_id).properties.tags == {"team": "t1", "owner": "me"}


def test_storage_keys_are_base64_of_64_bytes_and_regenerate(start_emulator):
    info, profile, _ = sdk.stack_with_group(start_emulator, "2008", "azure_ad", "Microsoft.Storage")
    storage = sdk.client(StorageManagementClient, info, profile)
    storage.storage_accounts.begin_create("rg", "acct", {"location": "local", "sku": {"name": "Standard_LRS"}, "kind": "Storage"}).result()
    before = {k.key_name: k.value for k in storage.storage_accounts.list_keys("rg", "acct").keys}
    assert all(len(base64.b64decode(v, validate=True)) == 64 for v in before.values())
    after = {k.key_name: k.value for k in storage.storage_accounts.regenerate_key("rg", "acct", {"key_name": "key2"}).keys}
    assert after["key1"] == before["key1"] and after["key2"] != before["key2"]


@pytest.mark.parametrize(("release", "identity"), sdk.COMBINATIONS)
def test_a_linux_vm_from_a_marketplace_image_with_disks_power_and_delete(start_emulator, release, identity):
    info, profile, resources = sdk.stack_with_group(start_emulator, release, identity, "Microsoft.Network", "Microsoft.Compute")
    network = sdk.client(NetworkManagementClient, info, profile)
    compute = sdk.client(ComputeManagementClient, info, profile)
    subnet = network.virtual_networks.begin_create_or_update("rg", "vnet", {
        "location": "local", "address_space": {"address_prefixes": ["10.0.0.0/16"]},
        "subnets": [{"name": "default", "address_prefix": "10.0.0.0/24"}]}).result().subnets[0]
    ip = network.public_ip_addresses.begin_create_or_update("rg", "ip", {"location": "local", "public_ip_allocation_method": "Dynamic"}).result()
    nsg = network.network_security_groups.begin_create_or_update("rg", "nsg", {"location": "local", "security_rules": [
        {"name": "ssh", "protocol": "Tcp", "access": "Allow", "direction": "Inbound", "priority": 1000,
         "source_address_prefix": "*", "source_port_range": "*", "destination_address_prefix": "*", "destination_port_range": "22"}]}).result()
    nic = network.network_interfaces.begin_create_or_update("rg", "nic", {
        "location": "local", "network_security_group": {"id": nsg.id},
        "ip_configurations": [{"name": "ipconfig1", "subnet": {"id": subnet.id}, "public_ip_address": {"id": ip.id}}]}).result()
    assert nic.ip_configurations[0].private_ip_address == "10.0.0.4"

    assert "Standard_A2_v2" in [s.name for s in compute.virtual_machine_sizes.list("local")]
    publishers = [p.name for p in compute.virtual_machine_images.list_publishers("local")]
    assert "Canonical" in publishers
    offer = compute.virtual_machine_images.list_offers("local", "Canonical")[0].name
    sku = next(s.name for s in compute.virtual_machine_images.list_skus("local", "Canonical", offer) if "18.04" in s.name)
    version = compute.virtual_machine_images.list("local", "Canonical", offer, sku)[-1].name
    image = compute.virtual_machine_images.get("local", "Canonical", offer, sku, version)
    assert image.os_disk_image.operating_system == "Linux"

    vm = compute.virtual_machines.begin_create_or_update("rg", "vm", {
        "location": "local",
        "hardware_profile": {"vm_size": "Standard_A2_v2"},
        "storage_profile": {
            "image_reference": {"publisher": "Canonical", "offer": offer, "sku": sku, "version": "latest"},
            "os_disk": {"create_option": "FromImage", "managed_disk": {"storage_account_type": "Standard_LRS"}},
            "data_disks": [{"lun": 0, "create_option": "Empty", "disk_size_gb": 4}],
        },
        "os_profile": {"computer_name": "vm", "admin_username": "azureuser",
                       "linux_configuration": {"disable_password_authentication": True, "ssh": {"public_keys": [
                           {"path": "/home/azureuser/.ssh/authorized_keys", "key_data": sdk.SSH_KEY}]}}},
        "network_profile": {"network_interfaces": [{"id": nic.id}]},
    }).result()
    assert vm.provisioning_state == "Succeeded" and vm.storage_profile.os_disk.managed_disk.id
    disks = {d.name: d for d in compute.disks.list_by_resource_group("rg")}
    assert len(disks) == 2 and all(d.managed_by == vm.id for d in disks.values())
    with pytest.raises(HttpResponseError) as raised:
        compute.disks.begin_delete("rg", vm.storage_profile.data_disks[0].name).result()
    assert raised.value.status_code == 409

    def power():
        view = compute.virtual_machines.instance_view("rg", "vm")
        return next(s.code for s in view.statuses if s.code.startswith("PowerState/"))

    assert power() == "PowerState/running"
    compute.virtual_machines.begin_power_off("rg", "vm").result()
    assert power() == "PowerState/stopped"
    compute.virtual_machines.begin_start("rg", "vm").result()
    compute.virtual_machines.begin_restart("rg", "vm").result()
    assert power() == "PowerState/running"
    compute.virtual_machines.begin_deallocate("rg", "vm").result()
    expanded = compute.virtual_machines.get("rg", "vm", expand="instanceView")
    assert any(s.code == "PowerState/deallocated" for s in expanded.instance_view.statuses)

    # An update that names only tags keeps everything else, as ARM does.
    tagged = compute.virtual_machines.begin_create_or_update("rg", "vm", {"location": "local", "tags": {"a": "b"}}).result()
    assert tagged.tags == {"a": "b"} and tagged.storage_profile.os_disk.name == vm.storage_profile.os_disk.name
    assert [v.name for v in compute.virtual_machines.list("rg")] == ["vm"]
    assert [v.name for v in compute.virtual_machines.list_all()] == ["vm"]

    compute.virtual_machines.begin_delete("rg", "vm").result()
    assert list(compute.virtual_machines.list("rg")) == []
    assert all(d.managed_by is None for d in compute.disks.list_by_resource_group("rg"))
    for disk in compute.disks.list_by_resource_group("rg"):
        compute.disks.begin_delete("rg", disk.name).result()
    network.network_interfaces.begin_delete("rg", "nic").result()
    network.public_ip_addresses.begin_delete("rg", "ip").result()


def test_a_vm_from_an_image_the_stack_does_not_offer_is_refused_and_leaves_nothing(start_emulator):
    info, profile, resources = sdk.stack_with_group(start_emulator, "2108", "azure_ad", "Microsoft.Network", "Microsoft.Compute")
    network = sdk.client(NetworkManagementClient, info, profile)
    compute = sdk.client(ComputeManagementClient, info, profile)
    subnet = network.virtual_networks.begin_create_or_update("rg", "vnet", {
        "location": "local", "address_space": {"address_prefixes": ["10.0.0.0/16"]},
        "subnets": [{"name": "default", "address_prefix": "10.0.0.0/24"}]}).result().subnets[0]
    nic = network.network_interfaces.begin_create_or_update("rg", "nic", {
        "location": "local", "ip_configurations": [{"name": "c", "subnet": {"id": subnet.id}}]}).result()
    with pytest.raises(HttpResponseError) as raised:
        compute.virtual_machines.begin_create_or_update("rg", "vm", {
            "location": "local", "hardware_profile": {"vm_size": "Standard_A2_v2"},
            "storage_profile": {"image_reference": {"publisher": "Contoso", "offer": "Nope", "sku": "1", "version": "latest"},
                                "os_disk": {"create_option": "FromImage"}},
            "os_profile": {"computer_name": "vm", "admin_username": "u", "linux_configuration": {
                "ssh": {"public_keys": [{"path": "/home/u/.ssh/authorized_keys", "key_data": sdk.SSH_KEY}]}}},
            "network_profile": {"network_interfaces": [{"id": nic.id}]}}).result()
    assert raised.value.error.code == "PlatformImageNotFound"
    assert list(compute.disks.list_by_resource_group("rg")) == []
    assert network.network_interfaces.get("rg", "nic").virtual_machine is None


def test_the_marketplace_offers_centos_7_5_from_microsofts_list_of_items_for_stack(start_emulator):
    info, profile, _ = sdk.stack_with_group(start_emulator, "2108", "azure_ad", "Microsoft.Compute")
    images = sdk.client(ComputeManagementClient, info, profile).virtual_machine_images
    assert [s.name for s in images.list_skus("local", "OpenLogic", "CentOS")] == ["7.5"]
    version = images.list("local", "OpenLogic", "CentOS", "7.5")[0].name
    assert images.get("local", "OpenLogic", "CentOS", "7.5", version).os_disk_image.operating_system == "Linux"


# -- Key Vault ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("release", "identity"), sdk.COMBINATIONS)
def test_key_vault_and_its_secrets_with_challenge_sign_in(start_emulator, release, identity):
    info, profile, resources = sdk.stack_with_group(start_emulator, release, identity, "Microsoft.KeyVault")
    keyvault = sdk.client(KeyVaultManagementClient, info, profile)
    name = f"kv{release}{identity[:3]}".replace("_", "")
    if release == "2008":  # Key Vault 2016-10-01 on a Stack has no checkNameAvailability (spec: both hybrid profiles)
        with pytest.raises(ResourceNotFoundError):
            keyvault.vaults.check_name_availability({"name": name, "type": "Microsoft.KeyVault/vaults"})
    else:
        assert keyvault.vaults.check_name_availability({"name": name, "type": "Microsoft.KeyVault/vaults"}).name_available
    parameters = {"location": "local", "properties": {
        "tenant_id": info["tenant_id"], "sku": {"family": "A", "name": "standard"},
        "access_policies": [{"tenant_id": info["tenant_id"], "object_id": sdk.object_id(info),
                             "permissions": {"secrets": ["get", "list", "set", "delete", "purge"]}}]}}
    create = getattr(keyvault.vaults, "begin_create_or_update", None) or keyvault.vaults.create_or_update
    vault = create("rg", name, parameters)
    vault = vault.result() if hasattr(vault, "result") else vault
    assert vault.properties.vault_uri == f"https://{name}.{info['keyvault_dns_suffix']}/"  # a host of its own, as on a Stack
    assert keyvault.vaults.get("rg", name).properties.vault_uri == vault.properties.vault_uri
    assert name in [v.name for v in keyvault.vaults.list_by_resource_group("rg")]

    # The SDK's own challenge check stays on: the vault's host ends in the challenge resource's (as on a Stack).
    secrets = SecretClient(vault.properties.vault_uri, sdk.credential(info), api_version="2016-10-01",
                           connection_verify=info["keyvault_ca_cert"])
    first = secrets.set_secret("db-password", "one")
    secrets.set_secret("db-password", "two")
    assert secrets.get_secret("db-password").value == "two"
    assert secrets.get_secret("db-password", first.properties.version).value == "one"
    assert len(list(secrets.list_properties_of_secret_versions("db-password"))) == 2
    assert [s.name for s in secrets.list_properties_of_secrets()] == ["db-password"]
    deleted = secrets.begin_delete_secret("db-password").result()
    assert deleted.name == "db-password"
    if release == "azure":  # soft delete: the name is held until purged
        secrets.purge_deleted_secret("db-password")
    with pytest.raises(ResourceNotFoundError):
        secrets.get_secret("db-password")

    # Without an access policy the data plane answers 403.
    keyvault.vaults.update_access_policy("rg", name, "remove", {"properties": {"access_policies": [
        {"tenant_id": info["tenant_id"], "object_id": sdk.object_id(info), "permissions": {"secrets": ["set"]}}]}})
    with pytest.raises(HttpResponseError) as raised:
        secrets.set_secret("other", "x")
    assert raised.value.status_code == 403
    keyvault.vaults.delete("rg", name)
    with pytest.raises(ResourceNotFoundError):
        keyvault.vaults.get("rg", name)


def test_a_vault_refuses_a_data_plane_version_the_release_does_not_serve(start_emulator):
    info, profile, resources = sdk.stack_with_group(start_emulator, "2108", "azure_ad", "Microsoft.KeyVault")
    keyvault = sdk.client(KeyVaultManagementClient, info, profile)
    vault = keyvault.vaults.begin_create_or_update("rg", "kvversions", {"location": "local", "properties": {
        "tenant_id": info["tenant_id"], "sku": {"family": "A", "name": "standard"}, "access_policies": []}}).result()
    secrets = SecretClient(vault.properties.vault_uri, sdk.credential(info), api_version="7.4",
                           connection_verify=info["keyvault_ca_cert"])
    with pytest.raises(HttpResponseError) as raised:
        secrets.set_secret("s", "v")
    assert raised.value.status_code == 400 and "2016-10-01" in str(raised.value)


# -- the calls of Microsoft's hybrid samples (Azure-Samples/Hybrid-Python-Samples), in our own words --


def test_the_vm_samples_sequence_create_tag_attach_detach_resize_power_delete(start_emulator):
    info, profile, resources = sdk.stack_with_group(start_emulator, "2108", "azure_ad", "Microsoft.Network", "Microsoft.Compute", "Microsoft.Storage")
    network = sdk.client(NetworkManagementClient, info, profile)
    compute = sdk.client(ComputeManagementClient, info, profile)
    network.virtual_networks.begin_create_or_update(
        "rg", "net", {"location": "local", "address_space": {"address_prefixes": ["10.0.0.0/16"]}}).result()
    subnet = network.subnets.begin_create_or_update("rg", "net", "sub", {"address_prefix": "10.0.0.0/24"}).result()
    nic = network.network_interfaces.begin_create_or_update("rg", "nic", {"location": "local", "ip_configurations": [
        {"name": "cfg", "subnet": {"id": subnet.id}}]}).result()
    # No osDisk at all, a password rather than a key, an older Windows-era size.
    compute.virtual_machines.begin_create_or_update("rg", "vm", {
        "location": "local", "hardware_profile": {"vm_size": "Standard_DS1_v2"},
        "os_profile": {"computer_name": "vm", "admin_username": "someone", "admin_password": "Pa55-word-for-a-test"},
        "storage_profile": {"image_reference": {"publisher": "Canonical", "offer": "UbuntuServer", "sku": "16.04-LTS", "version": "latest"}},
        "network_profile": {"network_interfaces": [{"id": nic.id}]}}).result()
    assert "adminPassword" not in json.dumps(compute.virtual_machines.get("rg", "vm").as_dict())
    compute.virtual_machines.begin_create_or_update("rg", "vm", {"location": "local", "tags": {"k": "v"}}).result()
    disk = compute.disks.begin_create_or_update("rg", "extra", {"location": "local", "disk_size_gb": 1,
                                                                "creation_data": {"create_option": "Empty"}}).result()
    vm = compute.virtual_machines.get("rg", "vm")
    vm.storage_profile.data_disks.append({"lun": 12, "name": "extra", "create_option": "Attach", "managed_disk": {"id": disk.id}})
    vm = compute.virtual_machines.begin_create_or_update("rg", "vm", vm).result()
    assert compute.disks.get("rg", "extra").managed_by == vm.id
    vm.storage_profile.data_disks[:] = [d for d in vm.storage_profile.data_disks if d.name != "extra"]
    vm = compute.virtual_machines.begin_create_or_update("rg", "vm", vm).result()
    assert compute.disks.get("rg", "extra").managed_by is None
    compute.virtual_machines.begin_deallocate("rg", "vm").result()
    os_disk = compute.disks.get("rg", vm.storage_profile.os_disk.name)
    os_disk.disk_size_gb += 10
    assert compute.disks.begin_create_or_update("rg", os_disk.name, os_disk).result().disk_size_gb == 40
    for action in (compute.virtual_machines.begin_start, compute.virtual_machines.begin_restart, compute.virtual_machines.begin_power_off):
        action("rg", "vm").result()
    assert [v.name for v in compute.virtual_machines.list_all()] == [v.name for v in compute.virtual_machines.list("rg")] == ["vm"]
    compute.virtual_machines.begin_delete("rg", "vm").result()
    resources.resource_groups.begin_delete("rg").result()
    assert list(resources.resources.list()) == []
