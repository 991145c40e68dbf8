"""Linked templates (``templateLink``) read from the Stack's own blob storage, as a team on a disconnected Stack stages
its nested templates (Microsoft's Stack quickstart ethereum-consortium-blockchain links its own so): through a SAS or a
public container, nested or the whole deployment's, with ``deployment().properties.templateLink`` set; any other host
is refused, since the emulator reaches no network. Driven by the real azure-mgmt-resource and azure-storage-blob."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.network import NetworkManagementClient
from azure.storage.blob import BlobSasPermissions, generate_blob_sas

from tests import sdk

SCHEMA = "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#"


def _inner(prefix: str) -> bytes:
    """The linked template: an address named by its parameter, and where it was linked from."""
    return json.dumps({
        "$schema": SCHEMA, "contentVersion": "1.0.0.0", "parameters": {"name": {"type": "string"}},
        "resources": [{"type": "Microsoft.Network/publicIPAddresses", "apiVersion": "2017-10-01", "location": "[resourceGroup().location]",
                       "name": f"[concat('{prefix}', parameters('name'))]", "properties": {"publicIPAllocationMethod": "Dynamic"}}],
        "outputs": {"from": {"type": "string", "value": "[deployment().properties.templateLink.uri]"}}}).encode()


def _outer(uri: str) -> dict:
    nested = {"type": "Microsoft.Resources/deployments", "apiVersion": "2018-09-01", "name": "linked",
              "properties": {"mode": "Incremental", "templateLink": {"uri": uri, "contentVersion": "1.0.0.0"},
                             "parameters": {"name": {"value": "one"}}}}
    return {"$schema": SCHEMA, "contentVersion": "1.0.0.0", "resources": [nested],
            "outputs": {"from": {"type": "string", "value": "[reference('linked').outputs.from.value]"}}}


def _deploy(resources, name, **properties):
    return resources.deployments.begin_create_or_update("rg", name, {"properties": {"mode": "Incremental", **properties}}).result()


def _artifacts(start_emulator):
    """An emulator with group ``rg`` and storage account ``artifacts`` whose private container ``nested`` holds
    ``inner.json``: (info, profile, resources, the blob service client, the blob's URL, the account's key)."""
    info, profile, resources = sdk.stack_with_group(start_emulator, "2108", "azure_ad", "Microsoft.Storage", "Microsoft.Network")
    account, key, blobs = sdk.blob_account(info, profile, "artifacts")
    blobs.create_container("nested").upload_blob("inner.json", _inner("a-"))
    return info, profile, resources, blobs, f"{account.primary_endpoints.blob}nested/inner.json", key


def _sas(key: str, blob: str = "inner.json") -> str:
    return generate_blob_sas("artifacts", "nested", blob, account_key=key, permission=BlobSasPermissions(read=True),
                             expiry=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1))


def test_a_nested_template_linked_from_the_stacks_own_blob_storage(start_emulator):
    info, profile, resources, blobs, url, key = _artifacts(start_emulator)
    sas = _sas(key)
    network = sdk.client(NetworkManagementClient, info, profile)

    result = _deploy(resources, "outer", template=_outer(f"{url}?{sas}"))
    assert result.properties.outputs["from"]["value"] == f"{url}?{sas}"  # deployment().properties.templateLink
    assert [ip.name for ip in network.public_ip_addresses.list("rg")] == ["a-one"]

    # day two: the team stages a new version, and the next deployment reads it
    blobs.get_blob_client("nested", "inner.json").upload_blob(_inner("b-"), overwrite=True)
    _deploy(resources, "outer", template=_outer(f"{url}?{sas}"))
    assert sorted(ip.name for ip in network.public_ip_addresses.list("rg")) == ["a-one", "b-one"]

    # the whole deployment's template linked, as `az deployment group create --template-uri` sends it
    time.sleep(0.01)
    whole = _deploy(resources, "whole", template_link={"uri": f"{url}?{sas}"}, parameters={"name": {"value": "two"}})
    assert whole.properties.outputs["from"]["value"] == f"{url}?{sas}" and network.public_ip_addresses.get("rg", "b-two")

    # a private blob without a SAS is not read (the error never shows the URI's query: a SAS is a secret)
    with pytest.raises(HttpResponseError) as refused:
        _deploy(resources, "outer", template=_outer(url))
    assert "InvalidContentLink" in str(refused.value) and "403" in str(refused.value) and "sig=" not in str(refused.value)
    # ... unless its container is public, as ARM reads a link anonymously
    blobs.get_container_client("nested").set_container_access_policy({}, public_access="blob")
    _deploy(resources, "outer", template=_outer(url))
    # a host other than the Stack's own storage: the emulator reaches no network
    with pytest.raises(HttpResponseError, match="reaches no network"):
        _deploy(resources, "outer", template=_outer("https://raw.githubusercontent.com/Azure/x/master/nested.json?sig=secret"))


@pytest.mark.reliability
def test_r210_a_link_the_emulator_cannot_read_is_refused_never_showing_its_sas(start_emulator):
    """A SAS of the wrong key, a template over Resource Manager's 4 MB, a blob that is no JSON: InvalidContentLink,
    the URI without its query; a link elsewhere: refused before anything is made."""
    info, profile, resources, blobs, url, key = _artifacts(start_emulator)
    box = blobs.get_container_client("nested")
    box.upload_blob("huge.json", b"{" + b" " * (4 * 1024 * 1024) + b"}")
    box.upload_blob("text.json", b"not a template")
    forged = _sas(key[:-4] + "AAA=")
    for link, words in ((f"{url}?{forged}", "answered 403"), (f"{url.replace('inner', 'huge')}?{_sas(key, 'huge.json')}", "larger than"),
                        (f"{url.replace('inner', 'text')}?{_sas(key, 'text.json')}", "not JSON")):
        with pytest.raises(HttpResponseError) as refused:
            _deploy(resources, "outer", template=_outer(link))
        said = str(refused.value)
        assert "InvalidContentLink" in said and words in said and "sig=" not in said and "/nested/" in said
    network = sdk.client(NetworkManagementClient, info, profile)
    before = _deploy(resources, "first", template={"$schema": SCHEMA, "contentVersion": "1.0.0.0", "resources": [
        {"type": "Microsoft.Network/publicIPAddresses", "apiVersion": "2017-10-01", "location": "local", "name": "kept",
         "properties": {"publicIPAllocationMethod": "Dynamic"}}]})
    assert before.properties.provisioning_state == "Succeeded"
    elsewhere = _outer("http://artifacts.blob.local.azurestack.external/nested/inner.json")
    elsewhere["resources"].insert(0, {"type": "Microsoft.Network/publicIPAddresses", "apiVersion": "2017-10-01",
                                      "location": "local", "name": "never", "properties": {"publicIPAllocationMethod": "Dynamic"}})
    with pytest.raises(HttpResponseError, match="reaches no network"):  # plain http is no Stack storage either
        _deploy(resources, "outer", template=elsewhere)
    assert [ip.name for ip in network.public_ip_addresses.list("rg")] == ["kept"]
