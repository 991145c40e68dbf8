"""Microsoft.Compute: virtual machines (with managed OS and data disks, NICs, power actions and an
instance view), managed disks, availability sets, the marketplace images a Stack offers and VM sizes."""

from __future__ import annotations

import uuid
from typing import Any

from azs_emulator import arm_errors
from azs_emulator.arm_core import Arm, now, ref_id
from azs_emulator.protocol import Request, Response
from azs_emulator.resource_types import Action, ResourceType, TypeDeclarations
from azs_emulator.routing import Route, route
from azs_emulator.services.blob_store import BlobBackend
from azs_emulator.services.extensions import EXTENSIONS
from azs_emulator.services.network import NICS
from azs_emulator.services.vm_sizes import SIZES

VMS = "Microsoft.Compute/virtualMachines"
DISKS = "Microsoft.Compute/disks"
AVAILABILITY_SETS = "Microsoft.Compute/availabilitySets"

# The marketplace an operator has syndicated: (publisher, offer, sku, version, OS). A real Stack offers
# what its operator downloaded; a fresh one offers nothing.
IMAGES = (
    ("Canonical", "UbuntuServer", "18.04-LTS", "18.04.202401161", "Linux"),
    ("Canonical", "UbuntuServer", "16.04-LTS", "16.04.202109280", "Linux"),
    ("MicrosoftWindowsServer", "WindowsServer", "2016-Datacenter", "14393.6614.240105", "Windows"),
    ("MicrosoftWindowsServer", "WindowsServer", "2019-Datacenter", "17763.5329.240105", "Windows"),
    # what Microsoft's Stack quickstart templates name besides
    ("MicrosoftWindowsServer", "WindowsServer", "2012-R2-Datacenter", "9600.21620.231004", "Windows"),
    ("MicrosoftWindowsServer", "WindowsServer", "2016-Datacenter-Server-Core", "14393.6614.240105", "Windows"),
    ("Canonical", "UbuntuServer", "14.04-LTS", "14.04.201905140", "Linux"),
    ("Canonical", "UbuntuServer", "14.04.3-LTS", "14.04.201602220", "Linux"),
    ("MicrosoftSQLServer", "SQL2016SP1-WS2016", "Enterprise", "13.1.211012", "Windows"),
    # on Microsoft's list of Azure Marketplace items for Azure Stack Hub ("CentOS-based 7.5", formerly OpenLogic)
    ("OpenLogic", "CentOS", "7.5", "7.5.20180815", "Linux"),
)
_POWER_STATES = {"start": "running", "restart": "running", "poweroff": "stopped", "deallocate": "deallocated"}
_DISPLAY = {"running": "VM running", "stopped": "VM stopped", "deallocated": "VM deallocated"}
_LOCATIONS = r"/subscriptions/([^/]+)/providers/microsoft\.compute/locations/([^/]+)"
_PUBLISHERS = _LOCATIONS + r"/publishers"


class ComputeService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        self.vhds = BlobBackend(arm)  # unmanaged disks are page blobs in their storage account

    def resource_types(self) -> TypeDeclarations:
        actions: dict[str, Action] = {f"post {action}": self.power_action for action in _POWER_STATES}
        actions["get instanceview"] = lambda arm_, request, vm: Response(200, _instance_view(vm))
        actions["get vmsizes"] = lambda arm_, request, vm: Response(200, _sizes_body())
        return TypeDeclarations({
            VMS: ResourceType(shape=self._shape_vm, async_delete=True, after_delete=self._release_vm, render=_render_vm,
                                      actions=actions, read_only=("provisioningState", "vmId", "instanceView")),
            DISKS: ResourceType(shape=_shape_disk, create_status=200, async_delete=True, before_delete=_disk_not_attached,
                                        read_only=("provisioningState", "timeCreated", "diskState", "uniqueId")),
            AVAILABILITY_SETS: ResourceType(shape=_shape_availability_set, create_status=200,
                                            read_only=("provisioningState", "virtualMachines", "statuses")),
        })

    def routes(self) -> list[Route]:
        images = lambda groups: ("Microsoft.Compute", "locations/publishers")  # noqa: E731
        return [
            route("GET", _LOCATIONS + r"/vmsizes", self.list_sizes, api=("Microsoft.Compute", "locations/vmSizes")),
            route("GET", _PUBLISHERS, self.list_publishers, api=images),
            route("GET", _PUBLISHERS + r"/([^/]+)/artifacttypes/vmimage/offers", self.list_offers, api=images),
            route("GET", _PUBLISHERS + r"/([^/]+)/artifacttypes/vmimage/offers/([^/]+)/skus", self.list_skus, api=images),
            route("GET", _PUBLISHERS + r"/([^/]+)/artifacttypes/vmimage/offers/([^/]+)/skus/([^/]+)/versions",
                  self.list_versions, api=images),
            route("GET", _PUBLISHERS + r"/([^/]+)/artifacttypes/vmimage/offers/([^/]+)/skus/([^/]+)/versions/([^/]+)",
                  self.get_version, api=images),
        ]

    # -- sizes and marketplace images ------------------------------------------------------------

    def _location(self, location: str) -> None:
        if location.lower() != self.arm.location:
            raise arm_errors.location_not_found(location, self.arm.location)

    def list_sizes(self, request: Request, sub: str, location: str) -> Response:
        self._location(location)
        return Response(200, _sizes_body())

    def _image_items(self, sub: str, location: str, names: list[str], path: str) -> Response:
        self._location(location)
        base = f"/Subscriptions/{sub}/Providers/Microsoft.Compute/Locations/{self.arm.location}/{path}"
        return Response(200, [{"id": f"{base}/{n}", "name": n, "location": self.arm.location} for n in names])

    def _matching(self, publisher: str = "", offer: str = "", sku: str = "") -> list[tuple[str, ...]]:
        wanted = (publisher.lower(), offer.lower(), sku.lower())
        return [i for i in IMAGES if all(not w or w == v.lower() for w, v in zip(wanted, i))]

    def _require(self, found: list[Any], what: str) -> None:
        if not found:
            raise arm_errors.not_found(f"Artifact: {what}")

    def list_publishers(self, request: Request, sub: str, location: str) -> Response:
        # Publishers of VM extensions are listed too, as ARM lists every publisher of the region.
        publishers = {i[0] for i in IMAGES} | {e[0] for e in EXTENSIONS}
        return self._image_items(sub, location, sorted(publishers, key=str.lower), "Publishers")

    def list_offers(self, request: Request, sub: str, location: str, publisher: str) -> Response:
        found = self._matching(publisher)
        self._require(found, f"VMImage publisher {publisher}")
        return self._image_items(sub, location, sorted({i[1] for i in found}),
                                 f"Publishers/{found[0][0]}/ArtifactTypes/VMImage/Offers")

    def list_skus(self, request: Request, sub: str, location: str, publisher: str, offer: str) -> Response:
        found = self._matching(publisher, offer)
        self._require(found, f"VMImage offer {offer}")
        return self._image_items(sub, location, sorted({i[2] for i in found}),
                                 f"Publishers/{found[0][0]}/ArtifactTypes/VMImage/Offers/{found[0][1]}/Skus")

    def list_versions(self, request: Request, sub: str, location: str, publisher: str, offer: str, sku: str) -> Response:
        found = self._matching(publisher, offer, sku)
        self._require(found, f"VMImage sku {sku}")
        p, o, s = found[0][:3]
        return self._image_items(sub, location, [i[3] for i in found],
                                 f"Publishers/{p}/ArtifactTypes/VMImage/Offers/{o}/Skus/{s}/Versions")

    def get_version(self, request: Request, sub: str, location: str, publisher: str, offer: str, sku: str, version: str) -> Response:
        image = self.find_image({"publisher": publisher, "offer": offer, "sku": sku, "version": version})
        p, o, s, v, os_type = image
        body = {
            "id": f"/Subscriptions/{sub}/Providers/Microsoft.Compute/Locations/{self.arm.location}/Publishers/{p}"
                  f"/ArtifactTypes/VMImage/Offers/{o}/Skus/{s}/Versions/{v}",
            "name": v, "location": self.arm.location,
            "properties": {"osDiskImage": {"operatingSystem": os_type}, "dataDiskImages": []},
        }
        return Response(200, body)

    def find_image(self, reference: dict[str, Any]) -> tuple[str, ...]:
        found = self._matching(str(reference.get("publisher", "")), str(reference.get("offer", "")), str(reference.get("sku", "")))
        version = str(reference.get("version", "latest"))
        if version.lower() != "latest":
            found = [i for i in found if i[3] == version]
        if not found or not all(reference.get(k) for k in ("publisher", "offer", "sku")):
            raise arm_errors.platform_image_not_found(
                f"{reference.get('publisher')}:{reference.get('offer')}:{reference.get('sku')}:{version}")
        return found[-1]

    # -- virtual machines ------------------------------------------------------------------------

    def _shape_vm(self, arm: Arm, vm: dict[str, Any], existing: dict[str, Any] | None) -> None:
        props = vm["properties"]
        size = str(props.get("hardwareProfile", {}).get("vmSize", ""))
        if size.lower() not in {s[0].lower() for s in SIZES}:
            raise arm_errors.vm_size_not_available(size, (s[0] for s in SIZES))
        nics = self._nics(vm)  # checked before any disk is made, so a refused VM leaves nothing behind
        storage = props.setdefault("storageProfile", {})
        storage.setdefault("dataDisks", [])  # ARM shows an empty list, and clients append to it
        os_disk = storage.setdefault("osDisk", {})
        if existing is None:
            self._check_os_profile(vm)
            self._make_os_disk(vm, storage, os_disk)
            props["vmId"] = str(uuid.uuid4())
            vm["_power"] = "running"
        props.get("osProfile", {}).pop("adminPassword", None)  # never stored, never shown
        self._data_disks(vm, storage, existing)
        for nic in nics:
            nic["properties"]["virtualMachine"] = {"id": vm["id"]}

    def _make_os_disk(self, vm: dict[str, Any], storage: dict[str, Any], os_disk: dict[str, Any]) -> None:
        # Without an osDisk, an image reference means FromImage (Microsoft's samples send none).
        option = str(os_disk.get("createOption") or ("FromImage" if storage.get("imageReference") else "")).lower()
        if os_disk.get("vhd"):  # an unmanaged disk: a page blob in a storage account (vhds/<disk>.vhd), no disk resource
            image_uri = (os_disk.get("image") or {}).get("uri")
            if option == "attach" or image_uri:  # an existing VHD, or a user image's copy: no marketplace image
                os_type = os_disk.get("osType")
                if str(os_type).lower() not in ("linux", "windows"):
                    raise arm_errors.invalid_parameter("The osDisk of an attached or user image VHD needs osType Linux or Windows.")
            else:
                p, o, s, v, os_type = self.find_image(storage.get("imageReference") or {})
                storage["imageReference"] = {**storage["imageReference"], "exactVersion": v}
            size = int(os_disk.get("diskSizeGB") or 30)
            os_disk.update({"createOption": "Attach" if option == "attach" else "FromImage", "osType": os_type,
                            "name": os_disk.get("name") or f"{vm['name']}-osdisk", "diskSizeGB": size,
                            "caching": os_disk.get("caching", "ReadWrite")})
            self.vhds.put_disk(str(os_disk["vhd"].get("uri", "")), size << 30, image_uri)
            return
        managed = os_disk.setdefault("managedDisk", {})
        os_disk["createOption"] = "FromImage" if option == "fromimage" else os_disk.get("createOption")
        if option == "fromimage":
            os_type = self._source_image(storage)
            name = os_disk.get("name") or f"{vm['name']}_OsDisk_1_{uuid.uuid4().hex}"
            disk = self._new_disk(vm, name, int(os_disk.get("diskSizeGB") or 30), managed, "FromImage", os_type)
        elif option == "attach":
            disk = self._existing_disk(vm, managed)
        else:
            raise arm_errors.invalid_parameter("The osDisk createOption must be FromImage or Attach.")
        os_disk.update({"name": disk["name"], "osType": disk["properties"].get("osType", "Linux"),
                        "diskSizeGB": disk["properties"]["diskSizeGB"], "caching": os_disk.get("caching", "ReadWrite")})
        managed.update({"id": disk["id"], "storageAccountType": disk["sku"]["name"]})

    def _source_image(self, storage: dict[str, Any]) -> str:
        """The OS type of the image a managed OS disk is made from: a ``Microsoft.Compute/images`` resource
        (``imageReference.id``, served from 2017-03-30: spec) or a marketplace image."""
        reference = storage.get("imageReference") or {}
        if reference.get("id"):
            image = self.arm.find(str(reference["id"]))
            if image is None:
                raise arm_errors.not_found(f"Image {reference['id']}")
            return str(((image["properties"].get("storageProfile") or {}).get("osDisk") or {}).get("osType") or "Linux")
        p, o, s, v, os_type = self.find_image(reference)
        storage["imageReference"] = {**reference, "exactVersion": v}
        return os_type

    def _check_os_profile(self, vm: dict[str, Any]) -> None:
        profile = vm["properties"].get("osProfile")
        if profile is None:
            return  # an attached OS disk needs none
        if not profile.get("adminUsername"):
            raise arm_errors.invalid_parameter("Required parameter 'adminUsername' is missing (null).")
        profile.setdefault("computerName", vm["name"])
        linux = profile.get("linuxConfiguration") or {}
        keys = (linux.get("ssh") or {}).get("publicKeys") or []
        if not profile.get("adminPassword") and not keys:
            raise arm_errors.invalid_parameter(
                "Authentication using either SSH or by user name and password must be enabled in Linux profile.")
        for key in keys:
            if not str(key.get("keyData", "")).startswith(("ssh-rsa ", "ssh-ed25519 ", "ecdsa-sha2-")):
                raise arm_errors.invalid_parameter("The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid.")

    def _new_disk(self, vm: dict[str, Any], name: str, size: int, managed: dict[str, Any], option: str,
                  os_type: str | None = None) -> dict[str, Any]:
        group = vm["id"].split("/")[4]
        disk_id = self.arm.resource_id(vm["id"].split("/")[2], group, DISKS, name)
        if self.arm.find(disk_id) is not None:
            raise arm_errors.conflict("ResourceAlreadyExists", f"The disk {name} already exists.")
        disk = {"id": disk_id, "name": name, "type": DISKS, "location": vm["location"], "_created": now(),
                "sku": {"name": managed.get("storageAccountType") or "Standard_LRS", "tier": "Standard"},
                "properties": {"creationData": {"createOption": option}, "diskSizeGB": size}}
        if os_type:
            disk["properties"]["osType"] = os_type
        _shape_disk(self.arm, disk, None)
        self.arm.store(disk)
        return disk

    def _existing_disk(self, vm: dict[str, Any], managed: dict[str, Any]) -> dict[str, Any]:
        disk = self.arm.find(ref_id(managed))
        if disk is None or disk["type"] != DISKS:
            raise arm_errors.not_found(f"Disk {ref_id(managed) or '(none)'}")
        if disk.get("managedBy") and disk["managedBy"].lower() != vm["id"].lower():
            raise arm_errors.conflict("OperationNotAllowed", f"Disk {disk['name']} is already attached to {disk['managedBy']}.")
        return disk

    def _data_disks(self, vm: dict[str, Any], storage: dict[str, Any], existing: dict[str, Any] | None) -> None:
        attached = []
        for entry in storage.get("dataDisks") or []:
            managed = entry.setdefault("managedDisk", {})
            if "lun" not in entry:
                raise arm_errors.invalid_parameter("Required parameter 'dataDisk.lun' is missing (null).")
            option = str(entry.get("createOption", "")).lower()
            if entry.get("vhd"):
                entry.pop("managedDisk", None)
                if option == "empty" and entry.get("diskSizeGB"):
                    self.vhds.put_disk(str(entry["vhd"].get("uri", "")), int(entry["diskSizeGB"]) << 30)
                continue
            if managed.get("id"):
                disk = self._existing_disk(vm, managed)
            elif option == "empty":
                if not entry.get("diskSizeGB"):
                    raise arm_errors.invalid_parameter("Required parameter 'dataDisk.diskSizeGB' is missing (null).")
                name = entry.get("name") or f"{vm['name']}_disk{int(entry['lun']) + 2}_{uuid.uuid4().hex}"
                disk = self._new_disk(vm, name, int(entry["diskSizeGB"]), managed, "Empty")
            else:
                raise arm_errors.invalid_parameter("A data disk needs createOption Empty, or Attach with managedDisk.id.")
            entry.update({"name": disk["name"], "diskSizeGB": disk["properties"]["diskSizeGB"],
                          "caching": entry.get("caching", "None")})
            managed.update({"id": disk["id"], "storageAccountType": disk["sku"]["name"]})
            attached.append(disk["id"].lower())
        os_id = ref_id(storage.get("osDisk", {}).get("managedDisk")).lower()
        for disk in self.arm.resources_of_type(DISKS):
            mine = str(disk.get("managedBy", "")).lower() == vm["id"].lower()
            if disk["id"].lower() in attached or disk["id"].lower() == os_id:
                disk["managedBy"], disk["properties"]["diskState"] = vm["id"], "Attached"
            elif mine:
                disk.pop("managedBy", None)
                disk["properties"]["diskState"] = "Unattached"

    def _nics(self, vm: dict[str, Any]) -> list[dict[str, Any]]:
        found = []
        refs = (vm["properties"].get("networkProfile") or {}).get("networkInterfaces") or []
        if not refs:
            raise arm_errors.invalid_parameter("The virtual machine needs at least one network interface (networkProfile).")
        for ref in refs:
            nic = self.arm.find(ref_id(ref))
            if nic is None or nic["type"] != NICS:
                raise arm_errors.not_found(f"Network interface {ref_id(ref)}")
            user = (nic["properties"].get("virtualMachine") or {}).get("id", "")
            if user and user.lower() != vm["id"].lower():
                raise arm_errors.nic_in_use(nic["id"], user)
            found.append(nic)
        return found

    def _release_vm(self, arm: Arm, vm: dict[str, Any]) -> None:
        """A deleted VM leaves its disks (unattached) and NICs behind, as ARM does."""
        for resource in arm.all_resources():
            if resource["type"] == DISKS and str(resource.get("managedBy", "")).lower() == vm["id"].lower():
                resource.pop("managedBy", None)
                resource["properties"]["diskState"] = "Unattached"
            if resource["type"] == NICS and ref_id(resource["properties"].get("virtualMachine")).lower() == vm["id"].lower():
                resource["properties"].pop("virtualMachine", None)

    def power_action(self, arm: Arm, request: Request, vm: dict[str, Any]) -> Response:
        action = request.path.rstrip("/").rsplit("/", 1)[-1].lower()
        vm["_power"] = _POWER_STATES[action]
        arm.save()
        return arm.accepted(request, vm["id"].split("/")[2])


def _sizes_body() -> dict[str, Any]:
    return {"value": [{"name": n, "numberOfCores": c, "memoryInMB": m, "maxDataDiskCount": d,
                       "osDiskSizeInMB": 1047552, "resourceDiskSizeInMB": r} for n, c, m, d, r in SIZES]}


def _instance_view(vm: dict[str, Any]) -> dict[str, Any]:
    power = vm.get("_power", "running")
    storage = vm["properties"].get("storageProfile", {})
    disks = [storage.get("osDisk", {}), *(storage.get("dataDisks") or [])]
    return {
        "computerName": vm["properties"].get("osProfile", {}).get("computerName", vm["name"]),
        "osName": "ubuntu" if storage.get("osDisk", {}).get("osType") == "Linux" else "Windows Server 2019 Datacenter",
        "vmAgent": {"vmAgentVersion": "2.2.45", "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info",
                                                             "displayStatus": "Ready"}]},
        "disks": [{"name": d.get("name"), "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info",
                                                       "displayStatus": "Provisioning succeeded"}]} for d in disks],
        "statuses": [
            {"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded", "time": vm.get("_changed")},
            {"code": f"PowerState/{power}", "level": "Info", "displayStatus": _DISPLAY[power]},
        ],
    }


def _render_vm(arm: Arm, vm: dict[str, Any], request: Request) -> dict[str, Any]:
    shown = arm.public(vm)
    if request.query.get("$expand", "").lower() == "instanceview":
        shown = {**shown, "properties": {**shown["properties"], "instanceView": _instance_view(vm)}}
    return shown


def _shape_disk(arm: Arm, disk: dict[str, Any], existing: dict[str, Any] | None) -> None:
    props = disk["properties"]
    creation = props.setdefault("creationData", {"createOption": "Empty"})
    if str(creation.get("createOption", "")).lower() == "empty" and not props.get("diskSizeGB"):
        raise arm_errors.invalid_parameter("Required parameter 'diskSizeGB' is missing (null).")
    if existing is not None and int(props.get("diskSizeGB", 0)) < int(existing["properties"].get("diskSizeGB", 0)):
        raise arm_errors.conflict("BadRequest", "Disk size cannot be reduced.")
    disk.setdefault("sku", {"name": "Standard_LRS"})
    disk["sku"].setdefault("tier", "Premium" if str(disk["sku"].get("name") or "").startswith("Premium") else "Standard")
    props.setdefault("timeCreated", now())
    props.setdefault("uniqueId", str(uuid.uuid4()))
    props.setdefault("diskState", "Unattached")
    props["provisioningState"] = "Succeeded"


def _disk_not_attached(arm: Arm, disk: dict[str, Any]) -> None:
    if disk.get("managedBy"):
        raise arm_errors.conflict("OperationNotAllowed",
                                  f"Disk {disk['name']} is attached to VM {disk['managedBy']}.")


def _shape_availability_set(arm: Arm, aset: dict[str, Any], existing: dict[str, Any] | None) -> None:
    props = aset["properties"]
    props.setdefault("platformFaultDomainCount", 2)
    props.setdefault("platformUpdateDomainCount", 5)
    aset.setdefault("sku", {"name": "Classic"})
    props["virtualMachines"] = [{"id": vm["id"]} for vm in arm.resources_of_type(VMS)
                                if ref_id(vm["properties"].get("availabilitySet")).lower() == aset["id"].lower()]
    props.pop("provisioningState", None)  # availability sets have none
