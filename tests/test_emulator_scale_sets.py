"""A scale set's actions on its instances and the network interfaces its instances hold, driven by the real
azure-mgmt-compute and azure-mgmt-network with each release's profile (what `az vmss start|stop|deallocate|
delete-instances|update-instances` and `az vmss nic list|list-vm-nics|show` call)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource import ResourceManagementClient

from tests import sdk

TEMPLATE = Path(__file__).parent / "fixtures" / "arm" / "scale-set-with-dns.json"


def _scale_set(start_emulator, release):
    info = start_emulator(release=release).info()
    profile = sdk.PROFILE_OF_RELEASE[release]
    resources = sdk.client(ResourceManagementClient, info, profile)
    resources.resource_groups.create_or_update("rg", {"location": "local"})
    template = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    resources.deployments.begin_create_or_update("rg", "web", {"properties": {
        "template": template, "mode": "Incremental", "parameters": {"adminPassword": {"value": "Not-a-real-secret-1"},
                                                                    "instanceCount": {"value": 3}}}}).result()
    return sdk.client(ComputeManagementClient, info, profile), sdk.client(NetworkManagementClient, info, profile)


def test_a_scale_sets_model_gets_the_os_configuration_of_its_image(start_emulator):
    """How clients tell a Linux model (`az vmss diagnostics set` picks Linux's diagnostics extension by it)."""
    compute, _ = _scale_set(start_emulator, "2108")
    scale_sets = compute.virtual_machine_scale_sets
    linux = scale_sets.get("rg", "web-vmss")
    assert linux.virtual_machine_profile.os_profile.linux_configuration.disable_password_authentication is False
    assert linux.virtual_machine_profile.os_profile.linux_configuration.provision_vm_agent is True

    model = linux.virtual_machine_profile
    model.os_profile.linux_configuration = None
    model.os_profile.admin_password = "Not-a-real-secret-1"
    model.storage_profile.image_reference = {"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer",
                                             "sku": "2016-Datacenter", "version": "latest"}
    model.extension_profile = None
    windows = scale_sets.begin_create_or_update("rg", "win-vmss", {
        "location": "local", "sku": {"name": "Standard_A1", "tier": "Standard", "capacity": 1},
        "upgrade_policy": {"mode": "Manual"}, "virtual_machine_profile": model}).result()
    assert windows.virtual_machine_profile.os_profile.windows_configuration.enable_automatic_updates is True
    assert windows.virtual_machine_profile.os_profile.linux_configuration is None


def _power(compute, instance_id):
    statuses = compute.virtual_machine_scale_set_vms.get_instance_view("rg", "web-vmss", instance_id).statuses
    return next(s.code for s in statuses if s.code.startswith("PowerState/"))


@pytest.mark.parametrize("release", ["2008", "2108"])
def test_instances_are_stopped_started_deallocated_upgraded_and_deleted_by_id_or_all_at_once(start_emulator, release):
    compute, _ = _scale_set(start_emulator, release)
    scale_sets = compute.virtual_machine_scale_sets
    scale_sets.begin_power_off("rg", "web-vmss", vm_instance_i_ds={"instance_ids": ["1"]}).result()
    assert [_power(compute, i) for i in "012"] == ["PowerState/running", "PowerState/stopped", "PowerState/running"]
    scale_sets.begin_deallocate("rg", "web-vmss").result()  # no ids: every instance
    assert {_power(compute, i) for i in "012"} == {"PowerState/deallocated"}
    scale_sets.begin_start("rg", "web-vmss", vm_instance_i_ds={"instance_ids": ["*"]}).result()
    assert {_power(compute, i) for i in "012"} == {"PowerState/running"}
    scale_sets.begin_update_instances("rg", "web-vmss", {"instance_ids": ["0", "2"]}).result()

    scale_sets.begin_delete_instances("rg", "web-vmss", {"instance_ids": ["0", "2"]}).result()
    assert [i.instance_id for i in compute.virtual_machine_scale_set_vms.list("rg", "web-vmss")] == ["1"]
    assert scale_sets.get("rg", "web-vmss").sku.capacity == 1  # deleting instances scales in
    with pytest.raises(HttpResponseError) as raised:
        scale_sets.begin_delete_instances("rg", "web-vmss", {"instance_ids": ["7"]}).result()
    assert raised.value.status_code == 400 and "7" in raised.value.message


@pytest.mark.parametrize("release", ["2008", "2108"])
def test_each_instance_holds_a_nic_per_configuration_with_an_address_of_its_subnet(start_emulator, release):
    compute, network = _scale_set(start_emulator, release)
    configuration = compute.virtual_machine_scale_sets.get("rg", "web-vmss").virtual_machine_profile.network_profile \
        .network_interface_configurations[0]
    nics = list(network.network_interfaces.list_virtual_machine_scale_set_network_interfaces("rg", "web-vmss"))
    assert [n.virtual_machine.id.rsplit("/", 1)[1] for n in nics] == ["0", "1", "2"]
    addresses = [n.ip_configurations[0].private_ip_address for n in nics]
    subnet = network.subnets.get("rg", "web-vnet", nics[0].ip_configurations[0].subnet.id.rsplit("/", 1)[1])
    assert len(set(addresses)) == 3 and all(
        ipaddress.ip_address(a) in ipaddress.ip_network(subnet.address_prefix) for a in addresses)
    assert nics[0].ip_configurations[0].load_balancer_backend_address_pools[0].id.endswith("/backendAddressPools/pool")

    one = list(network.network_interfaces.list_virtual_machine_scale_set_vm_network_interfaces("rg", "web-vmss", "1"))
    assert [n.name for n in one] == [configuration.name]
    shown = network.network_interfaces.get_virtual_machine_scale_set_network_interface("rg", "web-vmss", "1", configuration.name)
    assert shown.id == one[0].id and shown.ip_configurations[0].private_ip_address == addresses[1]


def test_each_instance_in_an_inbound_nat_pool_gets_a_nat_rule_of_its_own(start_emulator):
    """What `az vmss list-instance-connection-info` reads: the instance behind each frontend port."""
    compute, network = _scale_set(start_emulator, "2108")
    balancer = network.load_balancers.get("rg", "web-lb")
    pool = balancer.inbound_nat_pools[0]
    rules = sorted(balancer.inbound_nat_rules, key=lambda r: r.frontend_port)
    assert [r.name for r in rules] == [f"{pool.name}.0", f"{pool.name}.1", f"{pool.name}.2"]
    assert [r.frontend_port for r in rules] == [pool.frontend_port_range_start + i for i in range(3)]
    assert rules[1].backend_ip_configuration.id.split("/virtualMachines/")[1].startswith("1/networkInterfaces/")
    assert rules[0].backend_port == pool.backend_port
    compute.virtual_machine_scale_sets.begin_delete_instances("rg", "web-vmss", {"instance_ids": ["2"]}).result()
    assert len(network.load_balancers.get("rg", "web-lb").inbound_nat_rules) == 2


def test_an_instances_own_path_takes_power_actions_and_delete_and_star_means_every_instance(start_emulator):
    compute, _ = _scale_set(start_emulator, "2108")
    instances = compute.virtual_machine_scale_set_vms
    instances.begin_power_off("rg", "web-vmss", "2").result()
    assert [_power(compute, i) for i in "012"] == ["PowerState/running", "PowerState/running", "PowerState/stopped"]
    instances.begin_deallocate("rg", "web-vmss", "*").result()  # as `az vmss deallocate --instance-ids *` sends it
    assert {_power(compute, i) for i in "012"} == {"PowerState/deallocated"}
    instances.begin_delete("rg", "web-vmss", "0").result()
    assert [i.instance_id for i in instances.list("rg", "web-vmss")] == ["1", "2"]
    assert compute.virtual_machine_scale_sets.get("rg", "web-vmss").sku.capacity == 2



def test_an_instances_address_and_nat_port_stay_while_it_lives_and_no_other_nic_takes_them(start_emulator):
    """Dynamic addresses and NAT pool ports are given once: deleting instance 0 moves neither of instance 1's, and a
    NIC made later in the subnet gets an address no instance holds."""
    compute, network = _scale_set(start_emulator, "2108")

    def addresses() -> dict[str, str]:
        return {n.virtual_machine.id.rsplit("/", 1)[1]: n.ip_configurations[0].private_ip_address
                for n in network.network_interfaces.list_virtual_machine_scale_set_network_interfaces("rg", "web-vmss")}

    def ports() -> dict[str, int]:
        return {r.name.rsplit(".", 1)[1]: r.frontend_port for r in network.load_balancers.get("rg", "web-lb").inbound_nat_rules}

    before_addresses, before_ports = addresses(), ports()
    compute.virtual_machine_scale_sets.begin_delete_instances("rg", "web-vmss", {"instance_ids": ["0"]}).result()
    assert addresses() == {i: before_addresses[i] for i in ("1", "2")}
    assert ports() == {i: before_ports[i] for i in ("1", "2")}

    subnet_id = next(iter(network.network_interfaces.list_virtual_machine_scale_set_network_interfaces(
        "rg", "web-vmss"))).ip_configurations[0].subnet.id
    nic = network.network_interfaces.begin_create_or_update("rg", "later", {"location": "local", "ip_configurations": [
        {"name": "ipconfig1", "subnet": {"id": subnet_id}}]}).result()
    assert nic.ip_configurations[0].private_ip_address not in addresses().values()
    held = network.virtual_networks.check_ip_address_availability("rg", "web-vnet", ip_address=addresses()["1"])
    assert held.available is False and addresses()["1"] not in held.available_ip_addresses


def test_a_scale_set_from_a_user_image_vhd(start_emulator):
    # Spec: VirtualMachineScaleSetOSDisk.image is "the source user image" VHD, its osType the OS in it (Microsoft's Stack
    # quickstart 201-vmss-windows-customimage); no marketplace image is looked up.
    compute, _ = _scale_set(start_emulator, "2108")
    model = compute.virtual_machine_scale_sets.get("rg", "web-vmss").virtual_machine_profile
    model.os_profile.linux_configuration = None
    model.os_profile.admin_password = "Not-a-real-secret-1"
    model.extension_profile = None
    model.storage_profile.image_reference = None
    model.storage_profile.os_disk = {"name": "osdisk", "caching": "ReadOnly", "create_option": "FromImage", "os_type": "Windows",
                                     "image": {"uri": "https://images.blob.local.azurestack.external/vhds/golden.vhd"}}
    body = {"location": "local", "sku": {"name": "Standard_A1", "tier": "Standard", "capacity": 2},
            "upgrade_policy": {"mode": "Manual"}, "virtual_machine_profile": model}
    made = compute.virtual_machine_scale_sets.begin_create_or_update("rg", "custom-vmss", body).result()
    assert made.virtual_machine_profile.storage_profile.os_disk.image.uri.endswith("/vhds/golden.vhd")
    assert made.virtual_machine_profile.os_profile.windows_configuration.provision_vm_agent is True
    assert [i.instance_id for i in compute.virtual_machine_scale_set_vms.list("rg", "custom-vmss")] == ["0", "1"]
    # scaled out by capacity, as `az vmss scale` does
    compute.virtual_machine_scale_sets.begin_update("rg", "custom-vmss", {"sku": {"capacity": 3}}).result()
    assert len(list(compute.virtual_machine_scale_set_vms.list("rg", "custom-vmss"))) == 3
    body["virtual_machine_profile"].storage_profile.os_disk.os_type = None  # a user image says which OS it holds
    with pytest.raises(HttpResponseError, match="osType"):
        compute.virtual_machine_scale_sets.begin_create_or_update("rg", "no-os-vmss", body).result()
