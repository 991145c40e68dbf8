"""Unmanaged VM disks are page blobs in their storage account, as on a Stack: a VM's OS disk and empty data disk
appear in the account's container (``az vm create --use-unmanaged-disk`` then ``az storage blob list``: 404 before,
peer-faults-turn4 A9), and a VM is made from an existing VHD with ``createOption: Attach`` and no image reference
(``az vm create --attach-os-disk``: 400 PlatformImageNotFound ``None:None:None:latest`` before, A5)."""

from __future__ import annotations

from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.storage.blob import BlobType

from tests import sdk

GiB = 1 << 30


def test_unmanaged_disks_are_page_blobs_and_a_vm_attaches_one(start_emulator):
    info, profile, _ = sdk.stack_with_group(start_emulator, "2108", "azure_ad", "Microsoft.Compute", "Microsoft.Network",
                                            "Microsoft.Storage")
    account, key, blobs = sdk.blob_account(info, profile, "disks1")
    network = sdk.client(NetworkManagementClient, info, profile)
    compute = sdk.client(ComputeManagementClient, info, profile)
    nic = sdk.nic_on(network, sdk.vnet_with_a_subnet(network).subnets[0].id)
    os_vhd = f"{account.primary_endpoints.blob}vhds/vm1-os.vhd"
    compute.virtual_machines.begin_create_or_update("rg", "vm1", {
        "location": "local", "hardware_profile": {"vm_size": "Standard_A2_v2"},
        "storage_profile": {"image_reference": {"publisher": "Canonical", "offer": "UbuntuServer", "sku": "18.04-LTS",
                                                "version": "latest"},
                            "os_disk": {"name": "os", "create_option": "FromImage", "vhd": {"uri": os_vhd}},
                            "data_disks": [{"lun": 0, "name": "data", "create_option": "Empty", "disk_size_gb": 2,
                                            "vhd": {"uri": f"{account.primary_endpoints.blob}vhds/vm1-data.vhd"}}]},
        "os_profile": {"computer_name": "vm1", "admin_username": "azureuser", "admin_password": "Pa55word!Pa55word"},
        "network_profile": {"network_interfaces": [{"id": nic.id}]}}).result()
    disks = {b.name: b for b in blobs.get_container_client("vhds").list_blobs()}
    assert sorted(disks) == ["vm1-data.vhd", "vm1-os.vhd"]
    assert disks["vm1-os.vhd"].blob_type == BlobType.PageBlob and disks["vm1-os.vhd"].size == 30 * GiB
    assert disks["vm1-data.vhd"].size == 2 * GiB
    # What a team does with a VHD: write it (here: a page), then make a VM of it.
    os_disk = blobs.get_blob_client("vhds", "vm1-os.vhd")
    os_disk.upload_page(b"\x01" * 512, offset=0, length=512)
    compute.virtual_machines.begin_delete("rg", "vm1").result()
    assert "vm1-os.vhd" in [b.name for b in blobs.get_container_client("vhds").list_blobs()]  # the VHD outlives its VM
    vm2 = compute.virtual_machines.begin_create_or_update("rg", "vm2", {
        "location": "local", "hardware_profile": {"vm_size": "Standard_A2_v2"},
        "storage_profile": {"os_disk": {"name": "os", "create_option": "Attach", "os_type": "Linux", "vhd": {"uri": os_vhd}}},
        "network_profile": {"network_interfaces": [{"id": nic.id}]}}).result()
    assert vm2.storage_profile.os_disk.create_option == "Attach" and vm2.storage_profile.os_disk.os_type == "Linux"
    assert os_disk.download_blob(offset=0, length=512).readall() == b"\x01" * 512  # attached as it was
