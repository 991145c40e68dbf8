"""Account shared access signatures (REST API "Create an account SAS", versions 2015-04-05 and later) on a Stack's
blob, queue and table services, as the real storage SDKs make and send them (``generate_account_sas``): one signature
for several services, limited by service (ss), resource type (srt: service, container, object) and permission (sp).
Before, any signature with ``ss`` was read as a service SAS and refused."""

from __future__ import annotations

import datetime as dt

import pytest
from azure.core.credentials import AzureSasCredential
from azure.core.exceptions import HttpResponseError
from azure.data.tables import TableServiceClient
from azure.storage.blob import AccountSasPermissions, BlobServiceClient, ResourceTypes, generate_account_sas
from azure.storage.blob._shared.shared_access_signature import SharedAccessSignature
from azure.storage.queue import QueueServiceClient

from tests.test_emulator_blob import VERSION, _account
from tests.test_emulator_queue_table import QUEUE_VERSION


def _expiry() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)


def _sas_for(services: str, key: str, resource_types: str, permission: str) -> str:
    """An account SAS for any services, signed by the storage SDK's own signer at a version a Stack serves (the
    queue SDK's ``generate_account_sas`` signs at its newest version, which no Stack serves)."""
    return SharedAccessSignature("acct1", key, x_ms_version=VERSION).generate_account(
        services=services, resource_types=resource_types, permission=permission, expiry=_expiry())


@pytest.fixture
def account(start_emulator):
    info, blob_endpoint, key, storage = _account(start_emulator)
    endpoints = storage.storage_accounts.get_properties("rg", "acct1").primary_endpoints
    return info, key, blob_endpoint, endpoints.queue, endpoints.table


def test_an_account_sas_creates_containers_writes_and_reads_blobs_and_the_service_properties(account):
    info, key, endpoint, _, _ = account
    sas = generate_account_sas("acct1", key, ResourceTypes(service=True, container=True, object=True),
                               AccountSasPermissions(read=True, write=True, list=True, create=True, delete=True), _expiry())
    service = BlobServiceClient(endpoint, credential=sas, api_version=VERSION, connection_verify=info["ca_cert"])
    blob = service.create_container("box").get_blob_client("a.txt")
    blob.upload_blob(b"hello")
    assert blob.download_blob().readall() == b"hello"
    assert [c.name for c in service.list_containers()] == ["box"]
    assert service.get_service_properties()["hour_metrics"] is not None
    # Day two: the same signature deletes what it made.
    blob.delete_blob()
    service.delete_container("box")
    assert list(service.list_containers()) == []


@pytest.mark.reliability
def test_an_account_sas_is_limited_by_service_resource_type_and_permission(account):
    info, key, endpoint, queue_endpoint, _ = account
    owner = BlobServiceClient(endpoint, credential={"account_name": "acct1", "account_key": key}, api_version=VERSION,
                              connection_verify=info["ca_cert"])
    owner.create_container("box").upload_blob("a.txt", b"hello")

    def refused(sas: str, call) -> str:
        with pytest.raises(HttpResponseError) as raised:
            call(BlobServiceClient(endpoint, credential=sas, api_version=VERSION, connection_verify=info["ca_cert"]))
        assert raised.value.status_code == 403
        return raised.value.error_code

    objects_only = generate_account_sas("acct1", key, ResourceTypes(object=True), AccountSasPermissions(read=True, create=True),
                                        _expiry())
    assert refused(objects_only, lambda s: s.create_container("other")) == "AuthorizationResourceTypeMismatch"
    reader = BlobServiceClient(endpoint, credential=objects_only, api_version=VERSION, connection_verify=info["ca_cert"])
    assert reader.get_blob_client("box", "a.txt").download_blob().readall() == b"hello"
    read_only = generate_account_sas("acct1", key, ResourceTypes(object=True), AccountSasPermissions(read=True), _expiry())
    assert refused(read_only, lambda s: s.get_blob_client("box", "b.txt").upload_blob(b"x")) == "AuthorizationPermissionMismatch"
    queues_only = _sas_for("q", key, "o", "r")
    assert refused(queues_only, lambda s: s.get_blob_client("box", "a.txt").download_blob()) == "AuthorizationServiceMismatch"
    forged = read_only.replace("sp=r", "sp=rwdl")
    assert refused(forged, lambda s: s.get_blob_client("box", "a.txt").download_blob()) == "AuthenticationFailed"


def test_one_account_sas_for_queues_and_tables(account):
    info, key, _, queue_endpoint, table_endpoint = account
    sas = _sas_for("qt", key, "sco", "rwdlacup")
    queues = QueueServiceClient(queue_endpoint, credential=sas, api_version=QUEUE_VERSION, connection_verify=info["ca_cert"])
    queue = queues.create_queue("jobs")
    queue.send_message("first")
    assert [m.content for m in queue.receive_messages()] == ["first"]
    assert [q.name for q in queues.list_queues()] == ["jobs"]
    tables = TableServiceClient(table_endpoint, credential=AzureSasCredential(sas), connection_verify=info["ca_cert"])
    table = tables.create_table("Reports")
    table.create_entity({"PartitionKey": "p", "RowKey": "1", "n": 1})
    assert [e["n"] for e in table.query_entities("PartitionKey eq 'p'")] == [1]
    assert [t.name for t in tables.list_tables()] == ["Reports"]
    tables.delete_table("Reports")
    assert [t.name for t in tables.list_tables()] == []
