"""How each resource type differs from a plain stored document, as a service declares it: its ``ResourceType``
(shape and checks, the status of a first PUT, long-running DELETE, what a replacing PUT keeps, the actions below a
resource, how a GET shows it), what a service adds to another's type (``TypeAddition``), and the one table of
every type the services declare (``type_table``). :class:`~azs_emulator.arm_core.Arm` serves resources by it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from azs_emulator.protocol import Request, Response

if TYPE_CHECKING:
    from azs_emulator.arm_core import Arm

# What is reached below one resource (handler(arm, request, resource)), and how a resource is shown to a request.
Action = Callable[["Arm", Request, dict[str, Any]], Response]
Render = Callable[["Arm", dict[str, Any], Request], dict[str, Any]]


@dataclass(frozen=True)
class ResourceType:
    """How one resource type differs from a plain stored document."""

    # Fills in what the service computes (endpoints, ids, defaults) and checks the body; may raise ArmError.
    shape: Callable[[Arm, dict[str, Any], dict[str, Any] | None], None] | None = None
    # Status of a first PUT: 201, 200 (disks: the SDK accepts only 200/202) or 202 (an operation to poll).
    create_status: int = 201
    # DELETE answers 202 and an operation to poll (Network, Compute), or 200 at once (Storage, Key Vault).
    async_delete: bool = False
    # Properties a client cannot set: dropped from an exported template, and kept by a replacing PUT.
    read_only: tuple[str, ...] = ("provisioningState",)
    # A PUT of an existing resource replaces its properties (Network, as ARM's PUT means), or merges the body into
    # them (Compute's VMs answer a PUT of only location and tags by keeping the rest, as Microsoft's samples rely on).
    put_replaces: bool = False
    # Called before a DELETE; raises when the resource is in use.
    before_delete: Callable[[Arm, dict[str, Any]], None] | None = None
    # Called after a DELETE (e.g. detach from what referenced it).
    after_delete: Callable[[Arm, dict[str, Any]], None] | None = None
    # What is reached below one resource, keyed "METHOD path" in lower case ("post start", "get instanceview",
    # "put accesspolicies/add"): handler(arm, request, resource) -> Response.
    actions: Mapping[str, Action] = field(default_factory=dict)
    # The resource as a GET shows it (e.g. with ``$expand=instanceView``); default: the stored document.
    render: Render | None = None
    # The resource lives at location "global" (DNS zones), not in the Stack's region.
    global_location: bool = False


@dataclass(frozen=True)
class TypeAddition:
    """What a service adds to a resource type another service declares (disk export adds actions to Compute's disks;
    VM extensions change how Compute shows a VM)."""

    actions: Mapping[str, Action] = field(default_factory=dict)
    # Given the type's render (None: the stored document), the render that replaces it.
    render: Callable[[Render | None], Render] | None = None


@dataclass(frozen=True)
class TypeDeclarations:
    """The resource types one service declares (full type -> behaviour) and what it adds to others' types."""

    types: Mapping[str, ResourceType] = field(default_factory=dict)
    additions: Mapping[str, TypeAddition] = field(default_factory=dict)


@runtime_checkable
class DeclaresTypes(Protocol):
    """A service whose resources behave otherwise than plain stored documents."""

    def resource_types(self) -> TypeDeclarations: ...


def type_table(declarations: Iterable[TypeDeclarations]) -> dict[str, ResourceType]:
    """The table of resource types (full type in lower case -> behaviour) the services declare: every declaration,
    then every addition, in the services' order. A type declared twice is a mistake in the emulator."""
    declarations = list(declarations)
    table: dict[str, ResourceType] = {}
    for declared in declarations:
        for full_type, behaviour in declared.types.items():
            if full_type.lower() in table:
                raise ValueError(f"the resource type {full_type} is declared by two services")
            table[full_type.lower()] = behaviour
    for declared in declarations:
        for full_type, addition in declared.additions.items():
            base = table.get(full_type.lower(), ResourceType())
            table[full_type.lower()] = replace(base, actions={**base.actions, **addition.actions},
                                               render=addition.render(base.render) if addition.render else base.render)
    return table
