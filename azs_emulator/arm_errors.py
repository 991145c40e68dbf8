"""Resource Manager's named errors, each built in this one place with ARM's code and wording."""

from __future__ import annotations

from collections.abc import Iterable

from azs_emulator.protocol import ArmError


def missing_api_version() -> ArmError:
    return ArmError(400, "MissingApiVersionParameter",
                    "The api-version query parameter (?api-version=) is required for all requests.")


def invalid_api_version(given: str, supported: Iterable[str]) -> ArmError:
    return ArmError(400, "InvalidApiVersionParameter",
                    f"The api-version '{given}' is invalid. The supported versions are '{','.join(supported)}'.")


def no_registered_provider(namespace: str, location: str) -> ArmError:
    return ArmError(400, "NoRegisteredProviderFound",
                    f"No registered resource provider found for location '{location}' and namespace '{namespace}'.")


def no_provider_for_version(location: str, given: str, resource_type: str, supported: Iterable[str]) -> ArmError:
    """A resource provider's type at a version it does not serve, as a Stack words it (oldest version first)."""
    return ArmError(400, "NoRegisteredProviderFound",
                    f"No registered resource provider found for location '{location}' and API version '{given}' for "
                    f"type '{resource_type}'. The supported api-versions are '{', '.join(sorted(supported))}'. "
                    f"The supported locations are '{location}'.")


def invalid_resource_type(namespace: str, resource_type: str, given: str, supported: Iterable[str]) -> ArmError:
    """A type of the namespace at a version it does not serve: 404, the versions newest first (real-stack:
    Azure/azurestack-powershell#43, "Status Code: NotFound", Microsoft.Storage 'locations' at 2018-11-01)."""
    return ArmError(404, "InvalidResourceType",
                    f"The resource type '{resource_type}' could not be found in the namespace '{namespace}' "
                    f"for api version '{given}'. The supported api-versions are '{','.join(sorted(supported, reverse=True))}'.")


def unknown_resource_type(namespace: str, given: str) -> ArmError:
    """A type the namespace does not have at all: 404, naming neither the type nor versions (real-stack:
    Azure/azure-cli#27967, a Stack's Microsoft.KeyVault at 2016-10-01; Azure/azure-powershell#11022 on Azure)."""
    return ArmError(404, "InvalidResourceType",
                    f"The resource type could not be found in the namespace '{namespace}' for api version '{given}'.")


def invalid_resource_namespace(namespace: str) -> ArmError:
    return ArmError(404, "InvalidResourceNamespace", f"The resource namespace '{namespace}' is invalid.")


def subscription_not_found(subscription_id: str) -> ArmError:
    return ArmError(404, "SubscriptionNotFound", f"The subscription '{subscription_id}' could not be found.")


def resource_group_not_found(name: str) -> ArmError:
    return ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")


def resource_not_found(resource_type: str, name: str, group: str) -> ArmError:
    return ArmError(404, "ResourceNotFound",
                    f"The Resource '{resource_type}/{name}' under resource group '{group}' was not found.")


def deployment_not_found(name: str, group: str) -> ArmError:
    return ArmError(404, "DeploymentNotFound", f"Deployment '{name}' could not be found in resource group '{group}'.")


def missing_registration(namespace: str) -> ArmError:
    """With ``details[0].target`` naming the namespace, as ARM answers (real: Azure/OpenShift#21, azure-sdk-for-node#2305);
    go-autorest's automatic registration reads the namespace from there alone (autorest/azure/rp.go ``getProvider``)."""
    message = (f"The subscription is not registered to use namespace '{namespace}'. "
               "See https://aka.ms/rps-not-found for how to register subscriptions.")
    return ArmError(409, "MissingSubscriptionRegistration", message,
                    details=[{"code": "MissingSubscriptionRegistration", "target": namespace, "message": message}])


def invalid_request_content(detail: str = "") -> ArmError:
    message = "The request content was invalid and could not be deserialized."
    return ArmError(400, "InvalidRequestContent", f"{message} {detail}".strip())


def invalid_parameter(message: str) -> ArmError:
    return ArmError(400, "InvalidParameter", message)


def location_not_available(location: str, expected: str, what: str = "resource group") -> ArmError:
    return ArmError(400, "LocationNotAvailableForResourceGroup" if what == "resource group" else "LocationNotAvailableForResourceType",
                    f"The provided location '{location}' is not available for {what}. List of available regions is '{expected}'.")


def invalid_template(message: str) -> ArmError:
    return ArmError(400, "InvalidTemplate", message)


def operation_not_allowed(message: str) -> ArmError:
    return ArmError(409, "OperationNotAllowed", message)


def conflict(code: str, message: str) -> ArmError:
    return ArmError(409, code, message)


def no_route(path: str) -> ArmError:
    return ArmError(404, "NotFound", f"No HTTP resource was found that matches the request URI '{path}'.")


def operation_not_found(operation: str) -> ArmError:
    return ArmError(404, "OperationNotFound", f"The operation '{operation}' could not be found.")


def invalid_skip_token() -> ArmError:
    return ArmError(400, "InvalidSkipToken", "The $skiptoken is not valid.")


def not_found(what: str) -> ArmError:
    return ArmError(404, "NotFound", f"{what} was not found.")


def invalid_filter(expression: str) -> ArmError:
    """ARM's wording (real: azure-cli#7674, azure-powershell#293: "Invalid $filter '...' specified in the query string.")."""
    return ArmError(400, "InvalidFilterInQueryString", f"Invalid $filter '{expression}' specified in the query string.")


def invalid_resource_group_name(name: str) -> ArmError:
    return ArmError(400, "InvalidResourceGroup", f"The provided resource group name '{name}' has these invalid characters.")


def location_required() -> ArmError:
    return ArmError(400, "LocationRequired", "The location property is required for this definition.")


def action_not_supported(action: str, resource_type: str) -> ArmError:
    return ArmError(404, "InvalidResourceType", f"The action '{action}' is not supported for '{resource_type}'.")


# -- Microsoft.Storage ------------------------------------------------------------------------------


def storage_account_name_invalid(name: str) -> ArmError:
    return ArmError(400, "AccountNameInvalid", f"{name} is not a valid storage account name.")


# -- Microsoft.Network ------------------------------------------------------------------------------


def subnet_in_use(what: str) -> ArmError:
    return ArmError(400, "InUseSubnetCannotBeDeleted", f"{what} in use by network interfaces and cannot be deleted.")


def public_ip_in_use(ip_id: str, user_id: str) -> ArmError:
    return ArmError(400, "PublicIPAddressInUse", f"Public IP address {ip_id} can not be deleted since it is still "
                                                 f"allocated to resource {user_id}/ipConfigurations/.")


def nic_in_use(nic_id: str, user_id: str) -> ArmError:
    return ArmError(400, "NicInUse", f"Network Interface {nic_id} is used by existing resource {user_id}. "
                                     "In order to delete the network interface, it must be dissociated from the resource.")


# -- Microsoft.Compute ------------------------------------------------------------------------------


def location_not_found(location: str, expected: str) -> ArmError:
    return ArmError(404, "NoRegisteredProviderFound", f"The location '{location}' is not available; use '{expected}'.")


def platform_image_not_found(reference: str) -> ArmError:
    return ArmError(404, "PlatformImageNotFound", f"The platform image '{reference}' is not available. Verify that all "
                                                  "fields in the storage profile are correct.")


def vm_size_not_available(size: str, sizes: Iterable[str]) -> ArmError:
    return ArmError(400, "InvalidParameter", f"The requested VM size {size or '(none)'} is not available in the current "
                                             f"region. The sizes available are: {', '.join(sizes)}.")


# -- Microsoft.KeyVault (management plane, then the data plane's own codes) -------------------------


def vault_name_invalid(name: str) -> ArmError:
    return ArmError(400, "VaultNameNotValid", f"The vault name '{name}' is invalid. A vault's name must be between 3-24 "
                                              "alphanumeric characters. The name must begin with a letter, end with a "
                                              "letter or digit, and not contain consecutive hyphens.")


def vault_bad_request(message: str) -> ArmError:
    return ArmError(400, "BadRequest", message)


def vault_not_found(name: str) -> ArmError:
    return ArmError(404, "VaultNotFound", f"The vault '{name}' was not found on this Key Vault host.")


def vault_bad_parameter(message: str) -> ArmError:
    return ArmError(400, "BadParameter", message)


def vault_forbidden(message: str) -> ArmError:
    return ArmError(403, "Forbidden", message)


def secret_not_found(message: str) -> ArmError:
    return ArmError(404, "SecretNotFound", message)


def secret_deleted_but_recoverable(name: str) -> ArmError:
    return ArmError(409, "Conflict", f"Secret {name} is currently in a deleted but recoverable state, and its name cannot "
                                     "be reused; in this state, the secret can only be recovered or purged.")


def certificate_not_found(message: str) -> ArmError:
    return ArmError(404, "CertificateNotFound", message)


def certificate_operation_not_found(name: str) -> ArmError:
    return ArmError(404, "PendingCertificateNotFound", f"Pending certificate not found: {name}")


def certificate_deleted_but_recoverable(name: str) -> ArmError:
    return ArmError(409, "Conflict", f"Certificate {name} is currently in a deleted but recoverable state, and its name "
                                     "cannot be reused; in this state, the certificate can only be recovered or purged.")


# -- Microsoft.Authorization -----------------------------------------------------------------------


def authorization_failed(client: str, object_id: str, action: str, scope: str) -> ArmError:
    """``client``: a user's sign-in name, or a service principal's object id (not its application id)."""
    return ArmError(403, "AuthorizationFailed",
                    f"The client '{client}' with object id '{object_id}' does not have authorization to perform action "
                    f"'{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh "
                    "your credentials.")


def role_definition_not_found(definition: str) -> ArmError:
    return ArmError(404, "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{definition}' does not exist.")


def role_assignment_not_found() -> ArmError:
    return ArmError(404, "RoleAssignmentNotFound", "The role assignment '' is not found.")


def invalid_role_assignment_id(name: str) -> ArmError:
    return ArmError(400, "InvalidRoleAssignmentId",
                    f"The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.")


def role_assignment_exists() -> ArmError:
    return ArmError(409, "RoleAssignmentExists", "The role assignment already exists.")


def role_assignment_update_not_permitted() -> ArmError:
    return ArmError(409, "RoleAssignmentUpdateNotPermitted",
                    "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.")


# -- management locks, policy, moves -------------------------------------------------------------


def scope_locked(scope: str, operation: str, locked: Iterable[str]) -> ArmError:
    names = ",".join(f"'{s}'" for s in locked)
    return ArmError(409, "ScopeLocked", f"The scope '{scope}' cannot perform {operation} operation because following "
                                        f"scope(s) are locked: {names}. Please remove the lock and try again.")


def lock_not_found(name: str) -> ArmError:
    return ArmError(404, "LockNotFound", f"The lock '{name}' could not be found.")


def lock_level_invalid(level: str) -> ArmError:
    return ArmError(400, "LockLevelInvalid",
                    f"The lock level '{level}' is invalid. The supported lock levels are 'CanNotDelete' and 'ReadOnly'.")


def policy_definition_not_found(name: str) -> ArmError:
    return ArmError(404, "PolicyDefinitionNotFound", f"The policy definition '{name}' could not be found.")


def policy_assignment_not_found(name: str) -> ArmError:
    return ArmError(404, "PolicyAssignmentNotFound", f"The policy assignment '{name}' is not found.")


def invalid_policy_rule(message: str) -> ArmError:
    return ArmError(400, "InvalidPolicyRule", message)


def resource_move_invalid(message: str) -> ArmError:
    return ArmError(400, "InvalidResourceMoveRequest", message)
