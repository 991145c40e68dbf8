"""The emulator answers as real Stacks answered (issue 36): each entry of the parity corpus (tests/fixtures/parity/,
real Stacks' answers with their source and date) is sent to an emulator of the release nearest the answer's date,
and status, error code and the answer's shape are compared, with ids, times and names left out. Each test is marked
by what backs it (``real_stack``, ``spec``, ``docs``, ``assumed``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.keyvault.secrets import SecretClient
from azure.mgmt.resource import ResourceManagementClient

from tests import sdk

CORPUS = Path(__file__).parent / "fixtures" / "parity"


def _entry(name: str) -> dict[str, Any]:
    entry = json.loads((CORPUS / name).read_text(encoding="utf-8"))
    assert entry["backing"] in ("real-stack", "spec", "docs", "assumed") and entry["date"]
    assert entry["source"].get("url") or entry["source"].get("repo")
    return entry


def _call(info: dict[str, Any], method: str, path: str, api_version: str, body: Any = None) -> requests.Response:
    path = path.replace("{subscription}", info["subscription_id"]).replace("{group}", "rg").replace("{name}", "parity1")
    path = path.replace("{location}", "local")
    return requests.request(method, f"{info['arm_endpoint']}{path.lstrip('/')}?api-version={api_version}", json=body,
                            headers=sdk.bearer(info), verify=info["ca_cert"], timeout=30)


def _listed(message: str) -> set[str]:
    """The versions an error lists (``... are 'a,b'`` or ``... are 'a, b'``)."""
    match = re.search(r"supported (?:api-)?versions are '([^']*)'", message)
    assert match, message
    return {v.strip() for v in match.group(1).split(",") if v.strip()}


@pytest.mark.real_stack
@pytest.mark.parametrize(("name", "least"), [("providers-2019.json", 50), ("capabilities-2017.json", 45)])
def test_a_stacks_provider_answer(start_emulator, name, least):
    entry = _entry(name)
    info = start_emulator(release=entry["release"]).info()
    answer = _call(info, "GET", entry["request"]["path"], entry["request"]["api_version"])
    assert answer.status_code == entry["answer"]["status"]
    served = {p["namespace"].lower(): {t["resourceType"].lower(): t for t in p["resourceTypes"]} for p in answer.json()["value"]}
    compared = 0
    for provider in entry["answer"]["providers"]:
        ours = served[provider["namespace"].lower()]
        for stack_type in provider["resourceTypes"]:
            mine = ours.get(stack_type["resourceType"].lower())
            if mine is None:  # a type the emulator does not serve at all (coverage page: not served)
                continue
            assert mine["apiProfiles"] is not None
            compared += 1
            missing = set(stack_type["apiVersions"]) - set(mine["apiVersions"])
            assert not missing, f"{provider['namespace']}/{stack_type['resourceType']}: the Stack served {sorted(missing)}"
            assert all(set(p) == {"profileVersion", "apiVersion"} and p["apiVersion"] in mine["apiVersions"]
                       for p in mine["apiProfiles"]), mine
    assert compared >= least  # most of the Stack's types are the emulator's too (51 of 79 and 48 of 72 when this was written)
    if "sizes" in entry["answer"]:  # and every VM size it offered
        sizes = _call(info, "GET", "/subscriptions/{subscription}/providers/Microsoft.Compute/locations/local/vmSizes", "2017-03-30")
        assert set(entry["answer"]["sizes"]) <= {s["name"] for s in sizes.json()["value"]}


@pytest.mark.real_stack
def test_a_subscription_read_at_2015_11_01_with_a_stacks_headers(start_emulator):
    entry = _entry("subscription-2015-11-01.json")
    info = start_emulator(release=entry["release"]).info()
    answer = _call(info, "GET", entry["request"]["path"], entry["request"]["api_version"])
    expected = entry["answer"]
    assert answer.status_code == expected["status"]
    body = answer.json()
    assert sorted(body) == expected["keys"] and sorted(body["subscriptionPolicies"]) == expected["subscriptionPolicies"]
    assert body["subscriptionPolicies"]["locationPlacementId"] == expected["locationPlacementId"]
    assert {h.lower() for h in expected["headers"]} <= {h.lower() for h in answer.headers}
    assert answer.headers["x-ms-routing-request-id"].startswith("LOCAL:")


@pytest.mark.real_stack
def test_a_tenants_offers(start_emulator):
    entry = _entry("offers-2015-11-01.json")
    info = start_emulator(release=entry["release"]).info()
    listed, one = entry["requests"]
    answer = _call(info, "GET", listed["path"], listed["api_version"])
    assert answer.status_code == listed["status"] and sorted(answer.json()["value"][0]) == listed["item_keys"]
    name = answer.json()["value"][0]["name"]
    answer = _call(info, "GET", one["path"].replace("{offer}", name), one["api_version"])
    assert answer.status_code == one["status"] and sorted(answer.json()) == one["keys"]
    # the subscription names the offer it came from
    assert _call(info, "GET", "/subscriptions/{subscription}", "2016-06-01").json()["offerId"].endswith("/" + name)


@pytest.mark.real_stack
@pytest.mark.parametrize("name", ["resource-groups-2019-05-01-refused.json", "resources-2020-06-01-refused.json",
                                  "resources-2021-01-01-refused.json", "resources-2021-04-01-refused.json"])
def test_resource_manager_refuses_a_version_and_lists_what_the_stack_listed(start_emulator, name):
    entry = _entry(name)
    info = start_emulator(release=entry["release"]).info()
    answer = _call(info, entry["request"]["method"], entry["request"]["path"], entry["request"]["api_version"])
    assert answer.status_code == entry["answer"]["status"]
    error = answer.json()["error"]
    assert error["code"] == entry["answer"]["code"]
    assert _listed(error["message"]) == set(entry["answer"]["supported"])
    # and every version the Stack listed is served
    newest = max(v for v in entry["answer"]["supported"] if re.fullmatch(r"\d{4}-\d\d-\d\d", v))
    assert _call(info, "GET", "/subscriptions/{subscription}/resourcegroups", newest).status_code == 200


@pytest.mark.real_stack
def test_network_refuses_a_version_as_a_2025_stack_did(start_emulator):
    entry = _entry("load-balancer-2024-07-01-refused.json")
    info = start_emulator(release=entry["release"]).info()
    assert _call(info, "POST", "/subscriptions/{subscription}/providers/Microsoft.Network/register", "2016-02-01").ok
    _wait_registered(sdk.client(ResourceManagementClient, info, sdk.PROFILE_OF_RELEASE["2108"]), "Microsoft.Network")
    assert _call(info, "PUT", "/subscriptions/{subscription}/resourcegroups/rg", "2019-10-01", {"location": "local"}).ok
    request = entry["request"]
    answer = _call(info, request["method"], request["path"], request["api_version"], {"location": "local"})
    assert answer.status_code == entry["answer"]["status"]
    error = answer.json()["error"]
    assert error["code"] == entry["answer"]["code"] and "for type 'loadBalancers'" in error["message"]
    newest = entry["answer"]["confirmed_newest"]
    confirmed = {v for v in entry["answer"]["listed"] if v <= newest}
    assert confirmed <= _listed(error["message"])
    assert _call(info, "PUT", request["path"], newest, {"location": "local"}).status_code in (200, 201)


@pytest.mark.real_stack
def test_a_stacks_vault_names_its_latest_data_plane_version(start_emulator):
    from azure.mgmt.keyvault import KeyVaultManagementClient

    entry = _entry("keyvault-data-7.3-refused.json")
    info = start_emulator(release=entry["release"]).info()
    resources = sdk.client(ResourceManagementClient, info,
                           sdk.PROFILE_OF_RELEASE["2108"])
    resources.providers.register("Microsoft.KeyVault")
    resources.resource_groups.create_or_update("rg", {"location": "local"})
    _wait_registered(resources, "Microsoft.KeyVault")
    keyvault = sdk.client(KeyVaultManagementClient, info, sdk.PROFILE_OF_RELEASE["2108"])
    vault = keyvault.vaults.begin_create_or_update("rg", "parityvault", {"location": "local", "properties": {
        "tenant_id": info["tenant_id"], "sku": {"family": "A", "name": "standard"},
        "access_policies": [{"tenant_id": info["tenant_id"], "object_id": sdk.object_id(info),
                             "permissions": {"secrets": ["get", "set"]}}]}}).result()
    refused = SecretClient(vault.properties.vault_uri, sdk.credential(info), api_version=entry["request"]["api_version"],
                           connection_verify=info["keyvault_ca_cert"])
    with pytest.raises(HttpResponseError) as raised:
        refused.set_secret("s", "v")
    assert raised.value.status_code == entry["answer"]["status"] and raised.value.error.code == entry["answer"]["code"]
    assert f"({entry['answer']['latest']})" in raised.value.error.message
    served = SecretClient(vault.properties.vault_uri, sdk.credential(info), api_version=entry["answer"]["latest"],
                          connection_verify=info["keyvault_ca_cert"])
    served.set_secret("s", "v1")
    served.set_secret("s", "v2")  # day two: a new version, read back
    assert served.get_secret("s").value == "v2"


def _wait_registered(resources: Any, namespace: str) -> None:
    import time

    deadline = time.time() + 10
    while resources.providers.get(namespace).registration_state != "Registered":
        assert time.time() < deadline
        time.sleep(0.1)


@pytest.mark.real_stack
def test_every_vm_size_a_stack_offered_is_served(start_emulator):
    entry = _entry("vm-sizes-2017.json")
    info = start_emulator(release=entry["release"]).info()
    answer = _call(info, entry["request"]["method"], entry["request"]["path"], entry["request"]["api_version"])
    assert answer.status_code == entry["answer"]["status"]
    served = {s["name"] for s in answer.json()["value"]}
    assert set(entry["answer"]["sizes"]) <= served
    assert {"Standard_F8s_v2", "Standard_F64s_v2"} <= served  # docs: Microsoft's Stack VM size page has Fsv2


@pytest.mark.real_stack
def test_the_storage_skus_a_stack_offers(start_emulator):
    entry = _entry("storage-skus.json")
    info = start_emulator(release=entry["release"]).info()
    assert _call(info, "POST", "/subscriptions/{subscription}/providers/Microsoft.Storage/register", "2016-02-01").ok
    assert _call(info, "PUT", "/subscriptions/{subscription}/resourcegroups/rg", "2018-05-01", {"location": "local"}).ok
    _wait_registered(sdk.client(ResourceManagementClient, info,
                                sdk.PROFILE_OF_RELEASE["2008"]), "Microsoft.Storage")
    for number, sku in enumerate(entry["answer"]["skus"]):
        path = entry["request"]["path"].replace("{name}", f"paritysku{number}")
        answer = _call(info, "PUT", path, entry["request"]["api_version"], {"location": "local", "kind": "Storage",
                                                                            "sku": {"name": sku}})
        assert answer.status_code in (200, 201, 202), answer.text


def test_the_coverage_page_is_current():
    from tests.coverage_page import PAGE, render

    page = render()
    assert PAGE.read_text(encoding="utf-8") == page, "docs/coverage.md is stale: run python -m tests.coverage_page"
    # the README's numbers are the page's
    numbers = re.search(r"Release 2108: (\d+) \(type, api-version\) pairs served: (\d+) real-stack, (\d+) spec, (\d+) docs", page)
    corpus = re.search(r"Parity corpus: (\d+) real answers", page)
    assert numbers and corpus
    total, real, spec, docs = numbers.groups()
    readme = " ".join((PAGE.parent.parent / "README.md").read_text(encoding="utf-8").split())
    assert f"{corpus.group(1)} real answers" in readme and f"{real} of {total} are backed by a real Stack's answer, {spec} by" in readme


@pytest.mark.real_stack
def test_a_blob_service_version_a_stack_served_to_azcopy(start_emulator):
    from azure.mgmt.storage import StorageManagementClient
    from azure.storage.blob import BlobServiceClient

    entry = _entry("blob-service-2019-02-02.json")
    info = start_emulator(release=entry["release"]).info()
    profile = sdk.PROFILE_OF_RELEASE["2008"]
    resources = sdk.client(ResourceManagementClient, info, profile)
    resources.providers.register("Microsoft.Storage")
    resources.resource_groups.create_or_update("rg", {"location": "local"})
    _wait_registered(resources, "Microsoft.Storage")
    storage = sdk.client(StorageManagementClient, info, profile)
    account = storage.storage_accounts.begin_create("rg", "azcopyacct", {"location": "local", "sku": {"name": "Standard_LRS"},
                                                                        "kind": "Storage"}).result()
    key = storage.storage_accounts.list_keys("rg", "azcopyacct").keys[0].value
    service = BlobServiceClient(account.primary_endpoints.blob, credential={"account_name": "azcopyacct", "account_key": key},
                                api_version=entry["request"]["service_version"], connection_verify=info["ca_cert"])
    container = service.create_container("copied")
    for content in (b"first", b"second"):  # and again: the blob replaced
        assert container.upload_blob("data.bin", content, overwrite=True)
        assert container.download_blob("data.bin").readall() == content
