"""Metadata parsing over real responses (tests/fixtures/metadata, copied from shared/fixtures) and edge cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.discovery.metadata import MetadataError, normalize_url, parse_metadata

FIXTURES = Path(__file__).parent / "fixtures" / "metadata"

# fixture -> (the ARM endpoint it belongs to, expected values)
EXPECTED = {
    "asdk-aad-2015-01-01.json": (
        "https://adminmanagement.local.azurestack.external",
        dict(identity_system="azure_ad", authority_host="https://login.windows.net",
             audience="https://contoso.onmicrosoft.com/4de154de-f8a8-4017-af41-df619da68155",
             portal="https://adminportal.local.azurestack.external/", graph="https://graph.windows.net/",
             storage_suffix="local.azurestack.external", keyvault_dns_suffix="vault.local.azurestack.external"),
    ),
    "asdk-aad-1.0-doc-typo.json": (
        "https://management.local.azurestack.external/",
        dict(identity_system="azure_ad", authority_host="https://login.windows.net",
             audience="https://management.contoso.onmicrosoft.com/3cc5febd-e4b7-4a85-a2ed-1d730e2f5928",
             portal="https://portal.local.azurestack.external/", gallery="https://portal.local.azurestack.external:30015/",
             storage_suffix="local.azurestack.external", keyvault_dns_suffix="vault.local.azurestack.external"),
    ),
    "redmond-adfs-2019-05-01.json": (
        "https://management.redmond.azurestack.corp.microsoft.com",
        dict(identity_system="adfs", authority_host="https://adfs.redmond.azurestack.corp.microsoft.com",
             login_endpoint="https://adfs.redmond.azurestack.corp.microsoft.com/adfs/",
             audience="https://management.adfs.redmond.selfhost.local/d48c9ef1-e46d-4148-b41e-ca95b463f5a8",
             credential_scope="https://management.adfs.redmond.selfhost.local/d48c9ef1-e46d-4148-b41e-ca95b463f5a8/.default",
             portal="https://portal.redmond.azurestack.corp.microsoft.com/", gallery="https://providers.redmond.selfhost.local:30016/",
             storage_suffix="redmond.azurestack.corp.microsoft.com", keyvault_dns_suffix="vault.redmond.azurestack.corp.microsoft.com"),
    ),
    "public-azure-1.0.json": (
        "https://management.azure.com/",
        dict(identity_system="azure_ad", authority_host="https://login.windows.net",
             audience="https://management.core.windows.net/",
             credential_scope="https://management.core.windows.net//.default",
             storage_suffix="core.windows.net", keyvault_dns_suffix="vault.azure.net", is_public_azure=True),
    ),
}


def test_every_fixture_has_expectations():
    assert sorted(p.name for p in FIXTURES.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture(name):
    endpoint, expected = EXPECTED[name]
    metadata = parse_metadata(json.loads((FIXTURES / name).read_text()), endpoint)
    assert metadata.resource_manager == normalize_url(endpoint)
    for key, value in expected.items():
        assert getattr(metadata, key) == value, key


def _stack(**authentication):
    auth = {"loginEndpoint": "https://login.microsoftonline.com/", "audiences": ["https://management.x/1"]}
    auth.update(authentication)
    return {"portalEndpoint": "https://portal.x/", "authentication": auth}


def test_unknown_keys_are_ignored_and_urls_normalised():
    body = _stack(loginEndpoint="HTTPS://ADFS.Example.COM/adfs")
    body["someFutureKey"] = {"nested": True}
    metadata = parse_metadata(body, "management.example.com")
    assert metadata.resource_manager == "https://management.example.com/"
    assert metadata.login_endpoint == "https://adfs.example.com/adfs/"
    assert metadata.identity_system == "adfs" and metadata.authority_host == "https://adfs.example.com"


@pytest.mark.parametrize("login", ["https://adfs.x/adfs", "https://adfs.x/adfs/", "https://adfs.x/ADFS/"])
def test_adfs_rule(login):
    assert parse_metadata(_stack(loginEndpoint=login), "https://management.x").identity_system == "adfs"


def test_array_entry_is_chosen_by_resource_manager():
    clouds = [
        {"name": "AzureCloud", "resourceManager": "https://management.azure.com/", **_stack(audiences=["https://a/"])},
        {"name": "AzureChinaCloud", "resourceManager": "https://management.chinacloudapi.cn/", **_stack(audiences=["https://c/"])},
    ]
    assert parse_metadata(clouds, "https://management.chinacloudapi.cn").audience == "https://c/"


def test_a_stack_on_an_ip_address_uses_it_as_suffix():
    metadata = parse_metadata(_stack(), "https://127.0.0.1:8443/")
    assert metadata.storage_suffix == "127.0.0.1" and metadata.keyvault_dns_suffix == "vault.127.0.0.1"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "empty"),
        ([_stack(), _stack()], "2 entries"),
        ("text", "not an object or array"),
        ({"portalEndpoint": "https://p/"}, "no 'authentication'"),
        (_stack(loginEndpoint=None), "no loginEndpoint"),
        (_stack(loginEndpoint=42), "no loginEndpoint"),
        (_stack(audiences=[]), "audiences' is missing or empty"),
        (_stack(audiences="https://x/"), "audiences' is missing or empty"),
        (_stack(audiences=[7]), "not a non-empty string"),
        (_stack(loginEndpoint="http://login.x/"), "not https://"),
        ({**_stack(), "portalEndpoint": 5}, "not a URL string"),
    ],
)
def test_unusable_metadata_is_one_clear_error(body, message):
    with pytest.raises(MetadataError, match=message) as raised:
        parse_metadata(body, "https://management.x/")
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("url", ["http://management.x/", "", "https://"])
def test_bad_endpoint_urls(url):
    with pytest.raises(MetadataError):
        normalize_url(url)
