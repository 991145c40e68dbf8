"""The blob service as a Stack serves it, driven by the real azure-storage-blob (the project's pin) over TLS: page and
append blobs, Copy Blob, snapshots, leases on blobs and containers, metadata and properties, container ACLs with
stored access policies and the SAS naming them, service properties, and blob names holding ``//`` (each once refused
with ``400 InvalidHeaderValue x-ms-blob-type`` or answered wrongly: peer-faults-turn4 A2, A4, A6, A7)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
import requests
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import (
    AccessPolicy,
    BlobAnalyticsLogging,
    BlobBlock,
    BlobServiceClient,
    BlobType,
    BlockState,
    ContainerSasPermissions,
    ContentSettings,
    CorsRule,
    Metrics,
    RetentionPolicy,
    generate_blob_sas,
    generate_container_sas,
)

from tests.test_emulator_blob import VERSION, _account

KiB = 1024


@pytest.fixture
def blobs(start_emulator):
    info, endpoint, key, _ = _account(start_emulator)
    service = BlobServiceClient(endpoint, credential={"account_name": "acct1", "account_key": key}, api_version=VERSION,
                                connection_verify=info["ca_cert"])
    return info, endpoint, key, service


def test_page_blobs_write_clear_list_resize_and_read_back(blobs):
    _, _, _, service = blobs
    disk = service.create_container("vhds").get_blob_client("os.vhd")
    disk.create_page_blob(size=4 * 1024 * KiB, metadata={"role": "os"})
    assert disk.get_blob_properties().blob_type == BlobType.PageBlob and disk.get_blob_properties().size == 4 * 1024 * KiB
    assert disk.get_page_ranges() == ([], [])
    first, second = os.urandom(1024), os.urandom(512)
    disk.upload_page(first, offset=0, length=1024)
    disk.upload_page(second, offset=1024 * KiB, length=512)
    ranges, _ = disk.get_page_ranges()
    assert ranges == [{"start": 0, "end": 1023}, {"start": 1024 * KiB, "end": 1024 * KiB + 511}]
    assert disk.download_blob(offset=0, length=1024).readall() == first
    assert disk.download_blob(offset=1024, length=512).readall() == bytes(512)  # never written: zeros
    disk.clear_page(offset=512, length=512)
    assert disk.get_page_ranges()[0] == [{"start": 0, "end": 511}, {"start": 1024 * KiB, "end": 1024 * KiB + 511}]
    assert disk.download_blob(offset=0, length=1024).readall() == first[:512] + bytes(512)
    with pytest.raises(HttpResponseError) as outside:
        disk.upload_page(b"x" * 512, offset=4 * 1024 * KiB, length=512)
    assert outside.value.status_code == 416 and outside.value.error_code == "InvalidPageRange"
    # Day two: resize (pages past the end go), a sequence number, and the whole disk read back.
    disk.resize_blob(1024 * KiB)
    disk.set_sequence_number("update", 7)
    properties = disk.get_blob_properties()
    assert properties.size == 1024 * KiB and properties.page_blob_sequence_number == 7
    assert properties.metadata == {"role": "os"}
    assert disk.get_page_ranges()[0] == [{"start": 0, "end": 511}]
    whole = disk.download_blob().readall()
    assert len(whole) == 1024 * KiB and whole[:512] == first[:512] and not whole[512:].strip(b"\0")


def test_append_blobs_grow_under_their_conditions(blobs):
    _, _, _, service = blobs
    log = service.create_container("logs").get_blob_client("app.log")
    log.create_append_blob(content_settings=ContentSettings(content_type="text/plain"))
    assert log.append_block(b"one\n")["blob_append_offset"] == "0"
    assert log.append_block(b"two\n")["blob_append_offset"] == "4"
    with pytest.raises(HttpResponseError) as wrong_position:
        log.append_block(b"three\n", appendpos_condition=4)
    assert wrong_position.value.error_code == "AppendPositionConditionNotMet"
    with pytest.raises(HttpResponseError) as too_big:
        log.append_block(b"three\n", maxsize_condition=10)
    assert too_big.value.error_code == "MaxBlobSizeConditionNotMet"
    log.append_block(b"three\n", appendpos_condition=8)
    properties = log.get_blob_properties()
    assert properties.blob_type == BlobType.AppendBlob and properties.content_settings.content_type == "text/plain"
    assert log.download_blob().readall() == b"one\ntwo\nthree\n"
    # The SDK's upload of an append blob appends in blocks too.
    service.get_blob_client("logs", "more.log").upload_blob(b"a" * 5000, blob_type=BlobType.AppendBlob)
    assert service.get_blob_client("logs", "more.log").download_blob().readall() == b"a" * 5000
    with pytest.raises(HttpResponseError) as not_append:
        service.get_container_client("logs").upload_blob("block.txt", b"x")
        service.get_blob_client("logs", "block.txt").append_block(b"y")
    assert not_append.value.error_code == "InvalidBlobType"


def test_copy_and_snapshots_keep_their_own_content(blobs):
    _, endpoint, _, service = blobs
    container = service.create_container("cont1")
    source = container.upload_blob("src.txt", b"version one", metadata={"k": "v"})
    copied = container.get_blob_client("dst.txt")
    started = copied.start_copy_from_url(f"{endpoint}cont1/src.txt")
    assert started["copy_status"] == "success"
    properties = copied.get_blob_properties()
    assert properties.copy.status == "success" and properties.copy.source == f"{endpoint}cont1/src.txt"
    assert properties.metadata == {"k": "v"}
    snapshot = source.create_snapshot()
    source.upload_blob(b"version two", overwrite=True)
    assert copied.download_blob().readall() == b"version one"
    assert container.get_blob_client("src.txt", snapshot=snapshot["snapshot"]).download_blob().readall() == b"version one"
    assert source.download_blob().readall() == b"version two"
    listed = [(b.name, b.snapshot) for b in container.list_blobs(include=["snapshots"])]
    assert listed == [("dst.txt", None), ("src.txt", snapshot["snapshot"]), ("src.txt", None)]
    with pytest.raises(HttpResponseError) as present:
        source.delete_blob()
    assert present.value.error_code == "SnapshotsPresent"
    source.delete_blob(delete_snapshots="include")
    assert [b.name for b in container.list_blobs(include=["snapshots"])] == ["dst.txt"]
    with pytest.raises(ResourceNotFoundError):
        copied.start_copy_from_url(f"{endpoint}cont1/gone.txt")
    # A page blob's copy is its own: writing the source later leaves it be.
    disk = container.get_blob_client("disk.vhd")
    disk.create_page_blob(size=1024)
    disk.upload_page(b"a" * 512, offset=0, length=512)
    container.get_blob_client("disk-copy.vhd").start_copy_from_url(f"{endpoint}cont1/disk.vhd")
    disk.upload_page(b"b" * 512, offset=0, length=512)
    assert container.get_blob_client("disk-copy.vhd").download_blob().readall() == b"a" * 512 + bytes(512)


def test_leases_on_blobs_and_containers(blobs):
    _, _, _, service = blobs
    container = service.create_container("leased")
    blob = container.upload_blob("a.txt", b"hello")
    lease = blob.acquire_lease(lease_duration=15)
    with pytest.raises(HttpResponseError) as missing:
        blob.upload_blob(b"no lease", overwrite=True)
    assert missing.value.status_code == 412 and missing.value.error_code == "LeaseIdMissing"
    blob.upload_blob(b"with lease", overwrite=True, lease=lease)
    properties = blob.get_blob_properties()
    assert (properties.lease.status, properties.lease.state, properties.lease.duration) == ("locked", "leased", "fixed")
    with pytest.raises(HttpResponseError) as present:
        blob.acquire_lease()
    assert present.value.status_code == 409 and present.value.error_code == "LeaseAlreadyPresent"
    lease.renew()
    old_id = lease.id
    lease.change("a5a1d4b2-0000-4000-8000-000000000001")
    assert lease.id != old_id
    with pytest.raises(HttpResponseError):
        blob.delete_blob(lease=old_id)
    lease.release()
    assert blob.get_blob_properties().lease.state == "available"
    infinite = blob.acquire_lease()
    assert infinite.break_lease() == 0
    assert blob.get_blob_properties().lease.state == "broken"
    blob.delete_blob()
    # A container's lease guards its delete.
    held = container.acquire_lease()
    assert service.get_container_client("leased").get_container_properties().lease.state == "leased"
    with pytest.raises(HttpResponseError) as guarded:
        container.delete_container()
    assert guarded.value.status_code == 412
    container.delete_container(lease=held)
    assert [c.name for c in service.list_containers()] == []


def test_metadata_and_properties_of_blobs_and_containers(blobs):
    info, endpoint, key, service = blobs
    container = service.create_container("meta", metadata={"team": "blue"})
    assert container.get_container_properties().metadata == {"team": "blue"}
    container.set_container_metadata({"team": "red", "tier": "one"})
    assert container.get_container_properties().metadata == {"team": "red", "tier": "one"}
    assert [c.metadata for c in service.list_containers(include_metadata=True)] == [{"team": "red", "tier": "one"}]
    blob = container.upload_blob("m.txt", b"data", metadata={"a": "1"})
    etag = blob.get_blob_properties().etag
    blob.set_blob_metadata({"b": "2"})
    assert blob.get_blob_properties().metadata == {"b": "2"}
    with pytest.raises(ResourceModifiedError):
        blob.set_blob_metadata({"c": "3"}, etag=etag, match_condition=MatchConditions.IfNotModified)
    blob.set_http_headers(ContentSettings(content_type="text/csv", cache_control="no-cache"))
    properties = blob.get_blob_properties()
    assert properties.content_settings.content_type == "text/csv" and properties.content_settings.cache_control == "no-cache"
    [listed] = container.list_blobs(include=["metadata"])
    assert listed.metadata == {"b": "2"} and listed.content_settings.content_type == "text/csv"
    # Get Container Properties sends no Content-Type (the 2017-11-09 SDK Azure CLI uses reads one as content settings).
    sas = generate_container_sas("acct1", "meta", account_key=key, permission=ContainerSasPermissions(read=True),
                                 expiry=dt.datetime.utcnow() + dt.timedelta(minutes=5))
    answer = requests.get(f"{endpoint}meta?restype=container&{sas}", verify=info["ca_cert"], timeout=10)
    assert answer.status_code == 200 and "Content-Type" not in answer.headers and answer.headers["x-ms-meta-team"] == "red"


def test_container_acl_stored_policies_and_the_sas_naming_them(blobs):
    info, endpoint, key, service = blobs
    container = service.create_container("shared")
    container.upload_blob("doc.txt", b"shared doc")
    start = dt.datetime.utcnow() - dt.timedelta(minutes=1)
    container.set_container_access_policy({"readers": AccessPolicy(permission=ContainerSasPermissions(read=True, list=True),
                                                                   start=start, expiry=start + dt.timedelta(hours=1))})
    policy = container.get_container_access_policy()
    assert policy["public_access"] is None and [i.id for i in policy["signed_identifiers"]] == ["readers"]
    assert policy["signed_identifiers"][0].access_policy.permission == "rl"
    raw = requests.get(f"{endpoint}shared?restype=container&comp=acl", verify=info["ca_cert"], timeout=10)
    assert raw.status_code == 403  # the ACL is the account owner's
    sas = generate_blob_sas("acct1", "shared", "doc.txt", account_key=key, policy_id="readers")
    url = f"{endpoint}shared/doc.txt?{sas}"
    assert requests.get(url, verify=info["ca_cert"], timeout=10).content == b"shared doc"
    write = requests.put(url, data=b"x", headers={"x-ms-blob-type": "BlockBlob"}, verify=info["ca_cert"], timeout=10)
    assert write.status_code == 403
    # Day two: the policy removed revokes every SAS naming it; public access opens reads without any.
    container.set_container_access_policy({}, public_access="blob")
    revoked = requests.get(url, verify=info["ca_cert"], timeout=10)
    assert revoked.status_code == 403 and revoked.headers["x-ms-error-code"] == "AuthenticationFailed"
    anonymous = requests.get(f"{endpoint}shared/doc.txt", verify=info["ca_cert"], timeout=10)
    assert anonymous.content == b"shared doc"
    listing = requests.get(f"{endpoint}shared?restype=container&comp=list", verify=info["ca_cert"], timeout=10)
    assert listing.status_code == 403  # blob-level access lists nothing
    assert container.get_container_access_policy()["public_access"] == "blob"


def test_service_properties_are_kept_and_answered_as_such(blobs):
    _, _, _, service = blobs
    service.create_container("box")
    before = service.get_service_properties()
    assert before["analytics_logging"].read is False and before["cors"] == []
    service.set_service_properties(analytics_logging=BlobAnalyticsLogging(read=True, write=True, delete=True,
                                                             retention_policy=RetentionPolicy(enabled=True, days=5)),
                                   cors=[CorsRule(["https://example.org"], ["GET", "PUT"])])
    after = service.get_service_properties()
    assert after["analytics_logging"].read is True and after["analytics_logging"].retention_policy.days == 5
    assert [r.allowed_origins for r in after["cors"]] == ["https://example.org"]
    service.set_service_properties(hour_metrics=Metrics(enabled=True, include_apis=True,
                                                        retention_policy=RetentionPolicy(enabled=True, days=2)))
    again = service.get_service_properties()
    assert again["hour_metrics"].enabled is True and again["analytics_logging"].read is True  # the rest kept
    assert service.get_account_information()["sku_name"] == "Standard_LRS"


def test_any_legal_blob_name_including_double_slashes(blobs):
    _, _, _, service = blobs
    container = service.create_container("names")
    # 880 characters: a Stack's longest blob name ("Azure Stack Hub storage: Differences and considerations"; Azure's 1,024).
    names = ["/dir1/file", "dir2//file", "sp ace/ü.txt", "a%2Fb", "trailing.", "x" * 880]
    for name in names:
        container.upload_blob(name, name.encode())
    for name in names:
        assert container.download_blob(name).readall() == name.encode()
    assert sorted(b.name for b in container.list_blobs()) == sorted(names)
    assert [p.name for p in container.walk_blobs(name_starts_with="dir2/")] == ["dir2//"]
    container.delete_blob("dir2//file")
    assert "dir2//file" not in [b.name for b in container.list_blobs()]


def test_block_lists_reuse_committed_blocks(blobs):
    _, _, _, service = blobs
    blob = service.create_container("blocks").get_blob_client("b.bin")
    blob.stage_block("YQ==", b"aaa")
    blob.stage_block("Yg==", b"bbb")
    assert [b.id for b in blob.get_block_list("uncommitted")[1]] == ["YQ==", "Yg=="]
    blob.commit_block_list(["YQ==", "Yg=="])
    assert blob.download_blob().readall() == b"aaabbb"
    blob.stage_block("Yw==", b"ccc")
    blob.commit_block_list([BlobBlock("Yg==", BlockState.Committed), BlobBlock("Yw==", BlockState.Uncommitted),
                            BlobBlock("YQ==", BlockState.Committed)])
    assert blob.download_blob().readall() == b"bbbcccaaa"
    committed, uncommitted = blob.get_block_list("all")
    assert [(b.id, b.size) for b in committed] == [("Yg==", 3), ("Yw==", 3), ("YQ==", 3)] and uncommitted == []
    with pytest.raises(HttpResponseError) as unknown:
        blob.commit_block_list(["ZA=="])  # never staged
    assert unknown.value.error_code == "InvalidBlockList"


def test_a_storage_account_made_again_starts_empty(start_emulator):
    """Deleting an account deletes its blobs (and their files); a new account of the same name has none."""
    info, endpoint, key, storage = _account(start_emulator)
    service = BlobServiceClient(endpoint, credential={"account_name": "acct1", "account_key": key}, api_version=VERSION,
                                connection_verify=info["ca_cert"])
    service.create_container("old").upload_blob("a.bin", os.urandom(100 * KiB))
    content = Path(info["ca_cert"]).parent / "blobs"  # the state directory's blob content
    assert [f for f in content.iterdir() if f.is_file()]
    storage.storage_accounts.delete("rg", "acct1")
    storage.storage_accounts.begin_create("rg", "acct1", {"location": "local", "sku": {"name": "Standard_LRS"},
                                                          "kind": "Storage"}).result()
    key = storage.storage_accounts.list_keys("rg", "acct1").keys[0].value
    again = BlobServiceClient(endpoint, credential={"account_name": "acct1", "account_key": key}, api_version=VERSION,
                              connection_verify=info["ca_cert"])
    assert list(again.list_containers()) == []
    assert not [f for f in content.iterdir() if f.is_file()]
    again.create_container("old")
    assert list(again.get_container_client("old").list_blobs()) == []


def test_a_blob_an_older_emulator_kept_in_its_state_is_served_from_a_file(start_emulator, tmp_path):
    """Emulators before the blob content went to disk kept it base64 in the state: such a blob is read as it was, its
    bytes moved to a file under the state directory and out of the state."""
    import base64

    from azs_emulator.state import EmulatorState

    state = tmp_path / "state"
    started = []

    def on_the_state(**options):
        started.append(start_emulator(state_dir=str(state), **options))
        return started[-1]

    info, endpoint, key, _ = _account(on_the_state)
    service = BlobServiceClient(endpoint, credential={"account_name": "acct1", "account_key": key}, api_version=VERSION,
                                connection_verify=info["ca_cert"])
    service.create_container("box")
    started[0].stop()
    kept = EmulatorState(state)
    with kept.transaction():
        kept.data["blob_accounts"]["acct1"]["containers"]["box"]["blobs"]["old.txt"] = {
            "content": base64.b64encode(b"kept the old way").decode(), "etag": '"0x1"', "modified": "Mon, 07 Dec 2026 10:00:00 GMT",
            "created": "Mon, 07 Dec 2026 10:00:00 GMT", "md5": "", "content_type": "text/plain"}
    kept.close()
    info = start_emulator(state_dir=str(state)).info()
    service = BlobServiceClient(endpoint, credential={"account_name": "acct1", "account_key": key}, api_version=VERSION,
                                connection_verify=info["ca_cert"])
    assert service.get_blob_client("box", "old.txt").download_blob().readall() == b"kept the old way"
    assert [b.size for b in service.get_container_client("box").list_blobs()] == [16]
    assert b"kept the old way" in b"".join(f.read_bytes() for f in (state / "blobs").iterdir() if f.is_file())
