"""Answers of the emulator checked against what real Stacks (and the REST specs the SDK is built from) answered, each
test naming its evidence: a status code, an error's shape, what Microsoft's clients accept."""

from __future__ import annotations

import uuid

import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.resource import ResourceManagementClient
from azure.mgmt.storage import StorageManagementClient
from azure.profiles import KnownProfiles

from tests import sdk

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"


def _get(info, path: str) -> requests.Response:
    url = info["arm_endpoint"] + path.lstrip("/").replace("{sub}", info["subscription_id"])
    return requests.get(url, headers=sdk.bearer(info), verify=info["ca_cert"], timeout=30)


def test_a_provider_type_at_a_version_it_does_not_serve_is_not_found(emulator):
    # real-stack: Azure/azurestack-powershell#43 (2020-08-07): Get-AzStorageUsage at 2018-11-01 on a Stack answered
    # "Status Code: NotFound" and "The resource type 'locations' could not be found in the namespace 'Microsoft.Storage'
    # for api version '2018-11-01'. The supported api-versions are '2017-10-01,2017-06-01,...'" (newest first).
    info = emulator.info()
    answer = _get(info, "/subscriptions/{sub}/providers/Microsoft.Storage/locations/local/usages?api-version=2018-11-01")
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert error["code"] == "InvalidResourceType"
    assert error["message"].startswith("The resource type 'locations' could not be found in the namespace 'Microsoft.Storage' "
                                       "for api version '2018-11-01'. The supported api-versions are '2019-06-01,2018-07-01,")


def test_a_client_without_its_profile_gets_the_sdks_not_found(emulator):
    # The SDK maps ARM's 404 to ResourceNotFoundError, as on a Stack (azure-cli#27967: ResourceNotFoundError
    # (InvalidResourceType) from a Stack's Microsoft.KeyVault).
    storage = sdk.client(StorageManagementClient, emulator.info(), profile=None)
    with pytest.raises(ResourceNotFoundError) as refused:
        list(storage.storage_accounts.list())
    assert refused.value.error.code == "InvalidResourceType"


def test_a_type_the_namespace_does_not_have_is_named_as_arm_names_it(emulator):
    # real-stack: Azure/azure-cli#27967 (a Stack, Microsoft.KeyVault at 2016-10-01): "The resource type could not be
    # found in the namespace 'Microsoft.KeyVault' for api version '2016-10-01'." (no type, no list), as a 404.
    answer = _get(emulator.info(), "/subscriptions/{sub}/providers/Microsoft.KeyVault/nosuchtype?api-version=2016-10-01")
    assert answer.status_code == 404
    assert answer.json()["error"] == {
        "code": "InvalidResourceType",
        "message": "The resource type could not be found in the namespace 'Microsoft.KeyVault' for api version '2016-10-01'."}


def test_the_same_role_assignment_put_again_is_created_as_the_spec_says(emulator):
    # spec: Authorization 2015-07-01 (authorization-RoleAssignmentsCalls.json) answers RoleAssignments_Create with 201 only,
    # and azure-mgmt-authorization's v2015_07_01 client accepts nothing else: a re-run of the same PUT must not fail.
    info = emulator.info()
    authorization = sdk.client(AuthorizationManagementClient, info, api_version="2015-07-01")
    scope = f"/subscriptions/{info['subscription_id']}"
    name = str(uuid.uuid4())
    parameters = {"properties": {"role_definition_id": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{READER}",
                                 "principal_id": str(uuid.uuid4())}}
    first = authorization.role_assignments.create(scope, name, parameters)
    again = authorization.role_assignments.create(scope, name, parameters)
    assert again.id == first.id


def test_a_refused_service_principal_is_named_by_its_object_id(start_emulator):
    # real: ARM names a service principal by its object id twice ("The client '63df65da-...' with object id
    # '63df65da-...'", Azure/azure-sdk-for-net#1157, whose author notes it is not the client id).
    info = start_emulator(role="Reader").info()
    resources = sdk.client(ResourceManagementClient, info, KnownProfiles.v2020_09_01_hybrid)
    with pytest.raises(Exception) as refused:
        resources.resource_groups.create_or_update("rg", {"location": "local"})
    object_id = sdk.object_id(info)
    assert f"The client '{object_id}' with object id '{object_id}' does not have authorization" in str(refused.value)


def test_a_tag_filter_combined_with_another_is_refused_in_arms_words(emulator):
    # real: ARM refuses a tag's clauses beside any other, 400 "Invalid $filter '...' specified in the query string."
    # (azure-cli#7674, azure-powershell#293, azure-sdk-for-python#27064); a tag's name and value together are fine, and a
    # resource group list filters by tag only (azure-rest-api-specs#2540).
    info = emulator.info()
    combined = "tagName eq 'team' and tagValue eq 't0' and resourceType eq 'Microsoft.Storage/storageAccounts'"
    answer = _get(info, f"/subscriptions/{{sub}}/resources?api-version=2019-10-01&$filter={combined}")
    assert answer.status_code == 400
    assert answer.json()["error"] == {"code": "InvalidFilterInQueryString",
                                      "message": f"Invalid $filter '{combined}' specified in the query string."}
    assert _get(info, "/subscriptions/{sub}/resources?api-version=2019-10-01&$filter=tagName eq 'team' and tagValue eq 't0'").ok
    by_location = _get(info, "/subscriptions/{sub}/resourcegroups?api-version=2019-10-01&$filter=location eq 'local'")
    assert by_location.status_code == 400 and by_location.json()["error"]["code"] == "InvalidFilterInQueryString"
    assert _get(info, "/subscriptions/{sub}/resourcegroups?api-version=2019-10-01&$filter=tagName eq 'team'").ok


def test_an_unregistered_namespace_is_named_in_the_errors_details(emulator):
    # real: ARM's MissingSubscriptionRegistration carries details [{code, target: <namespace>, message}] (Azure/OpenShift#21,
    # Azure/azure-sdk-for-node#2305); go-autorest's automatic registration takes the namespace from details[0].target only.
    info = emulator.info()
    sdk.client(ResourceManagementClient, info, KnownProfiles.v2020_09_01_hybrid).resource_groups.create_or_update(
        "rg", {"location": "local"})
    url = (f"{info['arm_endpoint']}subscriptions/{info['subscription_id']}/resourcegroups/rg/providers/Microsoft.Storage/"
           "storageAccounts/acct1?api-version=2019-06-01")
    answer = requests.put(url, json={"location": "local", "sku": {"name": "Standard_LRS"}, "kind": "Storage"},
                          headers=sdk.bearer(info), verify=info["ca_cert"], timeout=30)
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["code"] == "MissingSubscriptionRegistration"
    assert error["details"] == [{"code": "MissingSubscriptionRegistration", "target": "Microsoft.Storage", "message": error["message"]}]


@pytest.mark.parametrize("identity", ["azure_ad", "adfs"])
def test_a_v1_token_request_naming_its_resource_signs_in(start_emulator, identity):
    # docs: Azure AD's v1 endpoint (/{tenant}/oauth2/token, the token_endpoint of the emulator's own v1 discovery document)
    # and AD FS take client credentials with resource=<audience>, as ADAL, AzureRM PowerShell and go-autorest ask.
    info = start_emulator(identity_system=identity).info()
    meta = sdk.metadata(info)
    audience = meta["authentication"]["audiences"][0]
    login = meta["authentication"]["loginEndpoint"].rstrip("/")
    discovery = f"{login}/.well-known/openid-configuration" if identity == "adfs" else \
        f"{login}/{info['tenant_id']}/.well-known/openid-configuration"
    token_endpoint = requests.get(discovery, verify=info["identity_ca_cert"], timeout=30).json()["token_endpoint"]
    answer = requests.post(token_endpoint, data={"grant_type": "client_credentials", "client_id": info["client_id"],
                                                 "client_secret": info["client_secret"], "resource": audience},
                           verify=info["identity_ca_cert"], timeout=30)
    assert answer.status_code == 200, answer.text
    token = answer.json()
    assert token["resource"] == audience and int(token["expires_on"]) > int(token["not_before"])
    subscriptions = requests.get(f"{info['arm_endpoint']}subscriptions?api-version=2016-06-01", verify=info["ca_cert"],
                                 headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=30)
    assert subscriptions.status_code == 200


def test_compute_usages_in_the_region_are_served(start_emulator):
    # real-stack: a Stack's provider list carries Microsoft.Compute locations/usages (AzureStack-Tools
    # Policy/AzureStack.Provider.Metadata.json; hybrid-2019-03-01 names it too); ComputeManagementClient.usage.list asks it.
    from azure.mgmt.compute import ComputeManagementClient
    from azure.mgmt.network import NetworkManagementClient

    info, profile, _ = sdk.stack_with_group(start_emulator, "2108", "azure_ad", "Microsoft.Compute", "Microsoft.Network")
    compute = sdk.client(ComputeManagementClient, info, profile)
    compute.availability_sets.create_or_update("rg", "set1", {"location": "local"})
    usages = {u.name.value: u for u in compute.usage.list("local")}
    assert usages["availabilitySets"].current_value == 1 and usages["availabilitySets"].limit > 0
    assert usages["cores"].current_value == 0 and usages["virtualMachines"].current_value == 0
    network = sdk.client(NetworkManagementClient, info, profile)
    nic = sdk.nic_on(network, sdk.vnet_with_a_subnet(network).subnets[0].id)
    compute.virtual_machines.begin_create_or_update("rg", "vm", {
        "location": "local", "hardware_profile": {"vm_size": "Standard_A2_v2"},
        "storage_profile": {"image_reference": {"publisher": "Canonical", "offer": "UbuntuServer", "sku": "18.04-LTS",
                                                "version": "latest"},
                            "os_disk": {"create_option": "FromImage", "managed_disk": {"storage_account_type": "Standard_LRS"}}},
        "os_profile": {"computer_name": "vm", "admin_username": "azureuser", "linux_configuration": {
            "disable_password_authentication": True, "ssh": {"public_keys": [
                {"path": "/home/azureuser/.ssh/authorized_keys", "key_data": sdk.SSH_KEY}]}}},
        "network_profile": {"network_interfaces": [{"id": nic.id}]}}).result()
    usages = {u.name.value: u for u in compute.usage.list("local")}
    assert usages["cores"].current_value == 2 and usages["virtualMachines"].current_value == 1  # Standard_A2_v2: 2 cores


@pytest.mark.parametrize("release", ["2008", "2108"])
def test_key_vault_at_2016_10_01_has_no_deleted_vaults(start_emulator, release):
    # real-stack: Azure/azure-cli#27967 (a Microsoft test stamp): listing deleted vaults at 2016-10-01, as az keyvault
    # purge/recover do under a hybrid profile, answered 404 InvalidResourceType; neither hybrid profile (azure-rest-api-specs
    # profiles/definitions) nor a Stack's provider list (AzureStack-Tools) has deletedVaults or checkNameAvailability there.
    info = start_emulator(release=release).info()
    answer = _get(info, "/subscriptions/{sub}/providers/Microsoft.KeyVault/deletedVaults?api-version=2016-10-01")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "InvalidResourceType"


def test_the_provider_list_has_no_namespace_a_stack_lacks(emulator):
    # real-stack: a Stack's provider answer (AzureStack-Tools Policy/AzureStack.Provider.Metadata.json) has no Microsoft.Dns;
    # DNS zones are Microsoft.Network's (spec: hybrid-2018-03-01 and hybrid-2019-03-01, microsoft.network dnsZones).
    namespaces = {p["namespace"] for p in _get(emulator.info(), "/subscriptions/{sub}/providers?api-version=2019-10-01").json()["value"]}
    assert "Microsoft.Dns" not in namespaces and "Microsoft.Network" in namespaces


def test_a_request_without_a_token_is_unauthenticated_on_any_path(emulator):
    # real-stack: a Stack's Resource Manager answers 401 with its WWW-Authenticate challenge to any unauthenticated path,
    # before it looks the path up (/work/shared/reference/azure-stack-hub.md, section 7).
    info = emulator.info()
    unknown = f"{info['arm_endpoint']}subscriptions/{info['subscription_id']}/providers/Microsoft.Network/locations/local/nothinghere"
    answer = requests.get(unknown, params={"api-version": "2018-11-01"}, verify=info["ca_cert"], timeout=30)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "AuthenticationFailed"
    assert answer.headers["WWW-Authenticate"].startswith('Bearer authorization_uri="')
    signed_in = requests.get(unknown, params={"api-version": "2018-11-01"}, headers=sdk.bearer(info), verify=info["ca_cert"], timeout=30)
    assert signed_in.status_code == 404


def test_the_metadata_endpoint_without_an_api_version_says_so(emulator):
    # ARM's MissingApiVersionParameter (its answer to any request without one); the emulator said "The api-version 'None'".
    info = emulator.info()
    answer = requests.get(f"{info['arm_endpoint']}metadata/endpoints", verify=info["ca_cert"], timeout=30)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "MissingApiVersionParameter"
