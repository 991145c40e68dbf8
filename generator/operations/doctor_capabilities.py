"""What doctor checks ARM templates against: a Stack's capabilities (the api-versions it serves per resource type;
with a discovered Stack or a ``discover --capabilities`` file also its VM sizes, marketplace images and VM
extensions), or else what a release serves by the API profiles' tables (the profiles a template may name in
``apiProfile``, Microsoft's published definitions) widened by what real Stacks were seen to serve.
:mod:`doctor_templates` runs the checks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator._util.files import read_regular_file
from generator.operations.doctor_findings import DoctorError

# The API profiles a template may name in "apiProfile", oldest first, each with the version it gives a
# resource type: per namespace, with the types whose version differs from their namespace's (Microsoft's
# published profile definitions: azure-rest-api-specs profiles/definitions, hybrid-2018-03-01.md and
# hybrid-2019-03-01.md; the 2020-09-01-hybrid as Azure CLI and the SDK profiles define it).
TEMPLATE_PROFILES: dict[str, dict[str, dict[str, str]]] = {
    "2017-03-09-profile": {
        "microsoft.compute": {"": "2016-03-30"}, "microsoft.network": {"": "2015-06-15", "dnszones": "2016-04-01"},
        "microsoft.storage": {"": "2016-01-01"}, "microsoft.keyvault": {"": "2016-10-01"},
        "microsoft.resources": {"": "2016-02-01"}, "microsoft.authorization": {"": "2015-07-01", "locks": "2016-09-01"},
    },
    "2018-03-01-hybrid": {
        "microsoft.compute": {"": "2017-03-30"}, "microsoft.network": {"": "2017-10-01", "dnszones": "2016-04-01"},
        "microsoft.storage": {"": "2016-01-01"}, "microsoft.keyvault": {"": "2016-10-01"},
        "microsoft.resources": {"": "2018-02-01"}, "microsoft.authorization": {"": "2015-07-01", "locks": "2016-09-01"},
        "microsoft.web": {"": "2016-08-01", "serverfarms": "2016-09-01", "certificates": "2016-03-01"},
    },
    "2019-03-01-hybrid": {
        "microsoft.compute": {"": "2017-12-01", "disks": "2017-03-30", "snapshots": "2017-03-30"},
        "microsoft.network": {"": "2017-10-01", "dnszones": "2016-04-01"}, "microsoft.storage": {"": "2017-10-01"},
        "microsoft.keyvault": {"": "2016-10-01"}, "microsoft.resources": {"": "2018-05-01"},
        "microsoft.authorization": {"": "2015-07-01", "locks": "2016-09-01"}, "microsoft.web": {"": "2018-02-01"},
    },
    "2020-09-01-hybrid": {
        "microsoft.compute": {"": "2020-06-01", "disks": "2019-07-01", "snapshots": "2019-07-01"},
        "microsoft.network": {"": "2018-11-01", "dnszones": "2016-04-01"}, "microsoft.storage": {"": "2019-06-01"},
        "microsoft.keyvault": {"": "2019-09-01"}, "microsoft.resources": {"": "2019-10-01"},
        "microsoft.authorization": {"": "2015-07-01", "locks": "2016-09-01"}, "microsoft.web": {"": "2018-02-01"},
    },
}
# Versions older than any profile that Microsoft's "Develop templates for Azure Stack Hub" lists as valid on every Stack.
_EVERY_STACK = {"microsoft.compute": ("2015-06-15",), "microsoft.network": ("2015-06-15", "2015-05-01-preview"),
                "microsoft.storage": ("2016-01-01", "2015-06-15", "2015-05-01-preview"), "microsoft.keyvault": ("2015-06-01",),
                "microsoft.resources": ("2015-01-01",)}
FIRST_2020_09_01_RELEASE = 2102
MAX_CAPABILITIES_BYTES = 4 * 1024 * 1024  # a capabilities file is read as a template is: 4 MB at most


@dataclass
class Capabilities:
    """What a Stack serves, as far as it is known: api-versions per (namespace, type) in lower case; VM sizes,
    images and extensions (None: unknown, so not checked)."""

    source: str  # "the Stack at ...", "the Stack in FILE", "a 2008 Stack (by its API profiles)"
    served: dict[tuple[str, str], set[str]]
    profiles: tuple[str, ...]
    sizes: set[str] | None = None
    images: set[tuple[str, str, str]] | None = None
    extensions: dict[tuple[str, str], list[str]] | None = None
    image_names: list[str] = field(default_factory=list)


def profiles_up_to(release: str | None) -> tuple[str, ...]:
    """The template profiles a release supports (every one without a release: a 2102 or later Stack)."""
    names = tuple(TEMPLATE_PROFILES)
    if release and release.isdigit() and int(release) < FIRST_2020_09_01_RELEASE:
        return names[:-1]
    return names


def _profile_tables(profiles: tuple[str, ...], release: str | None) -> dict[tuple[str, str], set[str]]:
    """What a Stack supporting ``profiles`` serves, by namespace ("" type: every type of the namespace), widened by
    what real Stacks of ``release`` (2102 when None) or earlier were seen to serve (``azs_emulator.api_evidence``)."""
    from azs_emulator.api_evidence import versions_seen

    served: dict[tuple[str, str], set[str]] = {}
    for name in profiles:
        for namespace, types in TEMPLATE_PROFILES[name].items():
            for resource_type, version in types.items():
                served.setdefault((namespace, resource_type), set()).add(version)
    for namespace, every in _EVERY_STACK.items():
        served.setdefault((namespace, ""), set()).update(every)
    for (namespace, rtype), seen in versions_seen(int(release) if release and release.isdigit() else FIRST_2020_09_01_RELEASE).items():
        served[(namespace, rtype)] = served.get((namespace, rtype), set(served.get((namespace, ""), set()))) | seen
    return served


def from_release(release: str | None) -> Capabilities:
    """A Stack of ``release`` (any supported one when None) as the profile tables and real Stacks tell: api-versions."""
    profiles, what = profiles_up_to(release), f"a {release} Stack" if release else "a Stack of 2102 or later"
    return Capabilities(f"{what} (by its API profiles and real Stacks)", _profile_tables(profiles, release), profiles)


def from_capabilities(data: dict[str, Any], source: str) -> Capabilities:
    """Capabilities as ``discover --capabilities`` wrote them."""
    if not isinstance(data, dict) or not isinstance(data.get("providers"), list):
        raise DoctorError(f"{source} holds no Stack capabilities (no 'providers' list); write it with "
                          "azs-scaffold discover --capabilities FILE")
    served: dict[tuple[str, str], set[str]] = {}
    for provider in data["providers"]:
        namespace = str(provider.get("namespace", "")).lower()
        for entry in provider.get("resourceTypes") or []:
            served.setdefault((namespace, str(entry.get("resourceType", "")).lower()), set()).update(entry.get("apiVersions") or [])
    release = str(data.get("stackVersion") or "") or None
    images = [(str(i.get("publisher")), str(i.get("offer")), str(i.get("sku"))) for i in data.get("vmImages") or []]
    return Capabilities(
        source if source.startswith("the Stack") else f"the Stack in {source}", served,
        profiles_up_to(release) if data.get("profile") != "latest" else tuple(TEMPLATE_PROFILES),
        sizes={str(s).lower() for s in data.get("vmSizes") or []},
        images={(publisher.lower(), offer.lower(), sku.lower()) for publisher, offer, sku in images},
        extensions={(str(e.get("publisher")).lower(), str(e.get("type")).lower()): list(e.get("versions") or [])
                    for e in data.get("vmExtensions") or []},
        image_names=[":".join(image) for image in images],
    )


def read_capabilities_file(path: str) -> Capabilities:
    """The capabilities file ``path`` (a one-line DoctorError when it cannot be read)."""
    try:
        data = json.loads(read_regular_file(Path(path).expanduser(), MAX_CAPABILITIES_BYTES).decode("utf-8"))
    except OSError as exc:
        raise DoctorError(f"--capabilities {path}: {exc.strerror or exc}; write it with "
                          "azs-scaffold discover --capabilities FILE") from None
    except json.JSONDecodeError as exc:
        raise DoctorError(f"--capabilities {path} is not JSON ({exc.msg} at line {exc.lineno}); write it again with "
                          "azs-scaffold discover --capabilities FILE") from None
    except (UnicodeDecodeError, RecursionError):
        raise DoctorError(f"--capabilities {path} is not UTF-8 JSON that can be read; write it again with "
                          "azs-scaffold discover --capabilities FILE") from None
    try:
        return from_capabilities(data, path)
    except (AttributeError, TypeError, KeyError):
        raise DoctorError(f"--capabilities {path} is not shaped as discover --capabilities writes it (providers with "
                          "resourceTypes and apiVersions lists); write it again") from None
