"""Resource Manager on the emulator, driven by the real track 2 management clients."""

from __future__ import annotations

import concurrent.futures
import json
import socket
import time

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource import ResourceManagementClient, SubscriptionClient
from azure.mgmt.storage import StorageManagementClient
from azure.profiles import KnownProfiles

from azs_emulator import Emulator, EmulatorConfig
from azs_emulator.protocol import Response
from azs_emulator.resource_types import ResourceType, TypeAddition, TypeDeclarations, type_table
from azs_emulator.state import EmulatorState, StateData
from tests import sdk
from tests.helpers import EMULATOR_PROXY_PORT

# (release, the profile that release needs, Key Vault's API version in that profile)
RELEASES = [
    ("2108", KnownProfiles.v2020_09_01_hybrid, "2019-09-01"),
    ("2008", KnownProfiles.v2019_03_01_hybrid, "2016-10-01"),
]


def _register(info, *namespaces):
    resources = sdk.client(ResourceManagementClient, info, sdk.PROFILE_OF_RELEASE[info["release"]])
    for namespace in namespaces:
        resources.providers.register(namespace)
    deadline = time.time() + 10
    while time.time() < deadline:
        if all(resources.providers.get(ns).registration_state == "Registered" for ns in namespaces):
            return
        time.sleep(0.1)
    raise AssertionError(f"{namespaces} did not register")


@pytest.mark.parametrize("identity", ["azure_ad", "adfs"])
@pytest.mark.parametrize(("release", "profile", "keyvault_version"), RELEASES)
def test_resource_groups_and_generic_resources_with_the_matching_profile(start_emulator, identity, release, profile, keyvault_version):
    info = start_emulator(release=release, identity_system=identity).info()
    _register(info, "Microsoft.KeyVault")
    client = sdk.client(ResourceManagementClient, info, profile)
    for index in range(7):  # more than a page: the list must follow nextLink
        created = client.resource_groups.create_or_update(f"rg-{index}", {"location": "local", "tags": {"n": str(index)}})
        assert created.id.endswith(f"/resourceGroups/rg-{index}") and created.properties.provisioning_state == "Succeeded"
    assert sorted(g.name for g in client.resource_groups.list()) == [f"rg-{i}" for i in range(7)]
    assert client.resource_groups.check_existence("rg-1") and not client.resource_groups.check_existence("absent")
    assert client.resource_groups.update("rg-1", {"tags": {"team": "a"}}).tags == {"team": "a"}
    assert client.resource_groups.get("rg-1").tags == {"team": "a"}

    vault = client.resources.begin_create_or_update(
        "rg-1", "Microsoft.KeyVault", "", "vaults", "kv-1", keyvault_version,
        {"location": "local", "properties": {"sku": {"family": "A", "name": "standard"}, "tenantId": info["tenant_id"], "accessPolicies": []}},
    ).result()
    assert vault.type == "Microsoft.KeyVault/vaults"
    assert [r.name for r in client.resources.list_by_resource_group("rg-1")] == ["kv-1"]
    export = getattr(client.resource_groups, "begin_export_template", None)
    exported = export("rg-1", {"resources": ["*"]}).result() if export else client.resource_groups.export_template("rg-1", {"resources": ["*"]})
    assert [r["name"] for r in exported.template["resources"]] == ["kv-1"]

    client.resource_groups.begin_delete("rg-1").result()
    assert not client.resource_groups.check_existence("rg-1")
    with pytest.raises(ResourceNotFoundError):
        client.resource_groups.get("rg-1")


@pytest.mark.parametrize(("release", "profile", "keyvault_version"), RELEASES)
def test_storage_accounts(start_emulator, release, profile, keyvault_version):
    info = start_emulator(release=release).info()
    _register(info, "Microsoft.Storage")
    sdk.client(ResourceManagementClient, info, profile).resource_groups.create_or_update("rg", {"location": "local"})
    storage = sdk.client(StorageManagementClient, info, profile)
    assert storage.storage_accounts.check_name_availability({"name": "acct1"}).name_available
    assert not storage.storage_accounts.check_name_availability({"name": "Bad_Name"}).name_available
    account = storage.storage_accounts.begin_create(
        "rg", "acct1", {"location": "local", "sku": {"name": "Standard_LRS"}, "kind": "Storage"}
    ).result()
    assert account.name == "acct1" and account.provisioning_state == "Succeeded"
    assert storage.storage_accounts.check_name_availability({"name": "acct1"}).reason == "AlreadyExists"
    assert [a.name for a in storage.storage_accounts.list()] == ["acct1"]
    assert [a.name for a in storage.storage_accounts.list_by_resource_group("rg")] == ["acct1"]
    assert [k.key_name for k in storage.storage_accounts.list_keys("rg", "acct1").keys] == ["key1", "key2"]
    storage.storage_accounts.delete("rg", "acct1")
    assert list(storage.storage_accounts.list()) == []


@pytest.mark.parametrize(("release", "profile", "keyvault_version"), RELEASES)
def test_virtual_networks_and_subnets(start_emulator, release, profile, keyvault_version):
    info = start_emulator(release=release).info()
    _register(info, "Microsoft.Network")
    sdk.client(ResourceManagementClient, info, profile).resource_groups.create_or_update("rg", {"location": "local"})
    network = sdk.client(NetworkManagementClient, info, profile)
    vnet = network.virtual_networks.begin_create_or_update(
        "rg", "vnet", {"location": "local", "address_space": {"address_prefixes": ["10.0.0.0/16"]},
                       "subnets": [{"name": "default", "address_prefix": "10.0.0.0/24"}]},
    ).result()
    assert vnet.provisioning_state == "Succeeded" and [s.name for s in vnet.subnets] == ["default"]
    network.subnets.begin_create_or_update("rg", "vnet", "extra", {"address_prefix": "10.0.1.0/24"}).result()
    assert sorted(s.name for s in network.subnets.list("rg", "vnet")) == ["default", "extra"]
    assert network.subnets.get("rg", "vnet", "extra").address_prefix == "10.0.1.0/24"
    assert [v.name for v in network.virtual_networks.list("rg")] == ["vnet"]
    network.subnets.begin_delete("rg", "vnet", "extra").result()
    network.virtual_networks.begin_delete("rg", "vnet").result()
    assert list(network.virtual_networks.list("rg")) == []


@pytest.mark.parametrize(("release", "profile", "keyvault_version"), RELEASES)
def test_a_client_without_its_profile_is_refused(start_emulator, release, profile, keyvault_version):
    info = start_emulator(release=release).info()
    for cls in (ResourceManagementClient, StorageManagementClient, NetworkManagementClient):
        client = sdk.client(cls, info, profile=None)
        operation = {
            ResourceManagementClient: lambda c=client: list(c.resource_groups.list()),
            StorageManagementClient: lambda c=client: list(c.storage_accounts.list()),
            NetworkManagementClient: lambda c=client: list(c.virtual_networks.list_all()),
        }[cls]
        with pytest.raises(HttpResponseError) as raised:
            operation()
        # Resource Manager's own types: InvalidApiVersionParameter; a provider's list: InvalidResourceType (as on Azure)
        expected = "InvalidApiVersionParameter" if cls is ResourceManagementClient else "InvalidResourceType"
        assert raised.value.error.code == expected, cls.__name__


def test_the_other_hybrid_profile_is_refused_too(start_emulator):
    info = start_emulator(release="2008").info()
    with pytest.raises(HttpResponseError) as raised:
        list(sdk.client(ResourceManagementClient, info, KnownProfiles.v2020_09_01_hybrid).resource_groups.list())
    assert raised.value.error.code == "InvalidApiVersionParameter"
    assert "2018-05-01" in raised.value.error.message


def test_global_azure_serves_the_latest_profile(start_emulator):
    info = start_emulator(release="azure").info()
    client = sdk.client(ResourceManagementClient, info, KnownProfiles.latest)
    client.resource_groups.create_or_update("rg", {"location": "local"})
    assert [g.name for g in client.resource_groups.list()] == ["rg"]
    assert [s.subscription_id for s in sdk.client(SubscriptionClient, info, KnownProfiles.latest).subscriptions.list()] == [info["subscription_id"]]


def test_subscription_and_locations(emulator):
    info = emulator.info()
    subscriptions = sdk.client(SubscriptionClient, info, KnownProfiles.v2020_09_01_hybrid)
    subscription = subscriptions.subscriptions.get(info["subscription_id"])
    assert subscription.subscription_policies.location_placement_id == "AzureStack"
    assert [loc.name for loc in subscriptions.subscriptions.list_locations(info["subscription_id"])] == ["local"]
    with pytest.raises(ResourceNotFoundError):
        subscriptions.subscriptions.get("00000000-0000-0000-0000-000000000000")


def test_provider_registration_goes_through_registering(start_emulator):
    info = start_emulator(registration_delay=0.5).info()
    providers = sdk.client(ResourceManagementClient, info, KnownProfiles.v2020_09_01_hybrid).providers
    assert providers.get("Microsoft.Storage").registration_state == "NotRegistered"
    assert providers.register("Microsoft.Storage").registration_state == "Registering"
    assert providers.get("Microsoft.Storage").registration_state == "Registering"
    time.sleep(0.6)
    assert providers.get("Microsoft.Storage").registration_state == "Registered"
    listed = {p.namespace: p for p in providers.list()}
    assert "2019-06-01" in next(t.api_versions for t in listed["Microsoft.Storage"].resource_types if t.resource_type == "storageAccounts")


def test_put_into_an_unregistered_namespace_is_409_missing_subscription_registration(emulator):
    info = emulator.info()
    sdk.client(ResourceManagementClient, info, KnownProfiles.v2020_09_01_hybrid).resource_groups.create_or_update("rg", {"location": "local"})
    url = (f"{info['arm_endpoint']}subscriptions/{info['subscription_id']}/resourcegroups/rg/providers/"
           "Microsoft.Storage/storageAccounts/acct1?api-version=2019-06-01")
    response = requests.put(url, json={"location": "local", "sku": {"name": "Standard_LRS"}}, headers=sdk.bearer(info),
                            verify=info["ca_cert"], timeout=10)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "MissingSubscriptionRegistration"
    assert "Microsoft.Storage" in response.json()["error"]["message"]


def test_a_generic_resource_is_checked_against_its_own_providers_versions(emulator):
    info = emulator.info()
    _register(info, "Microsoft.KeyVault")
    client = sdk.client(ResourceManagementClient, info, KnownProfiles.v2020_09_01_hybrid)
    client.resource_groups.create_or_update("rg", {"location": "local"})
    with pytest.raises(HttpResponseError) as raised:
        client.resources.begin_create_or_update("rg", "Microsoft.KeyVault", "", "vaults", "kv", "2023-07-01", {"location": "local"}).result()
    assert raised.value.error.code == "NoRegisteredProviderFound" and "2019-09-01" in raised.value.error.message


@pytest.mark.parametrize(("release", "build"), [("2108", "1.2108.2.65"), ("2008", "1.2008.13.88"), ("2506", "1.2506.0.15")])
def test_admin_update_location_reports_the_build_to_an_operator_only(start_emulator, release, build):
    info = start_emulator(release=release).info()
    admin = info["admin_endpoint"]
    subscriptions = requests.get(f"{admin}subscriptions?api-version=2016-06-01", headers=sdk.bearer(info, admin=True),
                                 verify=info["ca_cert"], timeout=10).json()["value"]
    provider_subscription = subscriptions[0]["subscriptionId"]
    url = (f"{admin}subscriptions/{provider_subscription}/resourceGroups/System.local/providers/"
           "Microsoft.Update.Admin/updateLocations/local?api-version=2021-07-01")
    answer = requests.get(url, headers=sdk.bearer(info, admin=True), verify=info["ca_cert"], timeout=10)
    assert answer.json()["properties"]["currentVersion"] == build
    assert answer.json()["properties"]["state"] == "AppliedSuccessfully"
    tenant_token = requests.get(url, headers=sdk.bearer(info), verify=info["ca_cert"], timeout=10)
    assert tenant_token.status_code == 401


def test_state_dir_keeps_ca_credentials_and_resources_across_an_upgrade(tmp_path):
    config = EmulatorConfig(release="2008", state_dir=str(tmp_path / "state"), proxy_port=EMULATOR_PROXY_PORT)
    with Emulator(config) as before:
        info = before.info()
        sdk.client(ResourceManagementClient, info, KnownProfiles.v2019_03_01_hybrid).resource_groups.create_or_update("kept", {"location": "local"})
        ca_pem = open(info["ca_cert"], "rb").read()
    # The same names (and proxy) after the upgrade, as a Stack keeps its names.
    upgraded = EmulatorConfig(release="2108", state_dir=str(tmp_path / "state"))
    with Emulator(upgraded) as after:
        info_after = after.info()
        releases = ("release", "stack_version")
        assert {k: v for k, v in info_after.items() if k not in releases} == {k: v for k, v in info.items() if k not in releases}
        assert open(info_after["ca_cert"], "rb").read() == ca_pem
        new_client = sdk.client(ResourceManagementClient, info_after, KnownProfiles.v2020_09_01_hybrid)
        assert [g.name for g in new_client.resource_groups.list()] == ["kept"]
        # An upgraded Stack keeps serving the older profile's versions beside the new one's.
        old_client = sdk.client(ResourceManagementClient, info_after, KnownProfiles.v2019_03_01_hybrid)
        assert [g.name for g in old_client.resource_groups.list()] == ["kept"]


@pytest.mark.reliability
@pytest.mark.parametrize("single_host", [True, False], ids=["single-host", "own-sign-in-host"])
def test_r272_a_loopback_emulator_restarted_on_its_state_dir_keeps_its_endpoints(tmp_path, single_host):
    """The loopback layout restarted on the same --state-dir: the Resource Manager's port is kept (as sign-in's), so
    a project generated against it still points at it; the group made before answers there, and a third start too.
    A kept port taken meanwhile is given up for another, which the info says."""
    config = EmulatorConfig(layout="loopback", single_host=single_host, state_dir=str(tmp_path / "state"))
    with Emulator(config) as before:
        info = before.info()
        sdk.client(ResourceManagementClient, info, KnownProfiles.v2020_09_01_hybrid).resource_groups.create_or_update(
            "kept", {"location": "local"})
    for _ in range(2):
        with Emulator(config) as after:
            again = after.info()
            assert (again["arm_endpoint"], again["identity_endpoint"]) == (info["arm_endpoint"], info["identity_endpoint"])
            client = sdk.client(ResourceManagementClient, again, KnownProfiles.v2020_09_01_hybrid)
            assert [g.name for g in client.resource_groups.list()] == ["kept"]
    port = int(info["arm_endpoint"].rstrip("/").rsplit(":", 1)[1])
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the port may linger in TIME_WAIT
        taken.bind(("127.0.0.1", port))
        taken.listen()
        with Emulator(config) as elsewhere:
            moved = elsewhere.info()
            assert moved["arm_endpoint"] != info["arm_endpoint"]
            client = sdk.client(ResourceManagementClient, moved, KnownProfiles.v2020_09_01_hybrid)
            assert [g.name for g in client.resource_groups.list()] == ["kept"]


def test_a_state_an_older_emulator_wrote_keeps_loading(tmp_path):
    """A --state-dir from before the state had one shape (only the identity and four sections; each service added its
    own on first use): its credentials, groups and storage keys are kept, and the sections it lacks work and persist."""
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    account = "/subscriptions/00000000-0000-0000-0000-00000000000a/resourceGroups/kept/providers/Microsoft.Storage/storageAccounts/keptdata"
    older = {
        "tenant_id": "00000000-0000-0000-0000-000000000001", "tenant_domain": "azsemulator.onmicrosoft.com",
        "client_id": "00000000-0000-0000-0000-000000000002", "client_secret": "an-older-secret",
        "subscription_id": "00000000-0000-0000-0000-00000000000a", "admin_subscription_id": "00000000-0000-0000-0000-00000000000b",
        "audience_app_id": "00000000-0000-0000-0000-000000000003", "admin_audience_app_id": "00000000-0000-0000-0000-000000000004",
        "location": "local",
        "providers": {"microsoft.storage": {"state": "Registered", "ready_at": 0}},
        "resource_groups": {"kept": {"name": "kept", "location": "local", "tags": {}}},
        "resources": {account.lower(): {"id": account, "name": "keptdata", "type": "Microsoft.Storage/storageAccounts",
                                        "location": "local", "sku": {"name": "Standard_LRS"}, "kind": "Storage",
                                        "properties": {"provisioningState": "Succeeded"}}},
        "storage_keys": {account.lower(): ["a2VwdC1rZXktMQ==", "a2VwdC1rZXktMg=="]},
    }
    (state_dir / "state.json").write_text(json.dumps(older))
    config = EmulatorConfig(release="2108", state_dir=str(state_dir), proxy_port=EMULATOR_PROXY_PORT)
    with Emulator(config) as emulator:
        info = emulator.info()
        assert (info["client_id"], info["tenant_id"], info["subscription_id"]) == (older["client_id"], older["tenant_id"],
                                                                                  older["subscription_id"])
        resources = sdk.client(ResourceManagementClient, info, KnownProfiles.v2020_09_01_hybrid)
        assert [g.name for g in resources.resource_groups.list()] == ["kept"]
        storage = sdk.client(StorageManagementClient, info, KnownProfiles.v2020_09_01_hybrid)
        assert [k.value for k in storage.storage_accounts.list_keys("kept", "keptdata").keys] == older["storage_keys"][account.lower()]
        resources.tags.create_or_update("team")  # a section the older state lacked
    with Emulator(config) as restarted:
        resources = sdk.client(ResourceManagementClient, restarted.info(), KnownProfiles.v2020_09_01_hybrid)
        assert "team" in [t.tag_name for t in resources.tags.list()]


def test_the_state_has_one_shape(tmp_path):
    """A new state, and one an older emulator wrote, hold exactly the sections StateData declares."""
    fresh = EmulatorState(str(tmp_path / "fresh"))
    assert set(fresh.data) == set(StateData.__annotations__)
    (tmp_path / "older").mkdir()
    kept = {k: v for k, v in fresh.data.items() if k in ("tenant_id", "tenant_domain", "client_id", "client_secret", "subscription_id",
                                                         "admin_subscription_id", "audience_app_id", "admin_audience_app_id", "location")}
    (tmp_path / "older" / "state.json").write_text(json.dumps(kept))
    fresh.close()
    older = EmulatorState(str(tmp_path / "older"))
    assert set(older.data) == set(StateData.__annotations__)
    assert {name: older.data[name] for name in kept} == kept and older.data["resource_groups"] == {}
    # Migrated into the store, the old file kept aside (an older emulator must not take it for the current state).
    assert not (tmp_path / "older" / "state.json").exists() and (tmp_path / "older" / "state.json.migrated").exists()
    older.close()


def test_a_resource_type_is_declared_once():
    with pytest.raises(ValueError, match="declared by two services"):
        type_table([TypeDeclarations({"Microsoft.Compute/disks": ResourceType()}),
                    TypeDeclarations({"microsoft.compute/DISKS": ResourceType(async_delete=True)})])
    export = TypeAddition(actions={"post x": lambda arm, request, disk: Response(200)})
    added = type_table([TypeDeclarations({"Microsoft.Compute/disks": ResourceType(create_status=200)}),
                        TypeDeclarations(additions={"Microsoft.Compute/disks": export})])
    assert added["microsoft.compute/disks"].create_status == 200 and set(added["microsoft.compute/disks"].actions) == {"post x"}


@pytest.mark.reliability
def test_ten_concurrent_sdk_clients(emulator):
    info = emulator.info()

    def work(index: int) -> str:
        client = sdk.client(ResourceManagementClient, info, KnownProfiles.v2020_09_01_hybrid)
        client.resource_groups.create_or_update(f"rg-{index}", {"location": "local"})
        return client.resource_groups.get(f"rg-{index}").name

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        names = list(pool.map(work, range(10)))
    assert names == [f"rg-{i}" for i in range(10)]
    assert len(list(sdk.client(ResourceManagementClient, info, KnownProfiles.v2020_09_01_hybrid).resource_groups.list())) == 10
