"""The evaluation of a Resource Manager template for a deployment: parameters (given, defaulted, checked), variables,
each resource's type, name, id and place in dependency order (``copy`` loops, conditions, nested deployments), the
bodies to PUT and the outputs. The expressions inside (``[concat(...)]``) are ``template_language``'s; running the
resources is the deployments service's."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azs_emulator import arm_errors
from azs_emulator.api_tables import API_PROFILES, AZURE, profile_version
from azs_emulator.arm_core import Arm, group_id
from azs_emulator.services.storage import keys_body
from azs_emulator.services.template_links import link_refusal
from azs_emulator.state import Document
from azs_emulator.template_keywords import canonical_template
from azs_emulator.template_language import TemplateError, evaluate, expand_loop, loop_count

# A parameter's or output's declared type -> the JSON values it takes.
_TYPES = {"string": str, "securestring": str, "int": int, "bool": bool, "object": dict, "secureobject": dict, "array": list}
NESTED_DEPLOYMENT = "microsoft.resources/deployments"


@dataclass
class TemplateResource:
    """One resource a template deploys (one iteration of a ``copy`` loop; a child with its full type and name)."""

    type: str  # the full type, spelled canonically: Microsoft.Network/virtualNetworks/subnets
    name: str  # the full name: vnet/subnet
    api_version: str
    id: str
    source: dict[str, Any]  # the template's resource object, its expressions not yet evaluated
    depends_on: list[str]  # as the template names them (ids, names, loops), and its parent's id
    loop: tuple[str, int] | None  # the resource loop iteration it belongs to (a child: its parent's)
    after: list[str] = field(default_factory=list)  # the ids (lower case) it is deployed after, once resolved
    batch_size: int | None = None  # a serial loop's batch size (its members only)


class TemplateEvaluation:
    """One template with its parameters: declared values, variables, resources in order, outputs. It is the scope
    the template language calls back (``template_language.Scope``); ``deployment_of`` finds a deployment of the
    group by name (what ``reference()`` of a nested deployment reads), ``account_keys`` a storage account's keys
    (``listKeys()``), ``vault_secret`` the value a parameter's Key Vault reference names."""

    def __init__(self, arm: Arm, sub: str, rg: str, name: str, template: dict[str, Any], given: dict[str, Any], *,
                 deployment_of: Callable[[str], Document | None], account_keys: Callable[[Document], list[str]],
                 vault_secret: Callable[[Any], str] | None = None, template_link: Any = None) -> None:
        self.arm, self.sub, self.rg, self.name = arm, sub, rg, name
        self.template_link = template_link  # what deployment().properties.templateLink shows (a linked template's)
        self._deployment_of, self._account_keys, self._vault_secret = deployment_of, account_keys, vault_secret
        self.template = canonical_template(template)  # keywords in any case, as ARM reads them
        self.given = given
        self.declared: dict[str, Any] = self.template.get("parameters") or {}
        self.parameters: dict[str, Any] = {}
        self._variables: dict[str, Any] = {}
        self._evaluating: set[str] = set()
        self.entries: list[TemplateResource] = []
        self.loops: list[tuple[str, int]] = []
        self.resource_loop: str | None = None
        self.is_stack = arm.ctx.config.release != AZURE
        self._skipped: set[str] = set()  # ids and names of resources whose condition is false
        self._loop_members: dict[str, list[TemplateResource]] = {}  # resource loop name (lower case) -> its entries
        self._loops: list[list[TemplateResource]] = []  # each resource loop's entries, in order
        self.nested_resources: set[str] = set()  # ids (lower case) its nested deployments made: Complete mode keeps them

    # -- the Scope the template language calls back ----------------------------------------------

    def parameter(self, name: str) -> Any:
        for key, value in self.parameters.items():
            if key.lower() == str(name).lower():
                return value
        raise TemplateError(f"the template parameter '{name}' is not found")

    def variable(self, name: str) -> Any:
        variables = self.template.get("variables") or {}
        # A variable loop ("copy": [{"name", "count", "input"}]) defines one array variable per loop.
        loops = {str(loop.get("name")): loop for loop in variables.get("copy") or [] if isinstance(loop, dict)}
        declared = {**{k: v for k, v in variables.items() if k != "copy"}, **loops}
        key = next((k for k in declared if k.lower() == str(name).lower()), None)
        if key is None:
            raise TemplateError(f"the template variable '{name}' is not found")
        if key not in self._variables:
            if key in self._evaluating:
                raise TemplateError(f"the template variable '{name}' refers to itself")
            self._evaluating.add(key)
            outer_loops, outer_resource_loop = self.loops, self.resource_loop
            self.loops, self.resource_loop = [], None  # a variable never sees the loop of the resource naming it
            try:
                self._variables[key] = expand_loop(loops[key], self) if key in loops else evaluate(declared[key], self)
            finally:
                self.loops, self.resource_loop = outer_loops, outer_resource_loop
                self._evaluating.discard(key)
        return self._variables[key]

    def resource_group(self) -> dict[str, Any]:
        group = self.arm.group(self.rg)
        return {"id": group_id(self.sub, group["name"]), "name": group["name"], "type": "Microsoft.Resources/resourceGroups",
                "location": group["location"], "tags": group.get("tags") or {}, "properties": {"provisioningState": "Succeeded"}}

    def subscription(self) -> dict[str, Any]:
        return {"id": f"/subscriptions/{self.sub}", "subscriptionId": self.sub, "tenantId": self.arm.tenant_id,
                "displayName": "azs-scaffold emulator subscription"}

    def deployment(self) -> dict[str, Any]:
        link = {"templateLink": self.template_link} if isinstance(self.template_link, dict) else {}
        return {"name": self.name, "properties": {"template": {"contentVersion": self.template.get("contentVersion", "1.0.0.0")},
                                                  "parameters": {}, "mode": "Incremental", **link}}

    def resource_id(self, args: list[Any]) -> str:
        args = [str(a) for a in args]
        type_index = next((i for i, a in enumerate(args) if "/" in a and "." in a.split("/", 1)[0]), None)
        if type_index is None or type_index > 2:
            raise TemplateError(f"resourceId({', '.join(args)}) names no resource type (Namespace/type)")
        sub, rg = self.sub, self.rg
        if type_index == 2:
            sub, rg = args[0], args[1]
        elif type_index == 1:
            rg = args[0]
        resource_type, names = args[type_index].strip("/"), args[type_index + 1:]  # ARM reads 'Ns/type/' as 'Ns/type'
        types = resource_type.split("/")[1:]
        if len(names) != len(types):
            raise TemplateError(f"resourceId: the type '{resource_type}' needs {len(types)} name(s), got {len(names)}")
        segments = "/".join(s for pair in zip(types, names) for s in pair)
        return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{resource_type.split('/')[0]}/{segments}"

    def _target_id(self, target: str, function: str) -> str:
        """The resource id a function's argument names: an id, ``Namespace/type/name`` or a name of the template."""
        if not target.startswith("/") and "/" in target:  # "Namespace/type/name"
            namespace, resource_type, *names = target.split("/")
            target = self.resource_id([f"{namespace}/{resource_type}", *names])
        if not target.startswith("/"):
            entry = next((e for e in self.entries if e.name.lower() == target.lower()), None)
            if entry is None:
                raise TemplateError(f"{function}('{target}'): no resource of this template has that name")
            target = entry.id
        return target

    def reference(self, target: str, api_version: str | None, full: bool) -> Any:
        target = self._target_id(str(target), "reference")
        resource = self.arm.find(target)
        if resource is None and "/providers/microsoft.resources/deployments/" in target.lower():
            nested = self._deployment_of(target.rsplit("/", 1)[-1])
            resource = {k: v for k, v in nested.items() if not k.startswith("_")} if nested else None
        if resource is None:
            raise TemplateError(f"reference('{target}'): the resource is not deployed (add it to dependsOn)")
        return self.arm.public(resource) if full else self.arm.public(resource).get("properties", {})

    def list_keys(self, target: str, api_version: str) -> Any:
        """``listKeys(resource, apiVersion)`` of a resource id, ``Namespace/type/name`` or a name of the template: a
        storage account's keys, as its POST listKeys answers them at ``api_version``."""
        target = self._target_id(str(target), "listKeys")
        resource = self.arm.find(target)
        if resource is None:
            raise TemplateError(f"listKeys('{target}'): the resource is not deployed (add it to dependsOn)")
        if resource["type"].lower() != "microsoft.storage/storageaccounts":
            raise TemplateError(f"listKeys: the resource type '{resource['type']}' has no keys in the emulator")
        return keys_body(self._account_keys(resource), str(api_version))

    # -- the steps -------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Parameters (given, defaulted, checked), then each resource's type, name and id."""
        unknown = [k for k in self.given if k.lower() not in {d.lower() for d in self.declared}]
        if unknown:
            raise TemplateError(f"the parameters {', '.join(unknown)} are not declared in the template")
        for name, declaration in self.declared.items():
            supplied = next((v for k, v in self.given.items() if k.lower() == name.lower()), None)
            if isinstance(supplied, dict) and "reference" in supplied:
                value = self._referenced_secret(name, supplied["reference"])
            elif isinstance(supplied, dict) and "value" in supplied:
                value = supplied["value"]
            elif "defaultValue" in declaration:
                value = evaluate(declaration["defaultValue"], self)
            else:
                raise TemplateError(f"the value for the template parameter '{name}' is not provided")
            kind = str(declaration.get("type", "")).lower()
            if kind not in _TYPES:
                raise TemplateError(f"the template parameter '{name}' has type '{declaration.get('type')}'; "
                                    f"use one of {', '.join(sorted(_TYPES))}")
            if not isinstance(value, _TYPES[kind]) or (kind == "int" and isinstance(value, bool)):
                raise TemplateError(f"the value of the template parameter '{name}' is not of type '{declaration.get('type')}'")
            _check_limits(name, kind, value, declaration)
            allowed = declaration.get("allowedValues")
            if allowed is not None and not _is_allowed(value, allowed):
                raise TemplateError(f"the value '{value}' of the template parameter '{name}' is not one of its "
                                    f"allowedValues {json.dumps(allowed)}")
            self.parameters[name] = value
        profile = self.template.get("apiProfile")
        if profile is not None and str(profile).lower() not in {p.lower() for p in API_PROFILES}:
            raise TemplateError(f"the apiProfile '{profile}' is not supported; the supported profiles are "
                                f"'{', '.join(API_PROFILES)}'")
        self.entries, self._skipped, self._loop_members, self._loops = [], set(), {}, []
        for resource in self.template["resources"]:
            self._add_with_loop(resource)
        known = {e.id.lower() for e in self.entries}
        for entry in self.entries:
            entry.after = sorted({found for d in entry.depends_on for found in self._dependency(d, known, entry)})
        for members in self._loops:  # serial loops: each batch after the one before it
            batch = members[0].batch_size if members else None
            for index, entry in enumerate(members):
                if batch and index >= batch:
                    entry.after = sorted(set(entry.after) | {members[index - batch].id.lower()})

    def _referenced_secret(self, name: str, reference: Any) -> str:
        """A parameter's Key Vault reference resolved (a vault enabled for template deployment, its secret)."""
        if self._vault_secret is None:
            raise TemplateError(f"parameter '{name}': Key Vault references cannot be resolved here")
        try:
            return self._vault_secret(reference)
        except ValueError as exc:
            raise TemplateError(f"parameter '{name}': {exc}") from None

    def _add_with_loop(self, resource: Any) -> None:
        """A top-level resource, once, or once per iteration of its ``copy`` loop."""
        if not isinstance(resource, dict):
            raise TemplateError("every resource must be an object")
        loop = resource.get("copy")
        if loop is None:
            self._add(resource, None)
            return
        if not isinstance(loop, dict):
            raise TemplateError(f"the copy of resource '{resource.get('name')}' must be an object with name and count")
        name = str(loop.get("name"))
        count = loop_count(loop, self, f"resource '{resource.get('name')}'")
        mode = str(loop.get("mode", "Parallel"))
        if mode.lower() not in ("parallel", "serial"):
            raise TemplateError(f"the copy '{name}' has mode '{mode}'; use Parallel or Serial")
        batch = evaluate(loop.get("batchSize"), self) if mode.lower() == "serial" else None
        if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
            raise TemplateError(f"the copy '{name}' has batchSize {batch!r}; it must be a positive integer")
        # ARM refuses a copy name used by two loops only in templates with symbolic names (languageVersion 2.0); in a
        # classic template each loop keeps its name, and dependsOn the name waits for every loop of it.
        if name.lower() in self._loop_members and str(self.template.get("languageVersion", "")).startswith("2"):
            raise TemplateError(f"the copy name '{name}' is used by more than one resource loop (not allowed with "
                                "symbolic names, languageVersion 2.0)")
        members: list[TemplateResource] = []
        self._loops.append(members)
        for index in range(count):
            self.loops, self.resource_loop = [(name, index)], name
            try:
                entry = self._add(resource, None)
            finally:
                self.loops, self.resource_loop = [], None
            if entry is not None:
                entry.batch_size = 1 if mode.lower() == "serial" and batch is None else batch
                members.append(entry)
        self._loop_members.setdefault(name.lower(), []).extend(members)

    def _add(self, resource: Any, parent: TemplateResource | None) -> TemplateResource | None:
        if not isinstance(resource, dict):
            raise TemplateError("every resource must be an object")
        if "scope" in resource:
            raise TemplateError("the resource property 'scope' is not supported by the emulator")
        if "copy" in resource and parent is not None:
            raise TemplateError(f"the child resource '{resource.get('name')}' has a copy loop; Resource Manager copies "
                                "only top-level resources (make it a top-level resource with a full type and name)")
        resource_type = str(evaluate(resource.get("type", ""), self))
        name = str(evaluate(resource.get("name", ""), self))
        if "condition" in resource and not evaluate(resource["condition"], self):
            # What depends on a resource that is not deployed no longer waits for it, as in ARM.
            full_type = f"{parent.type}/{resource_type}" if parent else resource_type
            full_name = f"{parent.name}/{name}" if parent else name
            self._skipped.update({full_name.lower(), full_name.rsplit("/", 1)[-1].lower(), f"{full_type}/{full_name}".lower()})
            if len(full_type.split("/")) - 1 == len(full_name.split("/")):
                self._skipped.add(self.resource_id([full_type, *full_name.split("/")]).lower())
            return None
        # A nested resource's type and name are its own segments, unless given whole: a type with its namespace and one
        # segment more than its name is the root form (ARM's rule), valid inside a parent too.
        whole = "." in resource_type.split("/")[0] and len(resource_type.split("/")) == len(name.split("/")) + 1
        if parent is not None and not whole:
            resource_type, name = f"{parent.type}/{resource_type}", f"{parent.name}/{name}"
        types, names = resource_type.split("/")[1:], name.split("/")
        if not types or len(types) != len(names) or not all(names):
            raise TemplateError(f"the resource '{resource_type}' named '{name}' needs {len(types)} name segment(s)")
        if resource_type.lower() == NESTED_DEPLOYMENT and isinstance((resource.get("properties") or {}).get("templateLink"), dict):
            refusal = link_refusal(name, resource["properties"]["templateLink"], lambda v: evaluate(v, self), self.arm.ctx.storage_suffix)
            if refusal:  # a link the emulator cannot read is refused before anything is made
                raise TemplateError(refusal)
        if resource_type.lower().startswith("microsoft.resources/") and resource_type.lower() != "microsoft.resources/deployments":
            raise TemplateError(f"the resource type '{resource_type}' is not supported by the emulator")
        api_version = evaluate(resource.get("apiVersion"), self)
        if not api_version and self.template.get("apiProfile"):
            api_version = profile_version(str(self.template["apiProfile"]), resource_type.split("/")[0], types[0])
        if not api_version and self.arm.namespace_table(resource_type.split("/")[0]) is None:
            # a provider the Stack lacks (App Service, say): what a Stack answers before any apiVersion question
            raise arm_errors.no_registered_provider(resource_type.split("/")[0], self.arm.location)
        if not api_version:
            raise TemplateError(f"the resource '{resource_type}' named '{name}' has no apiVersion "
                                f"(and the template names no apiProfile that covers it)")
        entry = TemplateResource(
            type=self.arm.canonical_type(resource_type.split("/")[0], "/".join(types)), name=name, api_version=str(api_version),
            id=self.resource_id([resource_type, *names]), source=resource,
            depends_on=[str(d) for d in evaluate(resource.get("dependsOn") or [], self)],
            # a child of a copied resource is evaluated in its parent's iteration
            loop=next((loop for loop in self.loops if loop[0] == self.resource_loop), None))
        if parent is not None:
            entry.depends_on.append(parent.id)
        self.entries.append(entry)
        for child in resource.get("resources") or []:
            self._add(child, entry)
        return entry

    def _dependency(self, reference: str, known: set[str], entry: TemplateResource) -> list[str]:
        """The ids one ``dependsOn`` item names: a resource, every resource of a loop, or none (a skipped one)."""
        wanted = reference.lower()
        if wanted in known:
            return [wanted]
        if wanted in self._loop_members:
            return [e.id.lower() for e in self._loop_members[wanted]]
        # A name, "Namespace/type/name" (as Azure CLI writes them) or "Namespace/type/name/child/name".
        by_name = [e for e in self.entries if wanted in (e.name.lower(), e.name.rsplit("/", 1)[-1].lower(),
                                                         f"{e.type}/{e.name}".lower(), e.id.split("/providers/", 1)[-1].lower())]
        if len(by_name) == 1:
            return [by_name[0].id.lower()]
        if wanted in self._skipped:
            return []
        raise TemplateError(f"the resource '{entry.id}' depends on '{reference}', which is not defined in the template")

    def ordered(self) -> list[TemplateResource]:
        """The resources so that each comes after what it depends on; of those ready, the first in the template first.

        Resource Manager starts every resource whose dependencies are done at once, and they finish as fast as their
        providers are: a NIC in seconds, a storage account in tens of them. Templates lean on that (Microsoft's Stack
        quickstarts make VMs that depend on their storage account only and name NICs made earlier in the template);
        deployed one at a time, the one a template lists first is the likeliest to be done first (assumed)."""
        done: list[TemplateResource] = []
        placed: set[str] = set()
        pending = list(self.entries)
        while pending:
            entry = next((e for e in pending if all(d in placed for d in e.after)), None)
            if entry is None:
                raise TemplateError("circular dependency among " + ", ".join(e.id for e in pending))
            done.append(entry)
            placed.add(entry.id.lower())
            pending.remove(entry)
        return done

    def resource_body(self, entry: TemplateResource) -> dict[str, Any]:
        """The body to PUT for the resource: its template object evaluated (in its loop iteration, if any)."""
        source = {k: v for k, v in entry.source.items()
                  if k not in ("resources", "dependsOn", "condition", "comments", "copy")}
        inner = None
        if entry.type.lower() == NESTED_DEPLOYMENT and _inner_scope(source):
            # An inner-scoped nested template is evaluated by its own deployment, with its own parameters.
            source = copy.deepcopy(source)
            inner = source["properties"].pop("template", None)
        self.loops, self.resource_loop = ([entry.loop], entry.loop[0]) if entry.loop else ([], None)
        try:
            body = {**evaluate(copy.deepcopy(source), self), "apiVersion": entry.api_version}
        finally:
            self.loops, self.resource_loop = [], None
        if inner is not None:
            body["properties"]["template"] = inner
        return body

    def providers(self, namespace: str, resource_type: str) -> dict[str, Any]:
        return {"resourceType": resource_type, "locations": [self.arm.location],
                "apiVersions": list(self.arm.supported_versions(str(namespace), str(resource_type)))}

    def outputs(self) -> dict[str, Any]:
        result = {}
        for name, output in (self.template.get("outputs") or {}).items():
            kind = str(output.get("type", "")).lower()
            value = evaluate(output.get("value"), self)
            if kind in _TYPES and not isinstance(value, _TYPES[kind]):
                raise TemplateError(f"the output '{name}' is not of type '{output.get('type')}'")
            result[name] = {"type": output.get("type"), "value": value}
        return result


def _is_allowed(value: Any, allowed: Any) -> bool:
    """``allowedValues`` as ARM compares them: strings without regard to case (Azure/bicep#2489)."""
    if not isinstance(allowed, list):
        return False
    if isinstance(value, str):
        return value.lower() in {a.lower() for a in allowed if isinstance(a, str)}
    return value in allowed


def _check_limits(name: str, kind: str, value: Any, declaration: dict[str, Any]) -> None:
    """A parameter's minValue/maxValue (int) and minLength/maxLength (string, array), as ARM checks them."""
    measured = value if kind == "int" else len(value) if kind in ("string", "securestring", "array") else None
    if measured is None:
        return
    what = "value" if kind == "int" else "length"
    low, high = ("minValue", "maxValue") if kind == "int" else ("minLength", "maxLength")
    if low in declaration and measured < declaration[low]:
        raise TemplateError(f"the {what} of the template parameter '{name}' is {measured}; it must be at least {declaration[low]}")
    if high in declaration and measured > declaration[high]:
        raise TemplateError(f"the {what} of the template parameter '{name}' is {measured}; it must be at most {declaration[high]}")


def _inner_scope(resource: dict[str, Any]) -> bool:
    options = (resource.get("properties") or {}).get("expressionEvaluationOptions") or {}
    return str(options.get("scope", "outer")).lower() == "inner"
