"""Resource Manager's named errors, each built in this one place with ARM's code and wording."""

from __future__ import annotations

from typing import Iterable

from generator.emulator.protocol import ArmError


def missing_api_version() -> ArmError:
    return ArmError(400, "MissingApiVersionParameter",
                    "The api-version query parameter (?api-version=) is required for all requests.")


def invalid_api_version(given: str, supported: Iterable[str]) -> ArmError:
    return ArmError(400, "InvalidApiVersionParameter",
                    f"The api-version '{given}' is invalid. The supported versions are '{','.join(supported)}'.")


def no_registered_provider(namespace: str, location: str) -> ArmError:
    return ArmError(400, "NoRegisteredProviderFound",
                    f"No registered resource provider found for location '{location}' and namespace '{namespace}'.")


def invalid_resource_type(namespace: str, resource_type: str, versions: str) -> ArmError:
    return ArmError(400, "InvalidResourceType",
                    f"The resource type '{resource_type}' could not be found in the namespace '{namespace}' "
                    f"for api version '{versions}'.")


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
    return ArmError(409, "MissingSubscriptionRegistration",
                    f"The subscription is not registered to use namespace '{namespace}'. "
                    "See https://aka.ms/rps-not-found for how to register subscriptions.")


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
