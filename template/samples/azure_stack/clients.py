"""Clients of this Stack: management clients (with its endpoint, token scope and API profile), Key Vault's secrets
and the blob service (with the data-plane versions ``stack.json`` names, which no profile covers). Each verifies TLS
with the project's bundle and waits boundedly (:mod:`waiting`).

A new kind of client goes here, set up the same way: ``transport=transport(config)``.
"""

from __future__ import annotations

from typing import Any

from .credentials import credential
from .settings import StackConfig
from .waiting import transport


def bounded_retry_policy(longest_wait: float) -> Any:
    """azure-core's retry policy, except that a Retry-After longer than ``longest_wait`` is waited that long
    at most (a Stack under load may ask for an hour; the caller's --timeout decides instead)."""
    from azure.core.pipeline.policies import RetryPolicy

    class _BoundedRetry(RetryPolicy):
        def get_retry_after(self, response: Any) -> Any:
            wait = super().get_retry_after(response)
            return None if wait is None else min(wait, longest_wait)

    return _BoundedRetry(retry_total=3)


def client(cls: type, config: StackConfig, cred: Any = None, longest_retry_wait: float = 30.0) -> Any:
    """A management client of ``cls`` for this Stack: its endpoint, token scope and API profile.

    Retries follow azure-core's policy with Retry-After capped at ``longest_retry_wait`` seconds.
    """
    from azure.profiles import KnownProfiles

    options: dict[str, Any] = {"base_url": config.resource_manager, "credential_scopes": [config.credential_scope],
                               "retry_policy": bounded_retry_policy(longest_retry_wait), "transport": transport(config),
                               "profile": getattr(KnownProfiles, config.known_profile)}
    cred = cred or credential(config)
    if cls.__name__ == "SubscriptionClient":
        return cls(cred, **options)
    return cls(cred, config.subscription_id, **options)


def secret_client(config: StackConfig, vault_uri: str, cred: Any = None, longest_retry_wait: float = 30.0) -> Any:
    """An azure-keyvault-secrets client for a vault of this Stack.

    No API profile covers Key Vault's data plane, so the api-version comes from ``stack.json`` (the SDK's
    default is global Azure's newest, which a Stack refuses). The SDK's challenge check stays on: the vault's
    host (``<vault>.vault.<region>.<fqdn>``) ends in the host of the challenge's resource
    (``https://vault.<region>.<fqdn>``), so a token is never sent to a vault URL that points elsewhere.
    """
    from azure.keyvault.secrets import SecretClient

    return SecretClient(vault_uri, cred or credential(config), api_version=config.keyvault_data_api_version,
                        retry_policy=bounded_retry_policy(longest_retry_wait), transport=transport(config))


def blob_service(config: StackConfig, account_url: str, account_name: str, account_key: str) -> Any:
    """An azure-storage-blob client for a storage account of this Stack, signing with the account's key (a Stack's
    blob service takes no Azure AD tokens). The service version comes from ``stack.json``: the SDK's default may be
    newer than a Stack serves. (Its own retry policy stays: it is the one that knows the storage hosts.)"""
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient(account_url, credential={"account_name": account_name, "account_key": account_key},
                             api_version=config.storage_data_api_version, transport=transport(config))


def begin_or_call(operations: Any, name: str, *args: Any) -> Any:
    """``operations.begin_<name>(...).result()`` where the profile's client has a long-running form, else
    ``operations.<name>(...)``: some api-versions made an operation long-running, and a profile picks one."""
    begin = getattr(operations, f"begin_{name}", None)
    return begin(*args).result() if begin is not None else getattr(operations, name)(*args)
