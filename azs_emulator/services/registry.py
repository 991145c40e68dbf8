"""Every service of the emulator in one table (localstack's one registry of services, moto's backend per service):
which module serves it, the order the dispatcher tries their routes in, and the sections of the state
(``state.StateData``) its backend owns, which nothing else reads or writes.

A new service is a module in this package and one line in :data:`REGISTRY`; a new section of the state is a line in
``StateData`` and its owner's ``owns`` here (``tests/test_emulator_store.py`` checks every section has one owner).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from azs_emulator.arm_core import ARM_SECTIONS, Arm
from azs_emulator.resource_types import DeclaresTypes, ResourceType, type_table
from azs_emulator.routing import Route, Service
from azs_emulator.services.authorization import AuthorizationService
from azs_emulator.services.blob import BlobService
from azs_emulator.services.compute import ComputeService
from azs_emulator.services.compute_skus import ComputeSkusService
from azs_emulator.services.deployments import DeploymentsService
from azs_emulator.services.disk_access import DiskAccessService
from azs_emulator.services.dns import DnsService
from azs_emulator.services.extensions import ExtensionsService
from azs_emulator.services.graph import GraphService
from azs_emulator.services.keyvault import KeyVaultService
from azs_emulator.services.locks import LocksService
from azs_emulator.services.moves import MovesService
from azs_emulator.services.network import NetworkService
from azs_emulator.services.network_edge import NetworkEdgeService
from azs_emulator.services.policy import PolicyService
from azs_emulator.services.provider_operations import ProviderOperationsService
from azs_emulator.services.provider_resources import ProviderResourcesService
from azs_emulator.services.queue import QueueService
from azs_emulator.services.resources import ResourcesService
from azs_emulator.services.scale_set_actions import ScaleSetActionsService
from azs_emulator.services.scale_sets import ScaleSetsService
from azs_emulator.services.stack import StackService
from azs_emulator.services.storage import StorageService
from azs_emulator.services.table import TableService
from azs_emulator.services.template_links import TemplateLinks
from azs_emulator.services.usages import UsagesService
from azs_emulator.services.vm_capture import VmCaptureService
from azs_emulator.state import KEPT_PORTS, STACK_IDENTITY, StateData


@dataclass(frozen=True)
class Registration:
    """One service: ``make`` builds it from the shared Resource Manager backend and the services built before it
    (by name); ``owns`` names the sections of the state its backend keeps."""

    name: str  # its module in azs_emulator/services/
    make: Callable[[Arm, Mapping[str, Any]], Service]
    owns: tuple[str, ...] = ()
    # Its routes are tried after every other service's (any provider's resources: the catch-all).
    routes_last: bool = False


REGISTRY: tuple[Registration, ...] = (
    Registration("stack", lambda arm, built: StackService(arm)),
    Registration("resources", lambda arm, built: ResourcesService(arm), owns=("tag_names", "subscription_tags")),
    Registration("provider_resources", lambda arm, built: ProviderResourcesService(arm), routes_last=True),
    # Linked templates are read through the blob service, built later (hence the late look-up).
    Registration("deployments", lambda arm, built: DeploymentsService(arm, built["provider_resources"],
                                                                      TemplateLinks(arm, lambda: built["blob"])),
                 owns=("deployments",)),
    Registration("storage", lambda arm, built: StorageService(arm)),
    Registration("network", lambda arm, built: NetworkService(arm)),
    Registration("compute", lambda arm, built: ComputeService(arm)),
    Registration("keyvault", lambda arm, built: KeyVaultService(arm), owns=("vault_secrets", "vault_certificates")),
    Registration("authorization", lambda arm, built: AuthorizationService(arm),
                 owns=("role_assignments", "principal_assignment")),
    Registration("graph", lambda arm, built: GraphService(arm)),
    Registration("blob", lambda arm, built: BlobService(arm), owns=("blob_accounts",)),
    Registration("queue", lambda arm, built: QueueService(arm), owns=("queue_accounts",)),
    Registration("table", lambda arm, built: TableService(arm), owns=("table_accounts",)),
    # After Compute: disk export and VM capture add to its types' actions, extensions to how it shows a VM.
    Registration("network_edge", lambda arm, built: NetworkEdgeService(arm)),
    Registration("disk_access", lambda arm, built: DiskAccessService(arm)),
    Registration("vm_capture", lambda arm, built: VmCaptureService(arm)),
    Registration("locks", lambda arm, built: LocksService(arm), owns=("locks",)),  # checks every request
    Registration("policy", lambda arm, built: PolicyService(arm), owns=("policy_definitions", "policy_assignments")),
    Registration("moves", lambda arm, built: MovesService(arm)),
    Registration("provider_operations", lambda arm, built: ProviderOperationsService(arm)),
    Registration("usages", lambda arm, built: UsagesService(arm)),
    Registration("compute_skus", lambda arm, built: ComputeSkusService(arm)),
    Registration("scale_sets", lambda arm, built: ScaleSetsService(arm, built["compute"])),
    Registration("extensions", lambda arm, built: ExtensionsService(arm)),
    Registration("dns", lambda arm, built: DnsService(arm)),
    Registration("scale_set_actions", lambda arm, built: ScaleSetActionsService(arm)),
)

# The sections no service owns: who the Stack is and the listeners' kept ports (the state itself), and what every
# Resource Manager service shares (``Arm``).
OTHER_OWNERS: dict[str, tuple[str, ...]] = {
    "state.EmulatorState": (*sorted(STACK_IDENTITY), *KEPT_PORTS),
    "arm_core.Arm": ARM_SECTIONS,
}


def section_owners() -> dict[str, str]:
    """Every section of the state -> its one owner; a section owned twice, or by nobody, is a mistake here."""
    owners: dict[str, str] = {}
    claims = [*((owner, sections) for owner, sections in OTHER_OWNERS.items()),
              *((f"services.{r.name}", r.owns) for r in REGISTRY)]
    for owner, sections in claims:
        for section in sections:
            if section in owners:
                raise ValueError(f"the state's section {section} is owned by {owners[section]} and {owner}")
            owners[section] = owner
    unowned = set(StateData.__annotations__) - set(owners)
    if unowned or set(owners) - set(StateData.__annotations__):
        raise ValueError(f"sections without an owner: {sorted(unowned)}; owned but not in StateData: "
                         f"{sorted(set(owners) - set(StateData.__annotations__))}")
    return owners


class Services:
    """The services of one emulator, built in the registry's order."""

    def __init__(self, arm: Arm) -> None:
        self.by_name: dict[str, Service] = {}
        for registration in REGISTRY:
            self.by_name[registration.name] = registration.make(arm, self.by_name)

    @property
    def deployments(self) -> DeploymentsService:
        return cast(DeploymentsService, self.by_name["deployments"])

    def routes(self) -> Iterator[Route]:
        """Every service's routes, in the registry's order; the catch-alls last."""
        for last in (False, True):
            for registration in REGISTRY:
                if registration.routes_last == last:
                    yield from self.by_name[registration.name].routes()

    def type_table(self) -> dict[str, ResourceType]:
        """One table of the resource types every service declares (``arm_core.type_table``)."""
        return type_table(s.resource_types() for s in self.by_name.values() if isinstance(s, DeclaresTypes))
