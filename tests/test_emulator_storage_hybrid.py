"""Faults of the emulator's own that Azure CLI's hybrid suites found in the storage data plane and the VHDs Compute
keeps there (``python -m tools.hybrid_suites``, docs/emulator.md), each shown here with the real Azure SDK (the
project's pins) over TLS, as a Stack user's code meets it."""

from __future__ import annotations

import datetime as dt

import requests
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.storage import StorageManagementClient
from azure.storage.blob import BlobSasPermissions, BlobServiceClient, ContentSettings, Metrics, generate_blob_sas

from tests import sdk
from tests.test_emulator_blob import VERSION, _account


def _client(info: dict, endpoint: str, name: str, key: str) -> BlobServiceClient:
    return BlobServiceClient(endpoint, credential={"account_name": name, "account_key": key}, api_version=VERSION,
                             connection_verify=info["ca_cert"])


def test_a_blob_sas_reads_the_blobs_snapshots_as_a_copy_source(start_emulator):
    """A SAS signed for a blob (``sr=b``) reads its snapshots too (``?snapshot=`` beside the SAS): the snapshot in the
    string to sign is the SAS's own, a snapshot SAS's (``sr=bs``). Backed by: Azure CLI's
    test_storage_blob_copy_with_sas_and_snapshot, a live test Microsoft runs against Azure, copies a snapshot from
    another account this way; the emulator signed the URL's snapshot in and refused the copy (403
    CannotVerifyCopySource)."""
    info, source_endpoint, source_key, storage = _account(start_emulator, name="source1")
    target = storage.storage_accounts.begin_create("rg", "target1", {"location": "local", "sku": {"name": "Standard_LRS"},
                                                                      "kind": "Storage"}).result()
    target_key = storage.storage_accounts.list_keys("rg", "target1").keys[0].value
    source = _client(info, source_endpoint, "source1", source_key).create_container("src").upload_blob("blob", b"first version")
    snapshot = source.create_snapshot()["snapshot"]
    source.upload_blob(b"second version", overwrite=True)
    now = dt.datetime.now(dt.timezone.utc)
    sas = generate_blob_sas("source1", "src", "blob", account_key=source_key, permission=BlobSasPermissions(read=True),
                            start=now - dt.timedelta(minutes=1), expiry=now + dt.timedelta(minutes=5))
    assert "sr=b" in sas.split("&") and "snapshot=" not in sas
    copies = _client(info, target.primary_endpoints.blob, "target1", target_key).create_container("dst")
    copy = copies.get_blob_client("copy")
    assert copy.start_copy_from_url(f"{source_endpoint}src/blob?snapshot={snapshot}&{sas}")["copy_status"] == "success"
    assert copy.download_blob().readall() == b"first version"
    # Day two: the same SAS copies the blob itself, now at its second version; a snapshot SAS still names its snapshot.
    copy.start_copy_from_url(f"{source_endpoint}src/blob?{sas}")
    assert copy.download_blob().readall() == b"second version"
    snapshot_sas = generate_blob_sas("source1", "src", "blob", snapshot=snapshot, account_key=source_key,
                                     permission=BlobSasPermissions(read=True), expiry=now + dt.timedelta(minutes=5))
    assert "sr=bs" in snapshot_sas.split("&")  # (this SDK signs the snapshot but leaves it out of the SAS: the URL names it)
    copy.start_copy_from_url(f"{source_endpoint}src/blob?snapshot={snapshot}&{snapshot_sas}")
    assert copy.download_blob().readall() == b"first version"


def test_a_content_type_cleared_by_set_properties_is_answered_as_none(start_emulator):
    """Put Blob without a content type stores application/octet-stream; Set Blob Properties without one clears it,
    and the blob is then answered with no Content-Type (public Azure's answers in Azure CLI's recording of
    test_storage_blob_upload_small_file; the emulator answered application/octet-stream, failing that test and
    test_storage_blob_upload_midsize_file under 2019-03-01-hybrid)."""
    info, endpoint, key, _ = _account(start_emulator)
    blob = _client(info, endpoint, "acct1", key).create_container("box").upload_blob("b.bin", b"x" * 1024)
    assert blob.get_blob_properties().content_settings.content_type == "application/octet-stream"
    blob.set_http_headers(ContentSettings(content_type="application/test-content"))
    assert blob.get_blob_properties().content_settings.content_type == "application/test-content"
    blob.set_http_headers(ContentSettings())
    assert blob.get_blob_properties().content_settings.content_type is None
    assert blob.download_blob().readall() == b"x" * 1024
    # Day two: a new upload over it starts again from the default.
    blob.upload_blob(b"y", overwrite=True)
    assert blob.get_blob_properties().content_settings.content_type == "application/octet-stream"


def test_a_new_accounts_service_properties_have_hour_metrics_on(start_emulator):
    """A new account's blob service properties: hour metrics on (with their APIs, kept 7 days), minute metrics and
    logging off, as public Azure answers (Azure CLI's recording of test_storage_blob_upload_small_file, whose check of
    hourMetrics.enabled the emulator's all-off defaults failed). What is set is kept over the defaults."""
    info, endpoint, key, _ = _account(start_emulator)
    service = _client(info, endpoint, "acct1", key)
    fresh = service.get_service_properties()
    hour = fresh["hour_metrics"]
    assert hour.enabled is True and hour.include_apis is True
    assert hour.retention_policy.enabled is True and hour.retention_policy.days == 7
    assert fresh["minute_metrics"].enabled is False and fresh["analytics_logging"].read is False
    # Day two: turned off, it stays off; the rest keeps its defaults.
    service.set_service_properties(hour_metrics=Metrics(enabled=False))
    again = service.get_service_properties()
    assert again["hour_metrics"].enabled is False and again["minute_metrics"].enabled is False


def test_an_unmanaged_os_disk_takes_its_size_whatever_the_case_of_its_name(start_emulator):
    """``diskSizeGb`` (az 2.66's template for ``vm create --use-unmanaged-disk --os-disk-size-gb``) is diskSizeGB: Compute
    reads property names without regard to case (public Azure's answer in Azure CLI's recording of
    test_vm_set_os_disk_size: a 75 GiB VHD; the emulator made a 30 GiB one). Sent as raw JSON, as a template sends it."""
    info, profile, _ = sdk.stack_with_group(start_emulator, "2008", "azure_ad", "Microsoft.Compute", "Microsoft.Network",
                                            "Microsoft.Storage")
    storage = sdk.client(StorageManagementClient, info, profile)
    account = storage.storage_accounts.begin_create("rg", "disks2", {"location": "local", "sku": {"name": "Standard_LRS"},
                                                                     "kind": "Storage"}).result()
    key = storage.storage_accounts.list_keys("rg", "disks2").keys[0].value
    network = sdk.client(NetworkManagementClient, info, profile)
    nic = sdk.nic_on(network, sdk.vnet_with_a_subnet(network).subnets[0].id)
    vm = {"location": "local", "properties": {
        "hardwareProfile": {"vmSize": "Standard_A2_v2"},
        "storageProfile": {"imageReference": {"publisher": "OpenLogic", "offer": "CentOS", "sku": "7.5", "version": "latest"},
                           "osDisk": {"createOption": "fromImage", "name": "osdisk", "diskSizeGb": 75,
                                      "vhd": {"uri": f"{account.primary_endpoints.blob}vhds/osdisk.vhd"}}},
        "osProfile": {"computerName": "vm1", "adminUsername": "centosadmin", "adminPassword": "Pa55word!Pa55word"},
        "networkProfile": {"networkInterfaces": [{"id": nic.id}]}}}
    url = (f"{info['arm_endpoint']}subscriptions/{info['subscription_id']}/resourceGroups/rg/providers/Microsoft.Compute/"
           "virtualMachines/vm1?api-version=2017-03-30")
    answer = requests.put(url, json=vm, headers=sdk.bearer(info), verify=info["ca_cert"], timeout=60)
    assert answer.status_code in (200, 201), answer.text
    assert answer.json()["properties"]["storageProfile"]["osDisk"]["diskSizeGB"] == 75
    blobs = BlobServiceClient(account.primary_endpoints.blob, credential={"account_name": "disks2", "account_key": key},
                              api_version=VERSION, connection_verify=info["ca_cert"])
    assert [(b.name, b.size) for b in blobs.get_container_client("vhds").list_blobs()] == [("osdisk.vhd", 75 << 30)]
    # Day two: the VM read back says the same.
    again = requests.get(url, headers=sdk.bearer(info), verify=info["ca_cert"], timeout=60).json()
    assert again["properties"]["storageProfile"]["osDisk"]["diskSizeGB"] == 75
