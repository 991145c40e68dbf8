"""Faults of the emulator's own that Azure CLI's hybrid suites found in the storage data plane
(``python -m tools.hybrid_suites``, docs/emulator.md), each shown here with the real azure-storage-blob (the
project's pin) over TLS, as a Stack user's code meets it."""

from __future__ import annotations

import datetime as dt

from azure.storage.blob import BlobSasPermissions, BlobServiceClient, generate_blob_sas

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
