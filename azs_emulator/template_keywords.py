"""A template's own keywords spelled as the template language spells them. Resource Manager reads them without regard
to case (backed by docs, Microsoft's own word in its repositories: Azure/azure-quickstart-templates#5845 "the ARM
template service accepts templates case insensitively", Azure/bicep#11457 "type properties ... are case-insensitive in
ARM"; Microsoft's Stack quickstarts deploy parameters written ``"defaultvalue"``), so ``"defaultvalue"``,
``"Properties"`` or ``"DependsOn"`` mean what the canonical spelling means. Only the language's own objects are
respelled (the template, parameter and output declarations, resources, copy loops); what a resource's ``properties``
hold is its provider's, sent as written."""

from __future__ import annotations

from typing import Any

_TEMPLATE = ("$schema", "contentVersion", "apiProfile", "languageVersion", "metadata", "parameters", "variables",
             "functions", "resources", "outputs")
_PARAMETER = ("type", "defaultValue", "allowedValues", "minValue", "maxValue", "minLength", "maxLength", "metadata")
_RESOURCE = ("type", "name", "apiVersion", "location", "dependsOn", "properties", "copy", "condition", "resources", "sku",
             "kind", "tags", "comments", "plan", "identity", "zones", "scope")
_COPY = ("name", "count", "mode", "batchSize", "input")
_OUTPUT = ("type", "value", "condition", "copy")


def _respelled(value: Any, keywords: tuple[str, ...]) -> Any:
    """``value`` (an object) with each key that is one of ``keywords`` but for case spelled as the keyword; a key whose
    canonical spelling is there too is left as it is."""
    if not isinstance(value, dict):
        return value
    canonical = {k.lower(): k for k in keywords}
    result: dict[str, Any] = {}
    for key, item in value.items():
        spelled = canonical.get(key.lower(), key) if isinstance(key, str) else key
        result[key if spelled in value and spelled != key else spelled] = item
    return result


def _resource(value: Any) -> Any:
    resource = _respelled(value, _RESOURCE)
    if isinstance(resource, dict):
        if isinstance(resource.get("copy"), dict):
            resource["copy"] = _respelled(resource["copy"], _COPY)
        if isinstance(resource.get("resources"), list):
            resource["resources"] = [_resource(child) for child in resource["resources"]]
    return resource


def canonical_template(template: Any) -> Any:
    """``template`` with the template language's keywords spelled canonically (a new object; ``template`` untouched)."""
    result = _respelled(template, _TEMPLATE)
    if not isinstance(result, dict):
        return result
    for section, keywords in (("parameters", _PARAMETER), ("outputs", _OUTPUT)):
        if isinstance(result.get(section), dict):
            result[section] = {name: _respelled(declaration, keywords) for name, declaration in result[section].items()}
    if isinstance(result.get("resources"), list):
        result["resources"] = [_resource(resource) for resource in result["resources"]]
    return result
