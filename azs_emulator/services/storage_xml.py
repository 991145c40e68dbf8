"""What the storage data plane's services answer alike, in their XML: lists and their paging, answers without a body,
metadata, stored access policies (REST API "Set Container ACL", "Set Queue ACL"), and service properties (REST API "Set
Blob Service Properties": logging, metrics, CORS)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from azs_emulator.protocol import Request, Response
from azs_emulator.services.blob_content import small_body
from azs_emulator.services.storage_auth import XML, StorageError

# Set Container / Queue / Table ACL: at most five stored access policies (REST API "Set Container ACL").
_MOST_POLICIES = 5
# Get Blob Service Properties of an account nobody set them on: logging and minute metrics off, hour metrics on with
# their APIs and 7 days' retention, no CORS rules (real service: a new account's answer on public Azure, recorded in
# Azure CLI's test_storage_blob_upload_small_file at 2017-11-09, whose check of hourMetrics.enabled the emulator failed;
# a Stack's storage is "Azure-consistent", Microsoft's storage differences name no other default).
_RETENTION_OFF = "<RetentionPolicy><Enabled>false</Enabled></RetentionPolicy>"
_DEFAULT_SERVICE_PROPERTIES = {
    "Logging": f"<Logging><Version>1.0</Version><Read>false</Read><Write>false</Write><Delete>false</Delete>{_RETENTION_OFF}</Logging>",
    "HourMetrics": "<HourMetrics><Version>1.0</Version><Enabled>true</Enabled><IncludeAPIs>true</IncludeAPIs>"
                   "<RetentionPolicy><Enabled>true</Enabled><Days>7</Days></RetentionPolicy></HourMetrics>",
    "MinuteMetrics": f"<MinuteMetrics><Version>1.0</Version><Enabled>false</Enabled>{_RETENTION_OFF}</MinuteMetrics>",
    "Cors": "<Cors />",
}
_POLICY_FIELDS = (("Start", "start"), ("Expiry", "expiry"), ("Permission", "permission"))


def service_properties(request: Request, kept: dict[str, str], save: Callable[[], None]) -> Response:
    """Get / Set Blob, Queue or Table Service Properties (one XML shape): a PUT changes the elements it names and keeps
    the others; a GET answers them over the defaults."""
    if request.method == "PUT":
        try:
            given = ElementTree.fromstring(small_body(request))
        except ElementTree.ParseError:
            raise StorageError(400, "InvalidXmlDocument", "XML specified is not syntactically valid.") from None
        if given.tag != "StorageServiceProperties":
            raise StorageError(400, "InvalidXmlDocument", "XML specified is not syntactically valid.")
        for element in given:
            kept[element.tag] = ElementTree.tostring(element, encoding="unicode")
        save()
        return Response(202, None, content_type=None)
    merged = {**_DEFAULT_SERVICE_PROPERTIES, **kept}
    return xml_answer("<StorageServiceProperties>" + "".join(merged.values()) + "</StorageServiceProperties>")


def policies_xml(policies: dict[str, dict[str, str]]) -> str:
    """Stored access policies as Get Container / Queue / Table ACL answer them."""
    return "<SignedIdentifiers>" + "".join(
        f"<SignedIdentifier><Id>{escape(pid)}</Id><AccessPolicy>"
        + "".join(f"<{tag}>{escape(policy[key])}</{tag}>" for tag, key in _POLICY_FIELDS if policy.get(key))
        + "</AccessPolicy></SignedIdentifier>" for pid, policy in policies.items()) + "</SignedIdentifiers>"


def parse_policies(body: bytes) -> dict[str, dict[str, str]]:
    """The stored access policies of a Set Container ACL body (at most five, each id at most 64 characters)."""
    if not body.strip():
        return {}
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise StorageError(400, "InvalidXmlDocument", "XML specified is not syntactically valid.") from None
    policies: dict[str, dict[str, str]] = {}
    for identifier in root.findall("SignedIdentifier"):
        pid = identifier.findtext("Id") or ""
        if not pid or len(pid) > 64:
            raise StorageError(400, "InvalidXmlDocument", "XML specified is not syntactically valid.")
        policy = identifier.find("AccessPolicy")
        policies[pid] = {key: (policy.findtext(tag) or "") for tag, key in _POLICY_FIELDS} if policy is not None else {}
    if len(policies) > _MOST_POLICIES:
        raise StorageError(400, "InvalidXmlDocument", "XML specified is not syntactically valid: more than five stored "
                        "access policies.")
    return policies


def metadata_xml(item: dict[str, Any]) -> str:
    return "<Metadata>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in item.get("metadata", {}).items()) + "</Metadata>"


def listing(request: Request, items: dict[str, Any], tag: str, describe: Callable[[Any], str]) -> Response:
    """List Containers / List Queues: the names from ``marker`` with ``prefix``, a page of them (``maxresults``, then
    ``NextMarker``), each as ``describe`` shows it after its name."""
    prefix, marker = request.query.get("prefix", ""), request.query.get("marker", "")
    shown, rest = one_page(sorted(n for n in items if n.startswith(prefix) and n >= marker), request)
    body = "".join(f"<{tag}><Name>{escape(n)}</Name>{describe(items[n])}</{tag}>" for n in shown)
    return xml_answer(f'<EnumerationResults ServiceEndpoint="{endpoint(request)}">{list_head(request)}<{tag}s>{body}</{tag}s>'
                      f"{next_marker(rest)}</EnumerationResults>")


def one_page(entries: list[Any], request: Request) -> tuple[list[Any], list[Any]]:
    # REST API "List Blobs"/"List Containers": maxresults of zero or less is a 400; over 5000, or absent, is 5000.
    given = request.query.get("maxresults") or "5000"
    if not given.isascii() or not given.lstrip("-").isdigit() or int(given) <= 0:
        raise StorageError(400, "OutOfRangeQueryParameterValue" if given.lstrip("-").isdigit() else "InvalidQueryParameterValue",
                           "Value for one of the query parameters specified in the request URI is invalid.",
                           QueryParameterName="maxresults", QueryParameterValue=given)
    size = min(int(given), 5000)
    return entries[:size], entries[size:]


def list_head(request: Request) -> str:
    return "".join(f"<{tag}>{escape(value)}</{tag}>" for tag, value in (("Prefix", request.query.get("prefix", "")),
                   ("Marker", request.query.get("marker", "")), ("MaxResults", request.query.get("maxresults", ""))) if value)


def next_marker(rest: list[str]) -> str:
    return f"<NextMarker>{escape(rest[0])}</NextMarker>" if rest else "<NextMarker />"


def endpoint(request: Request) -> str:
    return f"https://{request.headers.get('host', '')}/"


def xml_answer(body: str) -> Response:
    return Response(200, ('<?xml version="1.0" encoding="utf-8"?>' + body).encode(), content_type=XML)


def done(status: int, item: dict[str, Any] | None = None, extra: dict[str, str] | None = None) -> Response:
    headers = {"Last-Modified": item["modified"], "ETag": item["etag"]} if item else {}
    return Response(status, None, {**headers, **(extra or {})}, content_type=None)
