"""The storage data plane's blob service, driven by the real azure-storage-blob (the project's pin) at
``<account>.blob.<region>.<fqdn>``: Shared Key and shared access signatures checked as the service checks them,
block blobs as the SDK uploads them, and only the service versions the release serves."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.mgmt.resource import ResourceManagementClient
from azure.mgmt.storage import StorageManagementClient
from azure.storage.blob import BlobClient, BlobSasPermissions, BlobServiceClient, generate_blob_sas

from generator import catalog
from tests import sdk

VERSION = catalog.STORAGE_DATA_API_VERSION


def _account(start_emulator, release: str = "2108", name: str = "acct1") -> tuple[dict, str, str, StorageManagementClient]:
    info = start_emulator(release=release).info()
    profile = sdk.PROFILE_OF_RELEASE.get(release, sdk.PROFILE_OF_RELEASE["2008"])
    resources = sdk.client(ResourceManagementClient, info, profile)
    resources.providers.register("Microsoft.Storage")
    resources.resource_groups.create_or_update("rg", {"location": "local"})
    time.sleep(0.3)
    storage = sdk.client(StorageManagementClient, info, profile)
    account = storage.storage_accounts.begin_create("rg", name, {"location": "local", "sku": {"name": "Standard_LRS"},
                                                                 "kind": "Storage"}).result()
    return info, account.primary_endpoints.blob, storage.storage_accounts.list_keys("rg", name).keys[0].value, storage


def _service(info: dict, endpoint: str, key: str, **options) -> BlobServiceClient:
    return BlobServiceClient(endpoint, credential={"account_name": "acct1", "account_key": key}, api_version=VERSION,
                             connection_verify=info["ca_cert"], **options)


def test_containers_and_block_blobs_as_the_sdk_uses_them(start_emulator):
    info, endpoint, key, _ = _account(start_emulator)
    assert endpoint == "https://acct1.blob.local.azurestack.external/"
    service = _service(info, endpoint, key)
    container = service.create_container("box")
    with pytest.raises(ResourceExistsError):
        service.create_container("box")
    assert [c.name for c in service.list_containers()] == ["box"]
    for name in ("logs/a.txt", "logs/b.txt", "readme.txt"):
        container.upload_blob(name, name.encode() * 3)
    assert [b.name for b in container.list_blobs(name_starts_with="logs/")] == ["logs/a.txt", "logs/b.txt"]
    paged = container.list_blobs(results_per_page=2).by_page()
    assert [[b.name for b in page] for page in paged] == [["logs/a.txt", "logs/b.txt"], ["readme.txt"]]  # marker paging
    assert container.download_blob("readme.txt").readall() == b"readme.txt" * 3
    assert container.download_blob("readme.txt", offset=2, length=4).readall() == b"adme"
    assert container.get_blob_client("readme.txt").get_blob_properties().size == 30
    # Larger than one put: the SDK stages blocks and commits a block list.
    chunked = BlobClient(endpoint, "box", "big.bin", credential={"account_name": "acct1", "account_key": key}, api_version=VERSION,
                         connection_verify=info["ca_cert"], max_single_put_size=1024, max_block_size=1024)
    data = os.urandom(5000)
    chunked.upload_blob(data)
    assert chunked.download_blob().readall() == data
    container.delete_blob("readme.txt")
    with pytest.raises(ResourceNotFoundError):
        container.download_blob("readme.txt").readall()
    service.delete_container("box")
    assert list(service.list_containers()) == []


def test_shared_key_is_checked_against_the_current_keys(start_emulator):
    info, endpoint, key, storage = _account(start_emulator)
    _service(info, endpoint, key).create_container("box")
    wrong = _service(info, endpoint, "A" * 86 + "==")
    with pytest.raises(ClientAuthenticationError) as refused:
        list(wrong.list_containers())
    assert refused.value.error_code == "AuthenticationFailed"
    storage.storage_accounts.regenerate_key("rg", "acct1", {"key_name": "key1"})
    with pytest.raises(ClientAuthenticationError):
        list(_service(info, endpoint, key).list_containers())  # the old key1 stopped working
    key2 = storage.storage_accounts.list_keys("rg", "acct1").keys[1].value
    assert [c.name for c in _service(info, endpoint, key2).list_containers()] == ["box"]
    anonymous = requests.get(f"{endpoint}box?restype=container", verify=info["ca_cert"], timeout=10)
    assert anonymous.status_code == 403 and anonymous.headers["x-ms-error-code"] == "NoAuthenticationInformation"


def test_a_read_only_sas_reads_until_it_expires_and_writes_nothing(start_emulator):
    info, endpoint, key, _ = _account(start_emulator)
    container = _service(info, endpoint, key).create_container("box")
    container.upload_blob("a.txt", b"hello")
    sas = generate_blob_sas("acct1", "box", "a.txt", account_key=key, permission=BlobSasPermissions(read=True),
                            expiry=dt.datetime.utcnow() + dt.timedelta(seconds=2))
    url = f"{endpoint}box/a.txt?{sas}"
    assert requests.get(url, verify=info["ca_cert"], timeout=10).content == b"hello"
    write = requests.put(url, data=b"x", headers={"x-ms-blob-type": "BlockBlob"}, verify=info["ca_cert"], timeout=10)
    assert write.status_code == 403 and write.headers["x-ms-error-code"] == "AuthorizationPermissionMismatch"
    tampered = url.replace("sp=r", "sp=rw")
    assert requests.get(tampered, verify=info["ca_cert"], timeout=10).headers["x-ms-error-code"] == "AuthenticationFailed"
    time.sleep(2.5)
    expired = requests.get(url, verify=info["ca_cert"], timeout=10)
    assert expired.status_code == 403 and expired.headers["x-ms-error-code"] == "AuthenticationFailed"
    assert "Signed expiry time" in expired.text


def test_a_service_version_the_release_does_not_serve_is_refused(start_emulator):
    """2005 serves up to 2019-02-02 (Microsoft's Stack storage documentation), so the pinned SDK's 2019-07-07 is refused."""
    info, endpoint, key, _ = _account(start_emulator, release="2005")
    with pytest.raises(HttpResponseError) as refused:
        _service(info, endpoint, key).create_container("box")
    assert refused.value.status_code == 400 and refused.value.error_code == "InvalidHeaderValue"
    older = BlobServiceClient(endpoint, credential={"account_name": "acct1", "account_key": key}, api_version="2019-02-02",
                              connection_verify=info["ca_cert"])
    older.create_container("box")
    assert [c.name for c in older.list_containers()] == ["box"]
