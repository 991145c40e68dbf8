"""Management locks, policy definitions and assignments, and resource moves on the emulator, driven by the
real track 2 clients with each release's profile (locks 2016-09-01, policy 2016-12-01)."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource import ManagementLockClient, PolicyClient

from tests import sdk

RELEASES = ["2108", "2008"]


def _stack(start_emulator, release="2108", *more_namespaces):
    """An emulator of ``release`` with Microsoft.Network (and ``more_namespaces``) registered and group ``rg``."""
    return sdk.stack_with_group(start_emulator, release, "azure_ad", "Microsoft.Network", *more_namespaces)


def _stack_with_an_empty_disk(start_emulator, release: str, size_gb: int):
    """``_stack`` with Compute registered too, and its Compute client and an empty managed disk ``d1`` in ``rg``."""
    from azure.mgmt.compute import ComputeManagementClient

    info, profile, resources = _stack(start_emulator, release, "Microsoft.Compute")
    compute = sdk.client(ComputeManagementClient, info, profile)
    disk = compute.disks.begin_create_or_update("rg", "d1", {"location": "local", "disk_size_gb": size_gb,
                                                             "creation_data": {"create_option": "Empty"}}).result()
    return info, profile, resources, compute, disk


@pytest.mark.parametrize("release", RELEASES)
def test_a_group_lock_stops_the_group_delete_until_it_is_removed(start_emulator, release):
    info, profile, resources = _stack(start_emulator, release)
    locks = sdk.client(ManagementLockClient, info, profile)
    made = locks.management_locks.create_or_update_at_resource_group_level("rg", "keep", {"level": "cannotdelete", "notes": "n"})
    assert (made.level, made.notes) == ("CanNotDelete", "n")
    assert made.id == f"/subscriptions/{info['subscription_id']}/resourceGroups/rg/providers/Microsoft.Authorization/locks/keep"
    assert [lk.name for lk in locks.management_locks.list_at_resource_group_level("rg")] == ["keep"]
    assert [lk.name for lk in locks.management_locks.list_at_subscription_level()] == ["keep"]
    with pytest.raises(HttpResponseError) as refused:
        resources.resource_groups.begin_delete("rg").result()
    assert refused.value.status_code == 409 and refused.value.error.code == "ScopeLocked"
    assert resources.resource_groups.check_existence("rg")
    locks.management_locks.delete_at_resource_group_level("rg", "keep")
    with pytest.raises(ResourceNotFoundError):
        locks.management_locks.get_at_resource_group_level("rg", "keep")
    resources.resource_groups.begin_delete("rg").result()
    assert not resources.resource_groups.check_existence("rg")


def test_a_resource_lock_and_a_read_only_one(start_emulator):
    info, profile, resources = _stack(start_emulator)
    locks = sdk.client(ManagementLockClient, info, profile)
    network = sdk.client(NetworkManagementClient, info, profile)
    sdk.vnet_with_a_subnet(network)
    lock = locks.management_locks.create_or_update_at_resource_level(
        "rg", "Microsoft.Network", "", "virtualNetworks", "vnet", "vlock", {"level": "CanNotDelete"})
    assert lock.id.endswith("/providers/Microsoft.Network/virtualNetworks/vnet/providers/Microsoft.Authorization/locks/vlock")
    assert locks.management_locks.get_at_resource_level(
        "rg", "Microsoft.Network", "", "virtualNetworks", "vnet", "vlock").level == "CanNotDelete"
    for delete in (lambda: network.virtual_networks.begin_delete("rg", "vnet").result(),
                   lambda: network.subnets.begin_delete("rg", "vnet", "a").result()):
        with pytest.raises(HttpResponseError) as refused:
            delete()
        assert refused.value.error.code == "ScopeLocked"
    network.subnets.begin_create_or_update("rg", "vnet", "b", {"address_prefix": "10.0.1.0/24"}).result()  # writes pass
    locks.management_locks.create_or_update_at_resource_level(
        "rg", "Microsoft.Network", "", "virtualNetworks", "vnet", "vlock", {"level": "ReadOnly"})
    with pytest.raises(HttpResponseError) as refused:
        network.subnets.begin_create_or_update("rg", "vnet", "c", {"address_prefix": "10.0.2.0/24"}).result()
    assert refused.value.error.code == "ScopeLocked"
    with pytest.raises(ResourceNotFoundError):
        locks.management_locks.create_or_update_at_resource_level(
            "rg", "Microsoft.Network", "", "virtualNetworks", "nothing", "l", {"level": "ReadOnly"})
    locks.management_locks.delete_at_resource_level("rg", "Microsoft.Network", "", "virtualNetworks", "vnet", "vlock")
    network.virtual_networks.begin_delete("rg", "vnet").result()


@pytest.mark.parametrize("release", RELEASES)
def test_policy_definitions_and_assignments_at_2016_12_01(start_emulator, release):
    info, profile, resources = _stack(start_emulator, release)
    policy = sdk.client(PolicyClient, info, profile)
    rule = {"if": {"field": "location", "notIn": ["local"]}, "then": {"effect": "deny"}}
    made = policy.policy_definitions.create_or_update("only-local", {
        "policy_rule": rule, "display_name": "Only local", "description": "d", "mode": "indexed"})
    assert (made.policy_type, made.mode, made.display_name) == ("Custom", "Indexed", "Only local")
    assert [d.name for d in policy.policy_definitions.list()] == ["only-local"]
    # An update answers 201 too (the 2016-12-01 spec lists no other status; az's client refuses a 200).
    updated = policy.policy_definitions.create_or_update("only-local", {"policy_rule": rule, "description": "d2"})
    assert updated.description == "d2" and updated.display_name is None
    scope = f"/subscriptions/{info['subscription_id']}/resourceGroups/rg"
    assigned = policy.policy_assignments.create(scope, "a1", {"policy_definition_id": made.id, "display_name": "A"})
    assert assigned.scope == scope and assigned.policy_definition_id == made.id
    assert [a.name for a in policy.policy_assignments.list()] == ["a1"]  # below the subscription
    assert [a.name for a in policy.policy_assignments.list(filter="atScope()")] == []
    assert [a.name for a in policy.policy_assignments.list_for_resource_group("rg")] == ["a1"]
    policy.policy_assignments.delete(scope, "a1")
    with pytest.raises(ResourceNotFoundError):
        policy.policy_assignments.get(scope, "a1")
    with pytest.raises(ResourceNotFoundError):
        policy.policy_assignments.create(scope, "a2", {"policy_definition_id": made.id + "-missing"})
    with pytest.raises(HttpResponseError) as refused:
        policy.policy_definitions.create_or_update("bad", {"policy_rule": {"then": {"effect": "deny"}}})
    assert refused.value.error.code == "InvalidPolicyRule"
    policy.policy_definitions.delete("only-local")
    assert list(policy.policy_definitions.list()) == []


def test_resources_move_to_another_group_with_their_children_and_references(start_emulator):
    info, profile, resources = _stack(start_emulator)
    network = sdk.client(NetworkManagementClient, info, profile)
    resources.resource_groups.create_or_update("rg2", {"location": "local"})
    vnet = sdk.vnet_with_a_subnet(network)
    nic = sdk.nic_on(network, vnet.subnets[0].id)
    move = {"resources": [vnet.id, nic.id], "target_resource_group": f"/subscriptions/{info['subscription_id']}/resourceGroups/rg2"}
    resources.resources.begin_validate_move_resources("rg", move).result()
    resources.resources.begin_move_resources("rg", move).result()
    assert [r.name for r in resources.resources.list_by_resource_group("rg")] == []
    moved = network.network_interfaces.get("rg2", "nic")
    assert moved.ip_configurations[0].subnet.id == vnet.subnets[0].id.replace("/resourceGroups/rg/", "/resourceGroups/rg2/")
    assert network.subnets.get("rg2", "vnet", "a").address_prefix == "10.0.0.0/24"
    with pytest.raises(HttpResponseError) as refused:
        resources.resources.begin_move_resources("rg", {
            "resources": [moved.id], "target_resource_group": f"/subscriptions/{info['subscription_id']}/resourceGroups/rg2"
        }).result()
    assert refused.value.error.code == "InvalidResourceMoveRequest"


@pytest.mark.parametrize("release", RELEASES)
def test_a_managed_disk_is_exported_by_a_read_sas_and_access_ends(start_emulator, release):

    info, profile, resources, compute, disk = _stack_with_an_empty_disk(start_emulator, release, size_gb=4)
    version = "2019-07-01" if release == "2108" else "2017-03-30"

    def disk_state():  # the 2017-03-30 model has no diskState: read it through the generic resources client
        return resources.resources.get_by_id(disk.id, version).properties["diskState"]

    grant = compute.disks.begin_grant_access("rg", "d1", {"access": "Read", "duration_in_seconds": 600}).result()
    assert grant.access_sas.startswith("https://md-") and ".blob.local.azurestack.external/" in grant.access_sas
    assert "sp=r" in grant.access_sas and "sig=" in grant.access_sas
    assert disk_state() == "ActiveSAS"
    compute.disks.begin_revoke_access("rg", "d1").result()
    assert disk_state() == "Unattached"
    with pytest.raises(HttpResponseError) as refused:
        compute.disks.begin_grant_access("rg", "d1", {"access": "Write", "duration_in_seconds": 600}).result()
    assert refused.value.status_code == 400


@pytest.mark.parametrize("release", RELEASES)
def test_a_stopped_vm_is_generalized_and_captured_to_a_vhd(start_emulator, release):
    """``az resource invoke-action --action generalize`` / ``capture`` (the hybrid resource test's unmanaged VM)."""
    from azure.mgmt.compute import ComputeManagementClient

    info, profile, resources = _stack(start_emulator, release, "Microsoft.Compute")
    network = sdk.client(NetworkManagementClient, info, profile)
    compute = sdk.client(ComputeManagementClient, info, profile)
    subnet = sdk.vnet_with_a_subnet(network).subnets[0]
    nic = sdk.nic_on(network, subnet.id)
    vhd = "https://acct.blob.local.azurestack.external/vhds/os.vhd"
    compute.virtual_machines.begin_create_or_update("rg", "vm", {
        "location": "local", "hardware_profile": {"vm_size": "Standard_A2_v2"},
        "storage_profile": {"image_reference": {"publisher": "Canonical", "offer": "UbuntuServer", "sku": "18.04-LTS",
                                                "version": "latest"},
                            "os_disk": {"name": "os", "create_option": "FromImage", "vhd": {"uri": vhd}}},
        "os_profile": {"computer_name": "vm", "admin_username": "azureuser", "admin_password": "Pa55word!Pa55word"},
        "network_profile": {"network_interfaces": [{"id": nic.id}]}}).result()
    with pytest.raises(HttpResponseError) as refused:
        compute.virtual_machines.generalize("rg", "vm")
    assert refused.value.status_code == 409
    capture = {"vhd_prefix": "img", "destination_container_name": "images", "overwrite_vhds": True}
    with pytest.raises(HttpResponseError):
        compute.virtual_machines.begin_capture("rg", "vm", capture).result()  # not generalized yet
    compute.virtual_machines.begin_power_off("rg", "vm").result()
    compute.virtual_machines.generalize("rg", "vm")
    result = compute.virtual_machines.begin_capture("rg", "vm", capture).result()
    template = result.output if release == "2008" else {"resources": result.resources}
    (made,) = template["resources"]
    uri = made["properties"]["storageProfile"]["osDisk"]["image"]["uri"]
    assert uri.startswith("https://acct.blob.local.azurestack.external/system/Microsoft.Compute/Images/images/img-osDisk.")
    image = compute.images.begin_create_or_update("rg", "img", {"location": "local", "storage_profile": {"os_disk": {
        "os_type": "Linux", "os_state": "Generalized", "blob_uri": uri}}}).result()
    assert image.name == "img"
    deleting = compute.images.begin_delete("rg", "img")
    assert deleting.polling_method()._initial_response.http_response.status_code == 202  # long-running, as Compute deletes
    deleting.result()
    assert list(compute.images.list_by_resource_group("rg")) == []


@pytest.mark.parametrize("release", RELEASES)
def test_a_snapshot_of_a_disk_is_made_and_exported(start_emulator, release):

    info, profile, resources, compute, disk = _stack_with_an_empty_disk(start_emulator, release, size_gb=8)
    snapshot = compute.snapshots.begin_create_or_update("rg", "s1", {
        "location": "local", "creation_data": {"create_option": "Copy", "source_resource_id": disk.id}}).result()
    assert (snapshot.disk_size_gb, snapshot.sku.name) == (8, "Standard_LRS")
    grant = compute.snapshots.begin_grant_access("rg", "s1", {"access": "Read", "duration_in_seconds": 60}).result()
    assert grant.access_sas.startswith("https://md-")
    compute.snapshots.begin_delete("rg", "s1").result()
    assert [s.name for s in compute.snapshots.list_by_resource_group("rg")] == []


def test_the_ds_series_sizes_a_stack_lists(start_emulator):
    from azure.mgmt.compute import ComputeManagementClient

    info, profile, resources = _stack(start_emulator, "2008")
    sizes = {s.name: s for s in sdk.client(ComputeManagementClient, info, profile).virtual_machine_sizes.list("local")}
    assert (sizes["Standard_DS3"].number_of_cores, sizes["Standard_DS3"].max_data_disk_count) == (4, 16)


@pytest.mark.parametrize("release", RELEASES)
def test_resource_skus_are_the_stacks_sizes_in_its_region_without_zones(start_emulator, release):
    from azure.mgmt.compute import ComputeManagementClient

    info, profile, resources = _stack(start_emulator, release)
    skus = list(sdk.client(ComputeManagementClient, info, profile).resource_skus.list())
    machines = {s.name: s for s in skus if s.resource_type == "virtualMachines"}
    assert machines["Standard_DS2_v2"].locations == ["local"]
    assert machines["Standard_DS2_v2"].location_info[0].zones == []
    assert {c.name: c.value for c in machines["Standard_DS2_v2"].capabilities}["vCPUs"] == "2"
    assert {s.name for s in skus if s.resource_type == "disks"} == {"Standard_LRS", "Premium_LRS"}
