"""Microsoft.Resources/deployments at resource-group scope: validate, create or update (long-running,
polled through ``Azure-AsyncOperation``), get, list, operations, cancel, delete and export.

A deployment is Accepted when PUT answers and runs when the next request reaches the emulator (so a
cancel sent right after the PUT finds it still cancellable). Its resources are made through the same
code as direct PUTs, in dependency order, in Incremental mode (Complete mode also removes the group's
other resources).
"""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from typing import Any
from urllib.parse import quote

from generator.emulator import arm_errors
from generator.emulator.api_tables import API_PROFILES, AZURE, profile_version
from generator.emulator.arm_core import RESOURCES_NS, Arm, group_id, now
from generator.emulator.protocol import ArmError, Request, Response
from generator.emulator.routing import Route, route
from generator.emulator.services.deployment_rollback import on_error_deployment, roll_back
from generator.emulator.services.provider_resources import ProviderResourcesService
from generator.emulator.template_language import TemplateError, check_functions, evaluate, expand_loop, loop_count, unique_string

_DEPLOYMENTS = r"/subscriptions/([^/]+)/resourcegroups/([^/]+)(?:/providers/microsoft\.resources)?/deployments"
_API = (RESOURCES_NS, "deployments")
_TYPES = {"string": str, "securestring": str, "int": int, "bool": bool, "object": dict, "secureobject": dict, "array": list}
_SECURE = ("securestring", "secureobject")
_RUNNING = ("Accepted", "Running")
NESTED = "microsoft.resources/deployments"


class DeploymentsService:
    def __init__(self, arm: Arm, resources: ProviderResourcesService) -> None:
        self.arm = arm
        self.resources = resources

    def routes(self) -> list[Route]:
        one = _DEPLOYMENTS + r"/([^/]+)"
        return [
            route("GET", _DEPLOYMENTS, self.list_deployments, api=_API),
            route("PUT", one, self.create, api=_API),
            route("GET", one, self.get, api=_API),
            route("HEAD", one, self.exists, api=_API),
            route("DELETE", one, self.delete, api=_API),
            route("POST", one + r"/validate", self.validate, api=_API),
            route("POST", one + r"/cancel", self.cancel, api=_API),
            route("POST", one + r"/exporttemplate", self.export, api=_API),
            route("GET", one + r"/operations", self.list_operations, api=_API),
            route("GET", one + r"/operations/([^/]+)", self.get_operation, api=_API),
            route("GET", one + r"/operationstatuses/([^/]+)", self.status, api=_API),
        ]

    # -- state -----------------------------------------------------------------------------------

    def _group_deployments(self, rg: str) -> dict[str, Any]:
        self.arm.group(rg)
        return self.arm.data.setdefault("deployments", {}).setdefault(rg.lower(), {})

    def _deployment(self, rg: str, name: str) -> dict[str, Any]:
        found = self._group_deployments(rg).get(name.lower())
        if found is None:
            raise arm_errors.deployment_not_found(name, self.arm.group(rg)["name"])
        return found

    def settle(self, request: Request) -> None:
        """Run every Accepted deployment, except one this request cancels."""
        posted = request.path.rstrip("/").lower() if request.method == "POST" else ""
        for deployments in list(self.arm.data.get("deployments", {}).values()):
            for deployment in list(deployments.values()):
                cancelling = posted.endswith(f"/deployments/{deployment['name'].lower()}/cancel")
                if deployment["properties"]["provisioningState"] == "Accepted" and not cancelling:
                    self._run(deployment)

    def _deployment_id(self, sub: str, rg: str, name: str) -> str:
        return f"{group_id(sub, self.arm.group(rg)['name'])}/providers/Microsoft.Resources/deployments/{name}"

    def _body(self, deployment: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in deployment.items() if not k.startswith("_")}

    # -- the operations --------------------------------------------------------------------------

    def create(self, request: Request, sub: str, rg: str, name: str) -> Response:
        body = request.json()
        properties = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(properties, dict):
            raise arm_errors.invalid_request_content("The deployment needs properties with a template and a mode.")
        deployments = self._group_deployments(rg)
        current = deployments.get(name.lower())
        if current is not None and current["properties"]["provisioningState"] in _RUNNING:
            raise arm_errors.conflict("DeploymentActive", f"The deployment '{name}' is still active; wait for it or cancel it.")
        plan = self._plan(sub, rg, name, properties)  # InvalidTemplate is answered at once, as ARM does
        # onErrorDeployment came with 2018-02-01; older versions do not know it
        asked = properties.get("onErrorDeployment") if (request.api_version or "") >= "2018-02-01" else None
        on_error = on_error_deployment(asked, deployments, name, self.arm.group(rg)["name"])
        deployment = {
            "id": self._deployment_id(sub, rg, name),
            "name": name,
            "type": "Microsoft.Resources/deployments",
            "properties": {
                "templateHash": _hash(properties["template"]),
                "parameters": _shown_parameters(plan.parameters, plan.declared),
                "mode": properties.get("mode", "Incremental"),
                "provisioningState": "Accepted",
                "timestamp": now(),
                "correlationId": str(uuid.uuid4()),
                "dependencies": [],
                "outputs": {},
                "outputResources": [],
                **({"onErrorDeployment": on_error} if on_error else {}),
            },
            "_template": properties["template"],
            "_given": properties.get("parameters") or {},
            "_sub": sub,
            "_rg": self.arm.group(rg)["name"],
            "_operations": [],
            "_status_id": uuid.uuid4().hex,
        }
        deployments[name.lower()] = deployment
        self.arm.save()
        status = (f"{request.base_url}{deployment['id']}/operationStatuses/{deployment['_status_id']}"
                  f"?api-version={quote(request.api_version or '')}")
        return Response(200 if current is not None else 201, self._body(deployment),
                        {"Azure-AsyncOperation": status, "Retry-After": "0"})

    def status(self, request: Request, sub: str, rg: str, name: str, operation: str) -> Response:
        deployment = self._deployment(rg, name)
        if operation != deployment["_status_id"]:
            raise arm_errors.operation_not_found(operation)
        state = deployment["properties"]["provisioningState"]
        body: dict[str, Any] = {"status": state}
        if "error" in deployment["properties"]:
            body["error"] = deployment["properties"]["error"]
        return Response(200, body)

    def get(self, request: Request, sub: str, rg: str, name: str) -> Response:
        return Response(200, self._body(self._deployment(rg, name)))

    def exists(self, request: Request, sub: str, rg: str, name: str) -> Response:
        return Response(204 if name.lower() in self._group_deployments(rg) else 404)

    def list_deployments(self, request: Request, sub: str, rg: str) -> Response:
        items = [self._body(d) for d in self._group_deployments(rg).values()]
        wanted = request.query.get("$filter", "")
        if wanted:
            state = wanted.split("eq", 1)[-1].strip().strip("'")
            items = [d for d in items if d["properties"]["provisioningState"].lower() == state.lower()]
        return self.arm.paged(request, items)

    def delete(self, request: Request, sub: str, rg: str, name: str) -> Response:
        deployments = self._group_deployments(rg)
        if name.lower() not in deployments:
            return Response(204)
        if deployments[name.lower()]["properties"]["provisioningState"] in _RUNNING:
            raise arm_errors.conflict("DeploymentActive", f"The deployment '{name}' is active and cannot be deleted.")
        del deployments[name.lower()]
        self.arm.save()
        return self.arm.accepted(request, sub)

    def cancel(self, request: Request, sub: str, rg: str, name: str) -> Response:
        deployment = self._deployment(rg, name)
        if deployment["properties"]["provisioningState"] not in _RUNNING:
            raise arm_errors.conflict("DeploymentCannotBeCancelled",
                                      f"The deployment '{name}' cannot be cancelled: it is "
                                      f"{deployment['properties']['provisioningState']}; only Accepted or Running deployments can be.")
        deployment["properties"]["provisioningState"] = "Canceled"
        self.arm.save()
        return Response(204)

    def validate(self, request: Request, sub: str, rg: str, name: str) -> Response:
        body = request.json()
        properties = body.get("properties") if isinstance(body, dict) else None
        if not isinstance(properties, dict):
            raise arm_errors.invalid_request_content("The deployment needs properties with a template and a mode.")
        try:
            plan = self._plan(sub, rg, name, properties)
        except ArmError as error:
            return Response(400, {"error": {"code": error.code, "message": error.message}})
        validated = [{"id": entry["id"]} for entry in plan.entries]
        return Response(200, {
            "id": self._deployment_id(sub, rg, name),
            "name": name, "type": "Microsoft.Resources/deployments",
            "properties": {"templateHash": _hash(properties["template"]), "mode": properties.get("mode", "Incremental"),
                           "parameters": _shown_parameters(plan.parameters, plan.declared),
                           "provisioningState": "Succeeded", "timestamp": now(), "correlationId": str(uuid.uuid4()),
                           "validatedResources": validated, "dependencies": []},
        })

    def export(self, request: Request, sub: str, rg: str, name: str) -> Response:
        return Response(200, {"template": self._deployment(rg, name)["_template"]})

    def _operation_body(self, deployment: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
        return {"id": f"{deployment['id']}/operations/{operation['operationId']}", **operation}

    def list_operations(self, request: Request, sub: str, rg: str, name: str) -> Response:
        deployment = self._deployment(rg, name)
        return self.arm.paged(request, [self._operation_body(deployment, o) for o in deployment["_operations"]])

    def get_operation(self, request: Request, sub: str, rg: str, name: str, operation_id: str) -> Response:
        deployment = self._deployment(rg, name)
        for operation in deployment["_operations"]:
            if operation["operationId"] == operation_id:
                return Response(200, self._operation_body(deployment, operation))
        raise arm_errors.operation_not_found(operation_id)

    # -- evaluation and execution ----------------------------------------------------------------

    def _plan(self, sub: str, rg: str, name: str, properties: dict[str, Any]) -> _Evaluation:
        template = properties.get("template")
        if properties.get("templateLink"):
            raise arm_errors.invalid_template("Deployment template validation failed: templateLink is not supported by "
                                              "the emulator (it reaches no network); send the template inline.")
        if not isinstance(template, dict) or not isinstance(template.get("resources"), list):
            raise arm_errors.invalid_template("Deployment template validation failed: the template must be an object with "
                                              "a 'resources' array.")
        mode = str(properties.get("mode", "Incremental"))
        if mode.lower() not in ("incremental", "complete"):  # ARM reads enum values case-insensitively
            raise arm_errors.invalid_parameter(f"The deployment mode '{mode}' is not valid; use Incremental or Complete.")
        evaluation = _Evaluation(self.arm, sub, self.arm.group(rg)["name"], name, template, properties.get("parameters") or {})
        try:
            check_functions(template, evaluation.is_stack)
            evaluation.prepare()
        except TemplateError as exc:
            raise arm_errors.invalid_template(f"Deployment template validation failed: {exc}.") from None
        for entry in evaluation.entries:  # validation knows the api-versions each resource type is served at
            namespace, top_type = entry["type"].split("/")[:2]
            served = self.arm.supported_versions(namespace, top_type)
            if entry["apiVersion"] not in served:
                raise arm_errors.invalid_template(
                    f"Deployment template validation failed: the api-version '{entry['apiVersion']}' of resource "
                    f"'{entry['id']}' is not served; the supported versions of {namespace}/{top_type} are '{','.join(served)}'.")
        return evaluation

    def _run(self, deployment: dict[str, Any]) -> None:
        properties = deployment["properties"]
        properties["provisioningState"] = "Running"
        evaluation = _Evaluation(self.arm, deployment["_sub"], deployment["_rg"], deployment["name"],
                                 deployment["_template"], deployment["_given"])
        operations = deployment["_operations"] = []
        failure: dict[str, Any] | None = None
        try:
            evaluation.prepare()
            for entry in evaluation.ordered():
                operation = {"operationId": uuid.uuid4().hex[:16].upper(), "properties": {
                    "provisioningOperation": "Create", "timestamp": now(), "duration": "PT0S",
                    "trackingId": str(uuid.uuid4()),
                    "targetResource": {"id": entry["id"], "resourceType": entry["type"], "resourceName": entry["name"]}}}
                operations.append(operation)
                try:
                    existed = self.arm.find(entry["id"]) is not None
                    self._deploy(evaluation, entry)
                    operation["properties"].update(provisioningState="Succeeded", statusCode="OK" if existed else "Created")
                except ArmError as error:
                    status = "BadRequest" if error.status < 500 else "InternalServerError"
                    operation["properties"].update(provisioningState="Failed", statusCode=status,
                                                   statusMessage={"error": {"code": error.code, "message": error.message}})
                    failure = {"code": error.code, "message": error.message, "target": entry["id"]}
                    break
            if failure is None:
                if properties["mode"].lower() == "complete":
                    self._remove_others(deployment, evaluation)
                properties["outputs"] = evaluation.outputs()
        except TemplateError as exc:
            failure = {"code": "InvalidTemplate", "message": f"Deployment template evaluation failed: {exc}."}
        properties["outputResources"] = [{"id": e["id"]} for e in evaluation.entries if self.arm.find(e["id"])]
        properties["duration"] = "PT1S"
        if failure is None:
            properties["provisioningState"] = "Succeeded"
        else:
            properties["provisioningState"] = "Failed"
            properties["error"] = {"code": "DeploymentFailed",
                                   "message": "At least one resource deployment operation failed. Please list deployment "
                                              "operations for details.",
                                   "details": [failure]}
            roll_back(deployment, self._group_deployments(deployment["_rg"]), self._run)
        self.arm.save()

    def _deploy(self, evaluation: _Evaluation, entry: dict[str, Any]) -> None:
        body = evaluation.resource_body(entry)
        if entry["type"].lower() == NESTED:
            self._deploy_nested(evaluation, entry, body)
            return
        namespace, *types = entry["type"].split("/")
        # A template deployment registers the providers its resources need, as Resource Manager does.
        if self.arm.registration_state(namespace) != "Registered":
            self.arm.data["providers"][namespace.lower()] = {"state": "Registered", "ready_at": 0}
        parent = None
        if len(types) > 1:
            parent = self.arm.find(entry["id"].rsplit("/", 2)[0])
            if parent is None:
                raise ArmError(404, "ParentResourceNotFound", f"Can not perform requested operation on nested resource. "
                                                              f"Parent resource '{entry['name'].rsplit('/', 1)[0]}' not found.")
        self.resources.create_or_update(entry["id"], entry["type"], body, parent)

    def _deploy_nested(self, evaluation: _Evaluation, entry: dict[str, Any], body: dict[str, Any]) -> None:
        """A nested deployment with its template inline: a deployment of the group of its own, run now."""
        properties = body.get("properties") or {}
        if not isinstance(properties.get("template"), dict):
            raise arm_errors.invalid_template(f"The nested deployment '{entry['name']}' has no inline template.")
        mode = str(properties.get("mode", "Incremental"))
        if mode.lower() != "incremental":
            raise arm_errors.invalid_template(f"The nested deployment '{entry['name']}' has mode '{mode}'; a nested "
                                              "deployment can only be Incremental.")
        nested = {"properties": {"template": properties["template"], "mode": "Incremental",
                                 "parameters": properties.get("parameters") or {}}}
        plan = self._plan(evaluation.sub, evaluation.rg, entry["name"], nested["properties"])
        deployment = {
            "id": self._deployment_id(evaluation.sub, evaluation.rg, entry["name"]), "name": entry["name"],
            "type": "Microsoft.Resources/deployments",
            "properties": {"templateHash": _hash(properties["template"]), "mode": "Incremental",
                           "parameters": _shown_parameters(plan.parameters, plan.declared), "provisioningState": "Accepted",
                           "timestamp": now(), "correlationId": str(uuid.uuid4()), "dependencies": [], "outputs": {},
                           "outputResources": []},
            "_template": properties["template"], "_given": nested["properties"]["parameters"], "_sub": evaluation.sub,
            "_rg": evaluation.rg, "_operations": [], "_status_id": uuid.uuid4().hex,
        }
        self._group_deployments(evaluation.rg)[entry["name"].lower()] = deployment
        self._run(deployment)
        evaluation.nested_resources.update(r["id"].lower() for r in deployment["properties"]["outputResources"])
        error = deployment["properties"].get("error")
        if error is not None:
            detail = (error.get("details") or [{}])[0]
            raise ArmError(400, "DeploymentFailed", f"The nested deployment '{entry['name']}' failed: "
                                                      f"{detail.get('code')}: {detail.get('message')}")

    def _remove_others(self, deployment: dict[str, Any], evaluation: _Evaluation) -> None:
        keep = {e["id"].lower() for e in evaluation.entries} | evaluation.nested_resources
        for resource in self.arm.group_resources(deployment["_sub"], deployment["_rg"]):
            if resource["id"].lower() not in keep:
                self.arm.delete_tree(resource["id"])


class _Evaluation:
    """One template with its parameters: declared values, variables, resources in order, outputs."""

    def __init__(self, arm: Arm, sub: str, rg: str, name: str, template: dict[str, Any], given: dict[str, Any]) -> None:
        self.arm, self.sub, self.rg, self.name = arm, sub, rg, name
        self.template = template
        self.given = given
        self.declared: dict[str, Any] = template.get("parameters") or {}
        self.parameters: dict[str, Any] = {}
        self._variables: dict[str, Any] = {}
        self._evaluating: set[str] = set()
        self.entries: list[dict[str, Any]] = []
        self.loops: list[tuple[str, int]] = []
        self.resource_loop: str | None = None
        self.is_stack = arm.ctx.config.stack_version != AZURE
        self._skipped: set[str] = set()  # ids and names of resources whose condition is false
        self._loop_members: dict[str, list[dict[str, Any]]] = {}  # resource loop name (lower case) -> its entries
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
        return {"id": f"/subscriptions/{self.sub}", "subscriptionId": self.sub, "tenantId": self.arm.data["tenant_id"],
                "displayName": "azs-scaffold emulator subscription"}

    def deployment(self) -> dict[str, Any]:
        return {"name": self.name, "properties": {"template": {"contentVersion": self.template.get("contentVersion", "1.0.0.0")},
                                                  "parameters": {}, "mode": "Incremental"}}

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

    def reference(self, target: str, api_version: str | None, full: bool) -> Any:
        target = str(target)
        if not target.startswith("/") and "/" in target:  # "Namespace/type/name"
            namespace, resource_type, *names = target.split("/")
            target = self.resource_id([f"{namespace}/{resource_type}", *names])
        if not target.startswith("/"):
            entry = next((e for e in self.entries if e["name"].lower() == target.lower()), None)
            if entry is None:
                raise TemplateError(f"reference('{target}'): no resource of this template has that name")
            target = entry["id"]
        resource = self.arm.find(target)
        if resource is None and "/providers/microsoft.resources/deployments/" in target.lower():
            nested = self.arm.data.get("deployments", {}).get(self.rg.lower(), {}).get(target.rsplit("/", 1)[-1].lower())
            resource = {k: v for k, v in nested.items() if not k.startswith("_")} if nested else None
        if resource is None:
            raise TemplateError(f"reference('{target}'): the resource is not deployed (add it to dependsOn)")
        return self.arm.public(resource) if full else self.arm.public(resource).get("properties", {})

    def list_keys(self, target: str, api_version: str) -> Any:
        """``listKeys(resourceId, apiVersion)``: a storage account's keys, as its POST listKeys answers them."""
        from generator.emulator.services.storage import account_keys

        resource = self.arm.find(target)
        if resource is None:
            raise TemplateError(f"listKeys('{target}'): the resource is not deployed (add it to dependsOn)")
        if resource["type"].lower() != "microsoft.storage/storageaccounts":
            raise TemplateError(f"listKeys: the resource type '{resource['type']}' has no keys in the emulator")
        keys = account_keys(self.arm, resource)
        return {"keys": [{"keyName": f"key{n + 1}", "value": key, "permissions": "FULL"} for n, key in enumerate(keys)]}

    # -- the steps -------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Parameters (given, defaulted, checked), then each resource's type, name and id."""
        unknown = [k for k in self.given if k.lower() not in {d.lower() for d in self.declared}]
        if unknown:
            raise TemplateError(f"the parameters {', '.join(unknown)} are not declared in the template")
        for name, declaration in self.declared.items():
            supplied = next((v for k, v in self.given.items() if k.lower() == name.lower()), None)
            if isinstance(supplied, dict) and "reference" in supplied:
                raise TemplateError(f"parameter '{name}': Key Vault references are not supported by the emulator")
            if isinstance(supplied, dict) and "value" in supplied:
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
            if allowed is not None and value not in allowed:
                raise TemplateError(f"the value '{value}' of the template parameter '{name}' is not one of its "
                                    f"allowedValues {json.dumps(allowed)}")
            self.parameters[name] = value
        profile = self.template.get("apiProfile")
        if profile is not None and str(profile).lower() not in {p.lower() for p in API_PROFILES}:
            raise TemplateError(f"the apiProfile '{profile}' is not supported; the supported profiles are "
                                f"'{', '.join(API_PROFILES)}'")
        self.entries, self._skipped, self._loop_members = [], set(), {}
        for resource in self.template["resources"]:
            self._add_with_loop(resource)
        known = {e["id"].lower() for e in self.entries}
        for entry in self.entries:
            entry["after"] = sorted({found for d in entry["dependsOn"] for found in self._dependency(d, known, entry)})
        for members in self._loop_members.values():  # serial loops: each batch after the one before it
            batch = members[0].get("batchSize") if members else None
            for index, entry in enumerate(members):
                if batch and index >= batch:
                    entry["after"] = sorted(set(entry["after"]) | {members[index - batch]["id"].lower()})

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
        if name.lower() in self._loop_members:
            raise TemplateError(f"the copy name '{name}' is used by more than one resource loop")
        members = self._loop_members[name.lower()] = []
        for index in range(count):
            self.loops, self.resource_loop = [(name, index)], name
            try:
                entry = self._add(resource, None)
            finally:
                self.loops, self.resource_loop = [], None
            if entry is not None:
                entry["batchSize"] = 1 if mode.lower() == "serial" and batch is None else batch
                members.append(entry)

    def _add(self, resource: Any, parent: dict[str, Any] | None) -> dict[str, Any] | None:
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
            full_type = f"{parent['type']}/{resource_type}" if parent else resource_type
            full_name = f"{parent['name']}/{name}" if parent else name
            self._skipped.update({full_name.lower(), full_name.rsplit("/", 1)[-1].lower(), f"{full_type}/{full_name}".lower()})
            if len(full_type.split("/")) - 1 == len(full_name.split("/")):
                self._skipped.add(self.resource_id([full_type, *full_name.split("/")]).lower())
            return None
        if parent is not None:
            resource_type, name = f"{parent['type']}/{resource_type}", f"{parent['name']}/{name}"
        types, names = resource_type.split("/")[1:], name.split("/")
        if not types or len(types) != len(names) or not all(names):
            raise TemplateError(f"the resource '{resource_type}' named '{name}' needs {len(types)} name segment(s)")
        if resource_type.lower() == "microsoft.resources/deployments" and (resource.get("properties") or {}).get("templateLink"):
            raise TemplateError(f"the nested deployment '{name}' links its template (templateLink); the emulator reaches no "
                                "network, so put the template inline (properties.template)")
        if resource_type.lower().startswith("microsoft.resources/") and resource_type.lower() != "microsoft.resources/deployments":
            raise TemplateError(f"the resource type '{resource_type}' is not supported by the emulator")
        api_version = evaluate(resource.get("apiVersion"), self)
        if not api_version and self.template.get("apiProfile"):
            api_version = profile_version(str(self.template["apiProfile"]), resource_type.split("/")[0], types[0])
        if not api_version:
            raise TemplateError(f"the resource '{resource_type}' named '{name}' has no apiVersion "
                                f"(and the template names no apiProfile that covers it)")
        entry = {"type": self.arm.canonical_type(resource_type.split("/")[0], "/".join(types)), "name": name,
                 "apiVersion": str(api_version),
                 "id": self.resource_id([resource_type, *names]), "source": resource,
                 "dependsOn": [str(d) for d in evaluate(resource.get("dependsOn") or [], self)],
                 # a child of a copied resource is evaluated in its parent's iteration
                 "loop": next((loop for loop in self.loops if loop[0] == self.resource_loop), None)}
        if parent is not None:
            entry["dependsOn"].append(parent["id"])
        self.entries.append(entry)
        for child in resource.get("resources") or []:
            self._add(child, entry)
        return entry

    def _dependency(self, reference: str, known: set[str], entry: dict[str, Any]) -> list[str]:
        """The ids one ``dependsOn`` item names: a resource, every resource of a loop, or none (a skipped one)."""
        wanted = reference.lower()
        if wanted in known:
            return [wanted]
        if wanted in self._loop_members:
            return [e["id"].lower() for e in self._loop_members[wanted]]
        # A name, "Namespace/type/name" (as Azure CLI writes them) or "Namespace/type/name/child/name".
        by_name = [e for e in self.entries if wanted in (e["name"].lower(), e["name"].rsplit("/", 1)[-1].lower(),
                                                         f"{e['type']}/{e['name']}".lower(),
                                                         e["id"].split("/providers/", 1)[-1].lower())]
        if len(by_name) == 1:
            return [by_name[0]["id"].lower()]
        if wanted in self._skipped:
            return []
        raise TemplateError(f"the resource '{entry['id']}' depends on '{reference}', which is not defined in the template")

    def ordered(self) -> list[dict[str, Any]]:
        """The resources so that each comes after what it depends on."""
        done: list[dict[str, Any]] = []
        placed: set[str] = set()
        pending = list(self.entries)
        while pending:
            ready = [e for e in pending if all(d in placed for d in e["after"])]
            if not ready:
                raise TemplateError("circular dependency among " + ", ".join(e["id"] for e in pending))
            for entry in ready:
                done.append(entry)
                placed.add(entry["id"].lower())
                pending.remove(entry)
        return done

    def resource_body(self, entry: dict[str, Any]) -> dict[str, Any]:
        source = {k: v for k, v in entry["source"].items()
                  if k not in ("resources", "dependsOn", "condition", "comments", "copy")}
        inner = None
        if entry["type"].lower() == NESTED and _inner_scope(source):
            # An inner-scoped nested template is evaluated by its own deployment, with its own parameters.
            source = copy.deepcopy(source)
            inner = source["properties"].pop("template", None)
        self.loops, self.resource_loop = ([entry["loop"]], entry["loop"][0]) if entry.get("loop") else ([], None)
        try:
            body = {**evaluate(copy.deepcopy(source), self), "apiVersion": entry["apiVersion"]}
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


def _hash(template: Any) -> str:
    return str(int(hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:16], 16))


def _shown_parameters(values: dict[str, Any], declared: dict[str, Any]) -> dict[str, Any]:
    """Parameters as a deployment shows them: secure ones without their value, as ARM does."""
    shown = {}
    for name, value in values.items():
        kind = str(declared.get(name, {}).get("type", "String"))
        shown[name] = {"type": kind} if kind.lower() in _SECURE else {"type": kind, "value": value}
    return shown


__all__ = ["DeploymentsService", "unique_string"]
