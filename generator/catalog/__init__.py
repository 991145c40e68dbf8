"""The catalog: every fact the generator decides with, as data in one place.

- ``profiles``: which API version each management client sends under each profile, and which profile each Azure
  Stack Hub release needs (adding a release is one line in ``STACK_RELEASES``);
- ``packages``: the exact package set that still honours the profiles, with the reason for each pin; beside the pins
  their lock (``generator/catalog/pins.lock``, read by ``generator/catalog/lock.py``): everything they install, hashed;
- ``samples``: what each sample needs: packages, clients, resource providers and the role its actions need.

Every name of those three is exported here too (``from generator.catalog import PINS``): the generator's modules and
released template versions import them so. Beside them: ``lock`` (the lock's reader), ``pins``
(``python -m generator.catalog.pins``: docs/pins.md, the lock, the wire probe of candidate releases) and
``_pin_probe`` (that probe, run by a candidate venv's Python).

Sources: Microsoft's Azure Stack Hub profile tables, ``azure.profiles.KnownProfiles`` in
azure-common 1.1.28, and wire tests of each pinned package against the emulator.
"""

from __future__ import annotations

from generator.catalog.packages import BASE_PACKAGES, PINS, Pin
from generator.catalog.profiles import (
    CLIENTS,
    HYBRID_2019,
    HYBRID_2020,
    LATEST,
    PROFILES,
    STACK_RELEASES,
    STORAGE_DATA_API_VERSION,
    CatalogError,
    ClientSpec,
    Profile,
    parse_release,
    profile,
    profile_for_release,
)
from generator.catalog.samples import (
    DEFAULT_SAMPLES,
    ROLES,
    SAMPLES,
    Role,
    Sample,
    clients_for,
    locked_for,
    minimal_role,
    packages_for,
    providers_for,
    refused_actions,
    role_for_action,
    sample_names,
)

__all__ = [
    "BASE_PACKAGES",
    "CLIENTS",
    "CatalogError",
    "ClientSpec",
    "DEFAULT_SAMPLES",
    "HYBRID_2019",
    "HYBRID_2020",
    "LATEST",
    "PINS",
    "PROFILES",
    "Pin",
    "Profile",
    "ROLES",
    "Role",
    "SAMPLES",
    "STACK_RELEASES",
    "STORAGE_DATA_API_VERSION",
    "Sample",
    "clients_for",
    "locked_for",
    "minimal_role",
    "packages_for",
    "parse_release",
    "profile",
    "profile_for_release",
    "providers_for",
    "refused_actions",
    "role_for_action",
    "sample_names",
]
