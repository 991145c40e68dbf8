"""Microsoft.Authorization as a Stack serves it, driven by the real azure-mgmt-authorization, and the roles the
emulator then enforces; vault secrets through Resource Manager."""

from __future__ import annotations

import time
import uuid

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.keyvault import KeyVaultManagementClient
from azure.mgmt.resource import ResourceManagementClient
from azure.mgmt.storage import StorageManagementClient
from azure.profiles import KnownProfiles

from tests import sdk

HYBRID = KnownProfiles.v2020_09_01_hybrid
OWNER, CONTRIBUTOR, READER = ("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "b24988ac-6180-42a0-ab88-20f7382dd24c",
                              "acdd72a7-3385-48ef-bd42-f606fba81ae7")


def _authorization(info):
    # The hybrid profiles' Authorization version; 2020-09-01-hybrid names 2016-09-01 (locks), which
    # azure-mgmt-authorization has no client for, so the version is given as the generated project gives it.
    return sdk.client(AuthorizationManagementClient, info, api_version="2015-07-01")


def _group_with(info, provider: str) -> None:
    """Resource group ``rg``, and ``provider`` registered (the emulator's registration takes a moment)."""
    resources = sdk.client(ResourceManagementClient, info, HYBRID)
    resources.resource_groups.create_or_update("rg", {"location": "local"})
    resources.providers.register(provider)
    time.sleep(0.3)


@pytest.mark.parametrize("identity", ["azure_ad", "adfs"])
def test_built_in_roles_and_the_owners_assignment(start_emulator, identity):
    info = start_emulator(identity_system=identity).info()
    authorization = _authorization(info)
    sub_scope = f"/subscriptions/{info['subscription_id']}"
    roles = {d.role_name: d for d in authorization.role_definitions.list(sub_scope)}
    assert {"Owner", "Contributor", "Reader", "User Access Administrator"} <= set(roles)
    assert roles["Reader"].permissions[0].actions == ["*/read"]
    assert "Microsoft.Authorization/*/Write" in roles["Contributor"].permissions[0].not_actions
    assert [d.role_name for d in authorization.role_definitions.list(sub_scope, filter="roleName eq 'Reader'")] == ["Reader"]
    assert authorization.role_definitions.get(sub_scope, OWNER).role_name == "Owner"
    # A subscription always has its owner's assignment: here the emulator's service principal.
    (owner,) = authorization.role_assignments.list(filter=f"principalId eq '{sdk.object_id(info)}'")
    assert owner.properties.role_definition_id.endswith(OWNER) and owner.properties.scope == sub_scope
    # And Microsoft.Authorization is in the provider list, registered.
    provider = sdk.client(ResourceManagementClient, info, HYBRID).providers.get("Microsoft.Authorization")
    assert provider.registration_state == "Registered"
    assert {"roleAssignments", "roleDefinitions", "permissions"} <= {t.resource_type for t in provider.resource_types}


def test_assignments_at_subscription_group_and_resource_scope(start_emulator):
    info = start_emulator().info()
    _group_with(info, "Microsoft.Storage")
    sdk.client(StorageManagementClient, info, HYBRID).storage_accounts.begin_create(
        "rg", "acct1", {"location": "local", "sku": {"name": "Standard_LRS"}, "kind": "Storage"}).result()
    authorization = _authorization(info)
    sub = f"/subscriptions/{info['subscription_id']}"
    group = f"{sub}/resourceGroups/rg"
    account = f"{group}/providers/Microsoft.Storage/storageAccounts/acct1"
    someone = str(uuid.uuid4())
    made = [authorization.role_assignments.create(scope, str(uuid.uuid4()), {"properties": {
        "role_definition_id": f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{READER}", "principal_id": someone}})
        for scope in (group, account)]
    assert [a.properties.scope for a in made] == [group, account]
    mine = authorization.role_assignments.list(filter=f"principalId eq '{someone}'")
    assert sorted(a.properties.scope for a in mine) == [group, account]
    at_group = authorization.role_assignments.list_for_resource_group("rg", filter="atScope()")
    assert {a.properties.scope for a in at_group} == {sub, group}  # at or above the group; the account's is below
    at_account = authorization.role_assignments.list_for_resource("rg", "Microsoft.Storage", "", "storageAccounts", "acct1")
    assert {a.properties.scope for a in at_account} == {sub, group, account}
    assert authorization.role_assignments.get_by_id(made[1].id).properties.principal_id == someone
    with pytest.raises(HttpResponseError) as duplicate:
        authorization.role_assignments.create(group, str(uuid.uuid4()), {"properties": {
            "role_definition_id": made[0].properties.role_definition_id, "principal_id": someone}})
    assert duplicate.value.error.code == "RoleAssignmentExists"
    for assignment in made:
        authorization.role_assignments.delete_by_id(assignment.id)
    assert list(authorization.role_assignments.list(filter=f"principalId eq '{someone}'")) == []
    with pytest.raises(ResourceNotFoundError):
        authorization.role_assignments.get_by_id(made[0].id)
    # A caller's own permissions at a scope.
    (permission,) = authorization.permissions.list_for_resource_group("rg")
    assert permission.actions == ["*"]


def test_a_reader_reads_and_is_refused_every_write(start_emulator):
    info = start_emulator(role="Reader").info()
    resources = sdk.client(ResourceManagementClient, info, HYBRID)
    assert [g.name for g in resources.resource_groups.list()] == []
    with pytest.raises(HttpResponseError) as refused:
        resources.resource_groups.create_or_update("rg", {"location": "local"})
    error = refused.value
    assert error.status_code == 403 and error.error.code == "AuthorizationFailed"
    assert (f"The client '{sdk.object_id(info)}' with object id '{sdk.object_id(info)}' does not have authorization to perform "
            f"action 'Microsoft.Resources/subscriptions/resourceGroups/write' over scope "
            f"'/subscriptions/{info['subscription_id']}/resourcegroups/rg'") in error.error.message
    with pytest.raises(HttpResponseError) as registering:
        resources.providers.register("Microsoft.Storage")
    assert "'Microsoft.Storage/register/action'" in registering.value.error.message


def test_a_contributor_is_refused_a_role_assignment_and_an_owner_grants_at_runtime(start_emulator):
    info = start_emulator(role="Contributor").info()
    sdk.client(ResourceManagementClient, info, HYBRID).resource_groups.create_or_update("rg", {"location": "local"})
    authorization = _authorization(info)
    sub = f"/subscriptions/{info['subscription_id']}"
    with pytest.raises(HttpResponseError) as refused:
        authorization.role_assignments.create(sub, str(uuid.uuid4()), {"properties": {
            "role_definition_id": f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{READER}",
            "principal_id": str(uuid.uuid4())}})
    assert refused.value.status_code == 403 and "'Microsoft.Authorization/roleAssignments/write'" in refused.value.error.message


def test_an_assignment_made_at_runtime_takes_effect(start_emulator):
    info = start_emulator().info()  # Owner
    authorization = _authorization(info)
    resources = sdk.client(ResourceManagementClient, info, HYBRID)
    resources.resource_groups.create_or_update("rg", {"location": "local"})
    me = sdk.object_id(info)
    (own,) = authorization.role_assignments.list(filter=f"principalId eq '{me}'")
    sub = f"/subscriptions/{info['subscription_id']}"
    authorization.role_assignments.create(f"{sub}/resourceGroups/rg", str(uuid.uuid4()), {"properties": {
        "role_definition_id": f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}", "principal_id": me}})
    authorization.role_assignments.delete_by_id(own.id)  # now a Contributor on rg only
    resources.resource_groups.update("rg", {"tags": {"team": "a"}})
    with pytest.raises(HttpResponseError) as refused:
        resources.resource_groups.create_or_update("elsewhere", {"location": "local"})
    assert refused.value.error.code == "AuthorizationFailed"


def test_a_vault_secret_put_through_resource_manager_never_comes_back_with_its_value(start_emulator):
    info = start_emulator().info()
    _group_with(info, "Microsoft.KeyVault")
    keyvault = sdk.client(KeyVaultManagementClient, info, HYBRID)
    keyvault.vaults.begin_create_or_update("rg", "kvsecrets", {"location": "local", "properties": {
        "tenant_id": info["tenant_id"], "sku": {"family": "A", "name": "standard"}, "access_policies": [
            {"tenant_id": info["tenant_id"], "object_id": sdk.object_id(info), "permissions": {"secrets": ["get"]}}]}}).result()
    # azure-mgmt-keyvault has no secrets client at the hybrid versions: the management spec's calls, as they are.
    url = (f"{info['arm_endpoint']}subscriptions/{info['subscription_id']}/resourceGroups/rg/providers/Microsoft.KeyVault"
           f"/vaults/kvsecrets/secrets")
    for version in ("2019-09-01", "2016-10-01"):
        put = requests.put(f"{url}/s1?api-version={version}", json={"properties": {"value": "not-for-your-eyes"}},
                           headers=sdk.bearer(info), verify=info["ca_cert"], timeout=10)
        assert put.status_code in (200, 201), put.text
        for shown in (put.json(), requests.get(f"{url}/s1?api-version={version}", headers=sdk.bearer(info),
                                               verify=info["ca_cert"], timeout=10).json()):
            assert "not-for-your-eyes" not in str(shown) and "value" not in shown["properties"]
            assert shown["properties"]["secretUri"] == "https://kvsecrets.vault.local.azurestack.external/secrets/s1"
            assert shown["properties"]["secretUriWithVersion"].startswith(shown["properties"]["secretUri"] + "/")
    listed = requests.get(f"{url}?api-version=2019-09-01", headers=sdk.bearer(info), verify=info["ca_cert"], timeout=10).json()
    assert [s["name"] for s in listed["value"]] == ["s1"] and "not-for-your-eyes" not in str(listed)
    from azure.keyvault.secrets import SecretClient

    data_plane = SecretClient("https://kvsecrets.vault.local.azurestack.external/", sdk.credential(info), api_version="2016-10-01",
                              connection_verify=info["keyvault_ca_cert"])
    assert data_plane.get_secret("s1").value == "not-for-your-eyes"  # the secret is the vault's, as on a Stack
    missing = requests.put(f"{url}/s2?api-version=2019-09-01", json={"properties": {}}, headers=sdk.bearer(info),
                           verify=info["ca_cert"], timeout=10)
    assert missing.status_code == 400


def test_the_directory_finds_the_service_principal_by_its_name_and_has_no_signed_in_user(start_emulator):
    """What `az keyvault create` asks Microsoft Graph to name the caller in the vault's access policy."""
    info = start_emulator(release="2108").info()
    token = sdk.credential(info).get_token("https://graph.microsoft.com/.default").token
    headers, verify = {"Authorization": f"Bearer {token}"}, info["public_ca_bundle"]

    def get(path, **params):
        return requests.get(f"https://graph.microsoft.com/v1.0/{path}", params=params, headers=headers, verify=verify,
                            timeout=10)

    me = get("me")
    assert me.status_code == 400 and "delegated authentication flow" in me.json()["error"]["message"]
    by_name = get("servicePrincipals", **{"$filter": f"servicePrincipalNames/any(c:c eq '{info['client_id']}')"})
    assert by_name.status_code == 200 and [p["id"] for p in by_name.json()["value"]] == [sdk.object_id(info)]
    by_app = get("servicePrincipals", **{"$filter": f"appId eq '{info['client_id']}'"})
    assert [p["appId"] for p in by_app.json()["value"]] == [info["client_id"]]
    assert get("servicePrincipals", **{"$filter": "appId eq 'someone-else'"}).json()["value"] == []
    assert get("servicePrincipals", **{"$filter": "displayName eq 'x'"}).status_code == 400
