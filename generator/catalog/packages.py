"""The pinned packages: the exact release of every package a generated project installs that still honours the
profiles, with the reason for each pin, the oldest release proven and the first that breaks (measured with
``python -m generator.catalog.pins verify``, wire tests of each release against the emulator)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Pin:
    """One exact package pin and why it is exactly that release."""

    package: str
    version: str  # the newest release proven (python -m generator.catalog.pins verify), unless the reason says otherwise
    reason: str
    oldest: str = ""  # the oldest release proven the same way ("" where not measured)
    breaks: str = ""  # the first release after ``version`` that fails, and how

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


# One package set serves all three profiles: these releases still carry the hybrid API versions
# and honour ``profile=``; the next release of each does not.
PINS: Mapping[str, Pin] = MappingProxyType(
    {
        p.package: p
        for p in (
            Pin("azure-identity", "1.27.0", "the newest release; signs in on Azure AD and ADFS Stacks without asking "
                "login.microsoftonline.com (disable_instance_discovery)", oldest="1.13.0",
                breaks="none newer yet; 1.12.0 and older have no disable_instance_discovery: MSAL asks "
                "login.microsoftonline.com about the Stack's authority (fails disconnected)"),
            Pin("azure-common", "1.1.28", "provides azure.profiles.KnownProfiles; newer mgmt packages no longer depend on it"),
            Pin("azure-mgmt-resource", "24.0.0", "the newest release that carries 2019-10-01 and 2018-05-01 and honours "
                "profile= (25.0.0 dropped them); proven on the wire against the emulator for all three profiles. The oldest "
                "that works is 16.1.0 (15.0.0 uses another profile tag and silently ignores profiles), but it needs six and "
                "the retired msrest, and is four years older", oldest="16.1.0 (15.0.0 ignores profiles: another profile tag)",
                breaks="25.0.0: sends 2025-04-01 under both hybrid profiles, and moved SubscriptionClient out"),
            Pin("azure-mgmt-storage", "22.2.0", "last release with 2019-06-01 and 2017-10-01 and profile=; 23.0.0 dropped them",
                oldest="16.0.0 (hybrid profiles)", breaks="23.0.0: sends 2024-01-01 under both hybrid profiles"),
            Pin("azure-mgmt-network", "27.0.0", "last release with 2018-11-01 and 2017-10-01 and profile=; 28.0.0 dropped them",
                oldest="16.0.0 (hybrid profiles; not contiguous: 23.0.0 sends 2022-09-01 under 2019_03_01_hybrid)",
                breaks="28.0.0: sends 2024-03-01 under both hybrid profiles"),
            Pin("azure-mgmt-keyvault", "10.3.1", "last release with 2019-09-01 and 2016-10-01 and profile=; 11.0.0 dropped 2019-09-01",
                oldest="7.0.0", breaks="11.0.0: has no 'vaults' operations at 2019-09-01 (2020_09_01_hybrid)"),
            Pin("azure-mgmt-compute", "35.0.0", "last release with 2020-06-01 and 2017-12-01 and profile=; 36.0.0 dropped them",
                oldest="17.0.0 (hybrid profiles)", breaks="36.0.0: sends 2024-11-01 under both hybrid profiles"),
            Pin("azure-keyvault-secrets", "4.12.0", "Key Vault's data plane, which no profile covers: the project passes "
                "api_version (2016-10-01 on a Stack, both hybrid profiles name it for the data plane) and keeps the "
                "challenge check on (a vault's host ends in the Stack's vault audience); 4.8.0 is the first that answers an "
                "ADFS challenge", oldest="4.8.0 (ADFS challenges)",
                breaks="none newer yet; a release that drops api_version 2016-10-01 would"),
            Pin("azure-storage-blob", "12.3.1", "the storage data plane, which no profile covers: Microsoft's Stack storage "
                "documentation names 12.3.1 for releases 2008 and later; it speaks service version 2019-07-07 (a Stack's "
                "newest) for requests and for the shared access signatures it signs, which newer releases sign at their own "
                "newer version (a Stack refuses them)", oldest="12.3.1",
                breaks="12.4.0 and newer: shared access signatures carry their own newer signed version (12.9.0: 2020-10-02)"),
            Pin("six", "1.17.0", "azure-storage-blob 12.3.1 imports six without declaring it", oldest="1.17.0",
                breaks="none known"),
        )
    }
)
# Every project needs these, whatever its samples.
BASE_PACKAGES = ("azure-common", "azure-identity")
