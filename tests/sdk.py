"""The real Azure SDK, set up for an emulator the way a Stack needs it.

Tests build clients here by hand, from the emulator's own metadata; the generator's discovery is
tested against the same emulator separately, so neither side's mistakes can hide the other's.
"""

from __future__ import annotations

from typing import Any

import requests
from azure.identity import ClientSecretCredential
from azure.profiles import KnownProfiles

PROFILE_OF_RELEASE = {
    "2008": KnownProfiles.v2019_03_01_hybrid,
    "2108": KnownProfiles.v2020_09_01_hybrid,
    "azure": KnownProfiles.latest,
}
# A release and identity system of each kind, for tests that run on every one: a 2020-09-01 Stack on Azure AD, a
# 2019-03-01 Stack on ADFS, and Azure itself.
COMBINATIONS = [("2108", "azure_ad"), ("2008", "adfs"), ("azure", "azure_ad")]
# A public key for the VMs tests create (no machine ever runs: nothing holds its private half).
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0yTzNaGH5xwe5sBtFHlkA8BgTpBm1nSBAS5fa0Y2Nb test@emulator"


def metadata(info: dict[str, Any], admin: bool = False) -> dict[str, Any]:
    endpoint = info["admin_endpoint" if admin else "arm_endpoint"]
    response = requests.get(f"{endpoint}metadata/endpoints?api-version=2015-01-01", verify=info["ca_cert"], timeout=10)
    response.raise_for_status()
    return response.json()


def credential(info: dict[str, Any], secret: str | None = None) -> ClientSecretCredential:
    login = metadata(info)["authentication"]["loginEndpoint"].rstrip("/")
    if info["identity_system"] == "adfs":
        tenant, authority = "adfs", login[: -len("/adfs")]
    else:
        tenant, authority = info["tenant_id"], login
    return ClientSecretCredential(
        tenant,
        info["client_id"],
        secret if secret is not None else info["client_secret"],
        authority=authority,
        # Sign-in has its own host: under the stand-in public CA (Azure AD) or the Stack's (ADFS).
        connection_verify=info["identity_ca_cert"],
        disable_instance_discovery=True,
    )


def scope(info: dict[str, Any], admin: bool = False) -> str:
    return metadata(info, admin)["authentication"]["audiences"][0] + "/.default"


def client(cls: type, info: dict[str, Any], profile: Any = None, **extra: Any) -> Any:
    """A management client for the tenant Resource Manager; ``profile=None`` means none at all."""
    kwargs: dict[str, Any] = {
        "base_url": info["arm_endpoint"],
        "credential_scopes": [scope(info)],
        "connection_verify": info["ca_cert"],
        **extra,
    }
    if profile is not None:
        kwargs["profile"] = profile
    if cls.__name__ == "SubscriptionClient":
        return cls(credential(info), **kwargs)
    return cls(credential(info), info["subscription_id"], **kwargs)


def bearer(info: dict[str, Any], admin: bool = False) -> dict[str, str]:
    token = credential(info).get_token(scope(info, admin)).token
    return {"Authorization": f"Bearer {token}"}


def object_id(info: dict[str, Any]) -> str:
    """The service principal's object id, as its token names it (a Key Vault access policy names it so)."""
    import base64
    import json

    claims = credential(info).get_token(scope(info)).token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["oid"])


def stack_with_group(start_emulator: Any, release: str = "2108", identity: str = "azure_ad",
                     *namespaces: str) -> tuple[dict[str, Any], Any, Any]:
    """An emulator of ``release`` with ``namespaces`` registered and a resource group ``rg``: its info, the profile
    its SDK clients use, and the resource management client."""
    import time

    from azure.mgmt.resource import ResourceManagementClient

    info = start_emulator(release=release, identity_system=identity).info()
    profile = PROFILE_OF_RELEASE[release]
    resources = client(ResourceManagementClient, info, profile)
    for namespace in namespaces:
        resources.providers.register(namespace)
    deadline = time.time() + 10
    while any(resources.providers.get(ns).registration_state != "Registered" for ns in namespaces):
        assert time.time() < deadline, f"{namespaces} did not register"
        time.sleep(0.1)
    resources.resource_groups.create_or_update("rg", {"location": "local"})
    return info, profile, resources


def vnet_with_a_subnet(network: Any, subnet: str = "a", prefix: str = "10.0.0.0/24") -> Any:
    """Virtual network ``vnet`` (10.0.0.0/16) in group ``rg`` with one subnet, as its PUT answers it."""
    return network.virtual_networks.begin_create_or_update("rg", "vnet", {
        "location": "local", "address_space": {"address_prefixes": ["10.0.0.0/16"]},
        "subnets": [{"name": subnet, "address_prefix": prefix}]}).result()


def nic_on(network: Any, subnet_id: str, ip_configuration: str = "c", **properties: Any) -> Any:
    """Network interface ``nic`` in group ``rg`` with one IP configuration on ``subnet_id``, as its PUT answers it."""
    return network.network_interfaces.begin_create_or_update("rg", "nic", {
        "location": "local", **properties, "ip_configurations": [{"name": ip_configuration, "subnet": {"id": subnet_id}}]}).result()


def blob_account(info: dict[str, Any], profile: Any, name: str) -> tuple[Any, str, Any]:
    """Storage account ``name`` in group ``rg`` (made now) with its blob service client at the catalog's storage
    service version, signed with the account's key: (the account, its key, the client)."""
    from azure.mgmt.storage import StorageManagementClient
    from azure.storage.blob import BlobServiceClient

    from generator import catalog

    storage = client(StorageManagementClient, info, profile)
    account = storage.storage_accounts.begin_create("rg", name, {"location": "local", "sku": {"name": "Standard_LRS"},
                                                                 "kind": "Storage"}).result()
    key = storage.storage_accounts.list_keys("rg", name).keys[0].value
    blobs = BlobServiceClient(account.primary_endpoints.blob, credential={"account_name": name, "account_key": key},
                              api_version=catalog.STORAGE_DATA_API_VERSION, connection_verify=info["ca_cert"])
    return account, key, blobs
