"""Microsoft.Compute VM extensions: the extensions an operator has syndicated from the marketplace, listed as
``artifacttypes/vmextension`` answers them, and ``virtualMachines/extensions`` resources that reach
provisioning state Succeeded (no code runs). Scale sets check their ``extensionProfile`` here too."""

from __future__ import annotations

from typing import Any

from azs_emulator import arm_errors
from azs_emulator.arm_core import Arm
from azs_emulator.protocol import ArmError, Request, Response
from azs_emulator.resource_types import Render, ResourceType, TypeAddition, TypeDeclarations
from azs_emulator.routing import Route, route

VMS = "Microsoft.Compute/virtualMachines"  # as compute.py names it (which imports this module, so not from there)
VM_EXTENSIONS = f"{VMS}/extensions"

# (publisher, type, versions offered, OS): the Linux and Windows extensions of an operator's marketplace
# (Marketplace management: "VM extensions"), the ones Microsoft's Stack quickstart templates install.
EXTENSIONS = (
    ("Microsoft.Azure.Extensions", "CustomScript", ("2.0.7", "2.1.6"), "Linux"),
    ("Microsoft.Azure.Extensions", "DockerExtension", ("1.2.2",), "Linux"),
    ("Microsoft.OSTCExtensions", "CustomScriptForLinux", ("1.5.5",), "Linux"),
    ("Microsoft.OSTCExtensions", "VMAccessForLinux", ("1.5.11",), "Linux"),
    ("Microsoft.OSTCExtensions", "OSPatchingForLinux", ("2.3.0.1",), "Linux"),
    ("Microsoft.Azure.Diagnostics", "LinuxDiagnostic", ("3.0.141",), "Linux"),
    ("Microsoft.EnterpriseCloud.Monitoring", "OmsAgentForLinux", ("1.13.40",), "Linux"),
    ("Microsoft.Compute", "CustomScriptExtension", ("1.9.5", "1.10.12"), "Windows"),
    ("Microsoft.Compute", "BGInfo", ("2.1",), "Windows"),
    ("Microsoft.Compute", "VMAccessAgent", ("2.4.8",), "Windows"),
    ("Microsoft.Compute", "JsonADDomainExtension", ("1.3.9",), "Windows"),
    ("Microsoft.Powershell", "DSC", ("2.77.0.0", "2.83.5.0"), "Windows"),
    ("Microsoft.Azure.Diagnostics", "IaaSDiagnostics", ("1.16.0.0",), "Windows"),
    ("Microsoft.Azure.Security", "IaaSAntimalware", ("1.5.5.9",), "Windows"),
    ("Microsoft.EnterpriseCloud.Monitoring", "MicrosoftMonitoringAgent", ("1.0.18053.0",), "Windows"),
    ("Microsoft.SqlServer.Management", "SqlIaaSAgent", ("2.0.97",), "Windows"),
)
_LOCATIONS = r"/subscriptions/([^/]+)/providers/microsoft\.compute/locations/([^/]+)"
_TYPES = _LOCATIONS + r"/publishers/([^/]+)/artifacttypes/vmextension/types"


def find_extension(settings: dict[str, Any]) -> tuple[str, str, tuple[str, ...], str]:
    """The offered extension an extension's properties name (publisher, type, typeHandlerVersion), or ARM's 404."""
    publisher, kind = str(settings.get("publisher") or ""), str(settings.get("type") or "")
    wanted = str(settings.get("typeHandlerVersion") or "")
    upgrade = str(settings.get("autoUpgradeMinorVersion", False)).lower() == "true"
    for offered in EXTENSIONS:
        if offered[0].lower() == publisher.lower() and offered[1].lower() == kind.lower():
            if not wanted or any(_serves(wanted, version, upgrade) for version in offered[2]):
                return offered
            raise ArmError(404, "ArtifactNotFound", f"Extension with publisher '{publisher}', type '{kind}', and type "
                                                    f"handler version '{wanted}' could not be found in the extension repository.")
    raise ArmError(404, "ArtifactNotFound", f"The VM extension with publisher '{publisher}' and type '{kind}' could not be found.")


def _serves(wanted: str, version: str, upgrade: bool) -> bool:
    """Whether a published handler serves ``typeHandlerVersion`` (major.minor, or major): the same line, or with
    ``autoUpgradeMinorVersion`` any newer minor of the same major, as the platform picks it."""
    try:
        asked = [int(part) for part in wanted.split(".")[:2]]
        have = [int(part) for part in version.split(".")[:2]]
    except ValueError:
        return False
    if len(asked) == 1 or asked == have:
        return asked[0] == have[0]
    return upgrade and asked[0] == have[0] and have[1] >= asked[1]


def shape_extension_settings(settings: dict[str, Any]) -> None:
    """An extension's properties as ARM keeps them: checked, protected settings dropped, Succeeded."""
    if not settings.get("publisher") or not settings.get("type"):
        raise arm_errors.invalid_parameter("Required parameter 'publisher' and 'type' of the extension are missing (null).")
    find_extension(settings)
    settings.pop("protectedSettings", None)  # secrets an extension is given are never shown again
    settings.setdefault("autoUpgradeMinorVersion", False)
    settings["provisioningState"] = "Succeeded"


class ExtensionsService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm

    def resource_types(self) -> TypeDeclarations:
        return TypeDeclarations(
            {VM_EXTENSIONS: ResourceType(shape=_shape_vm_extension, async_delete=True, read_only=("provisioningState", "instanceView"))},
            # A VM's GET lists its extensions in "resources", as ARM shows them (Compute's own view otherwise).
            {VMS: TypeAddition(render=_with_extensions)},
        )

    def routes(self) -> list[Route]:
        api = lambda groups: ("Microsoft.Compute", "locations/publishers")  # noqa: E731
        return [
            route("GET", _TYPES, self.list_types, api=api),
            route("GET", _TYPES + r"/([^/]+)/versions", self.list_versions, api=api),
            route("GET", _TYPES + r"/([^/]+)/versions/([^/]+)", self.get_version, api=api),
        ]

    def _offered(self, location: str, publisher: str, kind: str | None = None) -> list[tuple[str, str, tuple[str, ...], str]]:
        if location.lower() != self.arm.location:
            raise arm_errors.location_not_found(location, self.arm.location)
        found: list[tuple[str, str, tuple[str, ...], str]] = [
            e for e in EXTENSIONS if e[0].lower() == publisher.lower() and (kind is None or e[1].lower() == kind.lower())]
        if not found:
            raise arm_errors.not_found(f"VMExtension publisher {publisher}" + (f" type {kind}" if kind else ""))
        return found

    def _item(self, sub: str, publisher: str, path: str, name: str) -> dict[str, Any]:
        return {"id": f"/Subscriptions/{sub}/Providers/Microsoft.Compute/Locations/{self.arm.location}/Publishers/{publisher}"
                      f"/ArtifactTypes/VMExtension/Types/{path}", "name": name, "location": self.arm.location}

    def list_types(self, request: Request, sub: str, location: str, publisher: str) -> Response:
        return Response(200, [self._item(sub, e[0], e[1], e[1]) for e in self._offered(location, publisher)])

    def list_versions(self, request: Request, sub: str, location: str, publisher: str, kind: str) -> Response:
        offered = self._offered(location, publisher, kind)[0]
        return Response(200, [self._item(sub, offered[0], f"{offered[1]}/Versions/{v}", v) for v in offered[2]])

    def get_version(self, request: Request, sub: str, location: str, publisher: str, kind: str, version: str) -> Response:
        offered = self._offered(location, publisher, kind)[0]
        if version not in offered[2]:
            raise arm_errors.not_found(f"VMExtension {publisher}/{kind} version {version}")
        body = self._item(sub, offered[0], f"{offered[1]}/Versions/{version}", version)
        body["properties"] = {"operatingSystem": offered[3], "computeRole": "IaaS", "handlerSchema": "",
                              "vmScaleSetEnabled": True, "supportsMultipleExtensions": False}
        return Response(200, body)


def _shape_vm_extension(arm: Arm, extension: dict[str, Any], existing: dict[str, Any] | None) -> None:
    shape_extension_settings(extension["properties"])


def _with_extensions(render: Render | None) -> Render:
    def shown(arm: Arm, vm: dict[str, Any], request: Request) -> dict[str, Any]:
        body = render(arm, vm, request) if render else arm.public(vm)
        extensions = [arm.public(e) for e in arm.resources_under(vm["id"].lower() + "/extensions/", depth=None)]
        return {**body, "resources": extensions} if extensions else body
    return shown
