"""Microsoft's public clouds, as data: the facts a Stack's metadata does not give for them and the login hosts
MSAL knows (azure-cli keeps its clouds the same way). A Stack is none of them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PublicCloud:
    """One public cloud: the hosts its Resource Manager and sign-in answer at, and its services' DNS suffixes."""

    name: str
    resource_manager_hosts: tuple[str, ...]
    login_hosts: tuple[str, ...]
    storage_suffix: str
    keyvault_dns_suffix: str


KNOWN_CLOUDS = (
    PublicCloud("AzureCloud", ("management.azure.com", "management.core.windows.net"),
                ("login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"),
                "core.windows.net", "vault.azure.net"),
    PublicCloud("AzureUSGovernment", ("management.usgovcloudapi.net",), ("login.microsoftonline.us",),
                "core.usgovcloudapi.net", "vault.usgovcloudapi.net"),
    PublicCloud("AzureChinaCloud", ("management.chinacloudapi.cn",), ("login.chinacloudapi.cn",),
                "core.chinacloudapi.cn", "vault.azure.cn"),
)

# Every login host of a public cloud: for any other host MSAL's instance discovery must be disabled, or MSAL asks
# login.microsoftonline.com about it (unreachable from a disconnected Stack, and wrong anyway).
MICROSOFT_LOGIN_HOSTS = tuple(host for cloud in KNOWN_CLOUDS for host in cloud.login_hosts)


def cloud_at(resource_manager_host: str) -> PublicCloud | None:
    """The public cloud whose Resource Manager answers at this host; None for a Stack."""
    return next((cloud for cloud in KNOWN_CLOUDS if resource_manager_host in cloud.resource_manager_hosts), None)
