"""Microsoft.Resources' tags: tag names and their values (``tagNames``, each with the count of groups and resources
using it) and the tags of a subscription, a resource group or a resource (``tags/default``: replace, merge, delete).
:class:`~azs_emulator.services.resources.ResourcesService` serves these routes among its own."""

from __future__ import annotations

from typing import Any

from azs_emulator import arm_errors
from azs_emulator.arm_core import RESOURCES_NS, Arm
from azs_emulator.protocol import Request, Response
from azs_emulator.routing import Route, route
from azs_emulator.state import Document, TagHolder, TagName

_SUB = r"/subscriptions/([^/]+)"


class TagsBackend:
    """Owns the tags kept apart from resources: tag names (and their values) created on their own, and the
    subscription's tags. (Tags on groups and resources live in those documents.)"""

    def __init__(self, arm: Arm) -> None:
        self._arm = arm
        self._names = arm.data["tag_names"]

    def created_names(self) -> dict[str, str]:
        """Tag names created on their own: lower case -> as spelled."""
        return {key: entry["name"] for key, entry in self._names.items()}

    def created_values(self, name: str) -> list[str]:
        entry = self._names.get(name.lower())
        return list(entry["values"]) if entry else []

    def create_name(self, name: str) -> bool:
        """Create the tag name; whether it existed."""
        existed = name.lower() in self._names
        self._entry(name)
        self._arm.save()
        return existed

    def delete_name(self, name: str) -> bool:
        """Forget the tag name and its values; whether there was one."""
        removed = self._names.pop(name.lower(), None)
        self._arm.save()
        return removed is not None

    def set_value(self, name: str, value: str, present: bool) -> bool:
        """Create (``present``) or delete a value of a tag name (the name is created if need be); whether the value
        existed before."""
        values = self._entry(name)["values"]
        existed = value in values
        if present and not existed:
            values.append(value)
        elif not present and existed:
            values.remove(value)
        self._arm.save()
        return existed

    def subscription_tags(self) -> TagHolder:
        """The subscription's tags (``{"tags": ...}``): change them in place, within the request."""
        return self._arm.data["subscription_tags"]

    def _entry(self, name: str) -> TagName:
        return self._names.setdefault(name.lower(), {"name": name, "values": []})


class ResourceTags:
    """The tags API of Microsoft.Resources: the tags kept apart (``TagsBackend``) and those on groups and resources."""

    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        self.stored = TagsBackend(arm)

    def routes(self) -> list[Route]:
        tags = (RESOURCES_NS, "tagNames")
        return [
            route("GET", _SUB + r"/tagnames", self.list_tag_names, api=tags),
            route("PUT|DELETE", _SUB + r"/tagnames/([^/]+)", self.tag_name, api=tags),
            route("PUT|DELETE", _SUB + r"/tagnames/([^/]+)/tagvalues/([^/]+)", self.tag_value, api=tags),
            route("GET|PUT|PATCH|DELETE", r"(/subscriptions/[^/]+(?:/resourcegroups/[^/]+(?:/providers/.+?)?)?)"
                  r"/providers/microsoft\.resources/tags/default", self.tags_at_scope, api=(RESOURCES_NS, "tags")),
        ]

    # -- handlers --------------------------------------------------------------------------------

    def _tagged(self) -> list[Document]:
        return [*self.arm.groups(), *self.arm.all_resources()]

    def _tag_body(self, sub: str, name: str) -> dict[str, Any]:
        used = [t.get("tags") or {} for t in self._tagged()]
        values = sorted({str(tags[k]) for tags in used for k in tags if k.lower() == name.lower()}
                        | set(self.stored.created_values(name)))
        count = sum(1 for tags in used if any(k.lower() == name.lower() for k in tags))
        base = f"/subscriptions/{sub}/tagNames/{name}"
        return {
            "id": base, "tagName": name, "count": {"type": "Total", "value": count},
            "values": [{"id": f"{base}/tagValues/{v}", "tagValue": v,
                        "count": {"type": "Total", "value": sum(1 for tags in used if any(
                            k.lower() == name.lower() and str(x) == v for k, x in tags.items()))}}
                       for v in values],
        }

    def list_tag_names(self, request: Request, sub: str) -> Response:
        names = {k.lower(): k for t in self._tagged() for k in (t.get("tags") or {})}
        for key, spelled in self.stored.created_names().items():
            names.setdefault(key, spelled)
        return Response(200, {"value": [self._tag_body(sub, names[k]) for k in sorted(names)]})

    def tag_name(self, request: Request, sub: str, name: str) -> Response:
        if request.method == "PUT":
            existed = self.stored.create_name(name)
            return Response(200 if existed else 201, self._tag_body(sub, name))
        if self._tag_body(sub, name)["count"]["value"]:
            raise arm_errors.conflict("TagNameInUse",
                                      f"The tag name '{name}' cannot be deleted because it is applied to resources or resource groups.")
        return Response(200 if self.stored.delete_name(name) else 204)

    def tag_value(self, request: Request, sub: str, name: str, value: str) -> Response:
        existed = self.stored.set_value(name, value, present=request.method == "PUT")
        if request.method == "PUT":
            return Response(200 if existed else 201, {"id": f"/subscriptions/{sub}/tagNames/{name}/tagValues/{value}",
                                                      "tagValue": value, "count": {"type": "Total", "value": 0}})
        return Response(200 if existed else 204)

    def tags_at_scope(self, request: Request, scope: str) -> Response:
        holder = self._tag_holder(scope)
        if request.method == "PUT":
            holder["tags"] = dict(request.json_object().get("properties", {}).get("tags") or {})
        elif request.method == "PATCH":
            body = request.json_object()
            given = dict(body.get("properties", {}).get("tags") or {})
            operation = str(body.get("operation", "")).lower()
            if operation == "replace":
                holder["tags"] = given
            elif operation == "merge":
                holder["tags"] = {**(holder.get("tags") or {}), **given}
            elif operation == "delete":
                holder["tags"] = {k: v for k, v in (holder.get("tags") or {}).items() if k not in given or given[k] != v}
            else:
                raise arm_errors.invalid_parameter("The operation must be Merge, Replace or Delete.")
        elif request.method == "DELETE":
            holder["tags"] = {}
        self.arm.save()
        return Response(200, {"id": f"{scope}/providers/Microsoft.Resources/tags/default", "name": "default",
                              "type": "Microsoft.Resources/tags", "properties": {"tags": holder.get("tags") or {}}})

    def _tag_holder(self, scope: str) -> TagHolder | Document:
        parts = scope.strip("/").split("/")
        if len(parts) == 2:
            return self.stored.subscription_tags()
        group = self.arm.group(parts[3])
        if len(parts) == 4:
            return group
        resource = self.arm.find(scope)
        if resource is None:
            raise arm_errors.resource_not_found("/".join(parts[5:-1:2]), parts[-1], group["name"])
        return resource
