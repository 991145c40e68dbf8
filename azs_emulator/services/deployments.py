"""Microsoft.Resources/deployments at resource-group scope: validate, create or update (long-running,
polled through ``Azure-AsyncOperation``), get, list, operations, cancel, delete and export.

A deployment is Accepted when PUT answers and runs when the next request reaches the emulator (so a
cancel sent right after the PUT finds it still cancellable). Its resources are made through the same
code as direct PUTs, in dependency order, in Incremental mode (Complete mode also removes the group's
other resources).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any, cast
from urllib.parse import quote

from azs_emulator import arm_errors
from azs_emulator.arm_core import RESOURCES_NS, Arm, group_id, now
from azs_emulator.protocol import ArmError, Request, Response
from azs_emulator.routing import Route, route
from azs_emulator.services.deployment_rollback import on_error_deployment, roll_back
from azs_emulator.services.keyvault import secret_of_reference
from azs_emulator.services.provider_resources import ProviderResourcesService
from azs_emulator.services.storage import account_keys
from azs_emulator.services.template_links import TemplateLinks
from azs_emulator.state import Document, DocumentStore
from azs_emulator.store import Section, json_member
from azs_emulator.template_evaluator import NESTED_DEPLOYMENT, TemplateEvaluation, TemplateResource
from azs_emulator.template_keywords import canonical_template
from azs_emulator.template_language import TemplateError, check_functions, unique_string

_DEPLOYMENTS = r"/subscriptions/([^/]+)/resourcegroups/([^/]+)(?:/providers/microsoft\.resources)?/deployments"
_API = (RESOURCES_NS, "deployments")
_SECURE = ("securestring", "secureobject")
_RUNNING = ("Accepted", "Running")


class DeploymentsBackend:
    """Owns the deployments (``StateData.deployments``): by resource group, then by name (both in lower case). A
    group's deployments go when the group does."""

    def __init__(self, arm: Arm) -> None:
        self._arm = arm
        self._by_group = arm.data["deployments"]
        arm.group_deleted.append(self._forget_group)

    def in_group(self, rg: str) -> DocumentStore:
        """The deployments of a resource group (404 when the group does not exist), by name."""
        self._arm.group(rg)
        return DocumentStore(self._by_group.setdefault(rg.lower(), {}))

    def find(self, rg: str, name: str) -> Document | None:
        """A deployment of that group and name, or None (the group need not exist)."""
        return self._by_group.get(rg.lower(), {}).get(name.lower())

    def accepted(self) -> list[Document]:
        """Every deployment still Accepted (checked before every request): the store finds the groups holding one
        without reading the others'."""
        groups = cast(Section, self._by_group).keys_containing(json_member("provisioningState", "Accepted"))
        return [deployment for group in groups for deployment in self._by_group.get(group, {}).values()
                if deployment["properties"]["provisioningState"] == "Accepted"]

    def _forget_group(self, rg: str) -> None:
        self._by_group.pop(rg, None)


class DeploymentsService:
    def __init__(self, arm: Arm, resources: ProviderResourcesService, links: TemplateLinks | None = None) -> None:
        self.arm = arm
        self.resources = resources
        self.links = links  # linked templates, from the emulator's own blob storage
        self.deployments = DeploymentsBackend(arm)

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

    def _group_deployments(self, rg: str) -> DocumentStore:
        return self.deployments.in_group(rg)

    def _deployment(self, rg: str, name: str) -> dict[str, Any]:
        found = self._group_deployments(rg).get(name.lower())
        if found is None:
            raise arm_errors.deployment_not_found(name, self.arm.group(rg)["name"])
        return found

    def settle(self, request: Request) -> None:
        """Run every Accepted deployment, except one this request cancels."""
        posted = request.path.rstrip("/").lower() if request.method == "POST" else ""
        for deployment in self.deployments.accepted():
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
        current = deployments.get(name)
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
            "_link": properties.get("templateLink"),
            "_given": properties.get("parameters") or {},
            "_sub": sub,
            "_rg": self.arm.group(rg)["name"],
            "_operations": [],
            "_status_id": uuid.uuid4().hex,
        }
        deployments.put(name, deployment)
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
        return Response(204 if name in self._group_deployments(rg) else 404)

    def list_deployments(self, request: Request, sub: str, rg: str) -> Response:
        items = [self._body(d) for d in self._group_deployments(rg).values()]
        wanted = request.query.get("$filter", "")
        if wanted:
            state = wanted.split("eq", 1)[-1].strip().strip("'")
            items = [d for d in items if d["properties"]["provisioningState"].lower() == state.lower()]
        return self.arm.paged(request, items)

    def delete(self, request: Request, sub: str, rg: str, name: str) -> Response:
        deployments = self._group_deployments(rg)
        existing = deployments.get(name)
        if existing is None:
            return Response(204)
        if existing["properties"]["provisioningState"] in _RUNNING:
            raise arm_errors.conflict("DeploymentActive", f"The deployment '{name}' is active and cannot be deleted.")
        deployments.pop(name)
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
        validated = [{"id": entry.id} for entry in plan.entries]
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

    def _evaluation(self, sub: str, rg: str, name: str, template: dict[str, Any], given: dict[str, Any],
                    link: Any = None) -> TemplateEvaluation:
        return TemplateEvaluation(self.arm, sub, rg, name, template, given, template_link=link,
                                  deployment_of=lambda nested: self.deployments.find(rg, nested),
                                  account_keys=lambda account: account_keys(self.arm, account),
                                  vault_secret=lambda reference: secret_of_reference(self.arm, reference))

    def _plan(self, sub: str, rg: str, name: str, properties: dict[str, Any]) -> TemplateEvaluation:
        if properties.get("templateLink") and properties.get("template") is None and self.links is not None:
            properties["template"] = self.links.fetch(properties["templateLink"])  # the deployment keeps what it read
        template = canonical_template(properties.get("template"))
        if not isinstance(template, dict) or not isinstance(template.get("resources"), list):
            raise arm_errors.invalid_template("Deployment template validation failed: the template must be an object with "
                                              "a 'resources' array.")
        mode = str(properties.get("mode", "Incremental"))
        if mode.lower() not in ("incremental", "complete"):  # ARM reads enum values case-insensitively
            raise arm_errors.invalid_parameter(f"The deployment mode '{mode}' is not valid; use Incremental or Complete.")
        evaluation = self._evaluation(sub, self.arm.group(rg)["name"], name, template, properties.get("parameters") or {},
                                      properties.get("templateLink"))
        try:
            check_functions(template, evaluation.is_stack)
            evaluation.prepare()
        except TemplateError as exc:
            raise arm_errors.invalid_template(f"Deployment template validation failed: {exc}.") from None
        for entry in evaluation.entries:  # validation knows the api-versions each resource type is served at
            namespace, top_type = entry.type.split("/")[:2]
            try:
                served = self.arm.supported_versions(namespace, top_type)
            except ArmError as refused:  # a type the namespace lacks: 400 InvalidTemplate, as a template's faults are
                if refused.code != "InvalidResourceType":  # (real: azure-cli#15346); an unknown namespace: as it is
                    raise  # (InvalidResourceNamespace, real: Azure/ResourceModules#456)
                raise arm_errors.invalid_template(f"Deployment template validation failed: {refused.message}") from None
            if entry.api_version not in served:
                raise arm_errors.invalid_template(
                    f"Deployment template validation failed: the api-version '{entry.api_version}' of resource "
                    f"'{entry.id}' is not served; the supported versions of {namespace}/{top_type} are '{','.join(served)}'.")
        return evaluation

    def _run(self, deployment: dict[str, Any], mode: str | None = None) -> None:
        """Deploy ``deployment``'s resources, in ``mode`` if given (a rollback), else in the deployment's own."""
        properties = deployment["properties"]
        properties["provisioningState"] = "Running"
        evaluation = self._evaluation(deployment["_sub"], deployment["_rg"], deployment["name"], deployment["_template"],
                                      deployment["_given"], deployment.get("_link"))
        operations = deployment["_operations"] = []
        failure: dict[str, Any] | None = None
        try:
            evaluation.prepare()
            for entry in evaluation.ordered():
                operation: dict[str, Any] = {"operationId": uuid.uuid4().hex[:16].upper(), "properties": {
                    "provisioningOperation": "Create", "timestamp": now(), "duration": "PT0S",
                    "trackingId": str(uuid.uuid4()),
                    "targetResource": {"id": entry.id, "resourceType": entry.type, "resourceName": entry.name}}}
                operations.append(operation)
                try:
                    existed = self.arm.find(entry.id) is not None
                    self._deploy(evaluation, entry)
                    operation["properties"].update(provisioningState="Succeeded", statusCode="OK" if existed else "Created")
                except ArmError as error:
                    status = "BadRequest" if error.status < 500 else "InternalServerError"
                    operation["properties"].update(provisioningState="Failed", statusCode=status,
                                                   statusMessage={"error": {"code": error.code, "message": error.message}})
                    failure = {"code": error.code, "message": error.message, "target": entry.id}
                    break
            if failure is None:
                if (mode or properties["mode"]).lower() == "complete":
                    self._remove_others(deployment, evaluation)
                properties["outputs"] = evaluation.outputs()
        except TemplateError as exc:
            failure = {"code": "InvalidTemplate", "message": f"Deployment template evaluation failed: {exc}."}
        properties["outputResources"] = [{"id": e.id} for e in evaluation.entries if self.arm.find(e.id)]
        properties["duration"] = "PT1S"
        if failure is None:
            properties["provisioningState"] = "Succeeded"
        else:
            properties["provisioningState"] = "Failed"
            properties["error"] = {"code": "DeploymentFailed",
                                   "message": "At least one resource deployment operation failed. Please list deployment "
                                              "operations for details.",
                                   "details": [failure]}
            roll_back(deployment, self._group_deployments(deployment["_rg"]), lambda target: self._run(target, mode="Complete"))
        self.arm.save()

    def _deploy(self, evaluation: TemplateEvaluation, entry: TemplateResource) -> None:
        body = evaluation.resource_body(entry)
        if entry.type.lower() == NESTED_DEPLOYMENT:
            self._deploy_nested(evaluation, entry, body)
            return
        namespace, *types = entry.type.split("/")
        # A template deployment registers the providers its resources need, as Resource Manager does.
        if self.arm.registration_state(namespace) != "Registered":
            self.arm.set_registration(namespace, "Registered")
        parent = None
        if len(types) > 1:
            parent = self.arm.find(entry.id.rsplit("/", 2)[0])
            if parent is None:
                raise ArmError(404, "ParentResourceNotFound", f"Can not perform requested operation on nested resource. "
                                                              f"Parent resource '{entry.name.rsplit('/', 1)[0]}' not found.")
        self.resources.create_or_update(entry.id, entry.type, body, parent)

    def _deploy_nested(self, evaluation: TemplateEvaluation, entry: TemplateResource, body: dict[str, Any]) -> None:
        """A nested deployment (its template inline or linked): a deployment of the group of its own, run now."""
        properties = body.get("properties") or {}
        if properties.get("templateLink") and properties.get("template") is None and self.links is not None:
            properties["template"] = self.links.fetch(properties["templateLink"])
        if not isinstance(properties.get("template"), dict):
            raise arm_errors.invalid_template(f"The nested deployment '{entry.name}' has no inline template.")
        mode = str(properties.get("mode", "Incremental"))
        if mode.lower() != "incremental":
            raise arm_errors.invalid_template(f"The nested deployment '{entry.name}' has mode '{mode}'; a nested "
                                              "deployment can only be Incremental.")
        nested = {"properties": {"template": properties["template"], "mode": "Incremental",
                                 "parameters": properties.get("parameters") or {}, "templateLink": properties.get("templateLink")}}
        plan = self._plan(evaluation.sub, evaluation.rg, entry.name, nested["properties"])
        deployment = {
            "id": self._deployment_id(evaluation.sub, evaluation.rg, entry.name), "name": entry.name,
            "type": "Microsoft.Resources/deployments",
            "properties": {"templateHash": _hash(properties["template"]), "mode": "Incremental",
                           "parameters": _shown_parameters(plan.parameters, plan.declared), "provisioningState": "Accepted",
                           "timestamp": now(), "correlationId": str(uuid.uuid4()), "dependencies": [], "outputs": {},
                           "outputResources": []},
            "_template": properties["template"], "_link": properties.get("templateLink"),
            "_given": nested["properties"]["parameters"], "_sub": evaluation.sub,
            "_rg": evaluation.rg, "_operations": [], "_status_id": uuid.uuid4().hex,
        }
        self._group_deployments(evaluation.rg).put(entry.name, deployment)
        self._run(deployment)
        evaluation.nested_resources.update(r["id"].lower() for r in deployment["properties"]["outputResources"])
        error = deployment["properties"].get("error")
        if error is not None:
            detail = (error.get("details") or [{}])[0]
            raise ArmError(400, "DeploymentFailed", f"The nested deployment '{entry.name}' failed: "
                                                      f"{detail.get('code')}: {detail.get('message')}")

    def _remove_others(self, deployment: dict[str, Any], evaluation: TemplateEvaluation) -> None:
        keep = {e.id.lower() for e in evaluation.entries} | evaluation.nested_resources
        for resource in self.arm.group_resources(deployment["_sub"], deployment["_rg"]):
            if resource["id"].lower() not in keep:
                self.arm.delete_tree(resource["id"])


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
