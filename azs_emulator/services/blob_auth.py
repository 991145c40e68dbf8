"""Who may ask the blob service what: the service's errors, Shared Key (the real signing algorithm, REST API
"Authorize with Shared Key", versions 2015-02-21 and later) and service shared access signatures (REST API "Create a
service SAS"), including those naming a container's stored access policy (``si``)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import uuid
from email.utils import format_datetime
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

from azs_emulator.protocol import ArmError, Request, Response

XML = "application/xml"


class BlobError(ArmError):
    """An error as the storage service answers it: XML ``<Error>`` and the ``x-ms-error-code`` header."""

    def __init__(self, status: int, code: str, message: str, **details: str) -> None:
        super().__init__(status, code, message)
        self.details = details

    def response(self) -> Response:
        extra = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in self.details.items())
        body = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{self.code}</Code><Message>{escape(self.message)}\n'
                f"RequestId:{uuid.uuid4()}\nTime:{iso(now())}</Message>{extra}</Error>").encode()
        return Response(self.status, body if self.status != 304 else None, {"x-ms-error-code": self.code}, content_type=XML)


def invalid_header(name: str, value: str) -> BlobError:
    return BlobError(400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.",
                     HeaderName=name, HeaderValue=value)


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def http_date(moment: dt.datetime) -> str:
    return format_datetime(moment, usegmt=True)


def etag() -> str:
    return f'"0x{uuid.uuid4().hex[:15].upper()}"'


def authentication_failed(detail: str) -> BlobError:
    return BlobError(403, "AuthenticationFailed", "Server failed to authenticate the request. Make sure the value of "
                     "Authorization header is formed correctly including the signature.", AuthenticationErrorDetail=detail)


def shared_key_string_to_sign(request: Request, account: str) -> str:
    """Shared Key's string to sign (service versions 2015-02-21 and later): the verb, the standard headers, the
    ``x-ms-`` headers in order, and the canonicalized resource (the path as sent) with its query."""
    header = request.headers.get
    length = header("content-length", "")
    standard = [request.method, header("content-encoding", ""), header("content-language", ""), "" if length == "0" else length,
                header("content-md5", ""), header("content-type", ""), header("date", ""), header("if-modified-since", ""),
                header("if-match", ""), header("if-none-match", ""), header("if-unmodified-since", ""), header("range", "")]
    ms_headers = "".join(f"{name}:{value.strip()}\n" for name, value in sorted(request.headers.items()) if name.startswith("x-ms-"))
    resource = f"/{account}{request.path or '/'}" + "".join(f"\n{name.lower()}:{unquote(value)}"
                                                              for name, value in sorted(request.query.items()))
    return "\n".join(standard) + "\n" + ms_headers + resource


def sign(key: str, text: str) -> str:
    return base64.b64encode(hmac.new(base64.b64decode(key), text.encode("utf-8"), hashlib.sha256).digest()).decode()


def sas_string_to_sign(query: dict[str, str], account: str, container: str, blob: str) -> str:
    """A service SAS's string to sign, in the shape its signed version (``sv``) defines."""
    get = lambda name: query.get(name, "")  # noqa: E731
    resource = f"/blob/{account}/{container}" + (f"/{blob}" if get("sr") in ("b", "bs") else "")
    fields = [get("sp"), get("st"), get("se"), resource, get("si"), get("sip"), get("spr"), get("sv")]
    if get("sv") >= "2018-11-09":
        fields += [get("sr"), get("snapshot")]
    if get("sv") >= "2020-12-06":
        fields.append(get("ses"))
    fields += [get("rscc"), get("rscd"), get("rsce"), get("rscl"), get("rsct")]
    return "\n".join(fields)


def _sas_time(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def check_shared_key(request: Request, account: str, keys: list[str], signed: tuple[str, str]) -> None:
    """403 unless ``signed`` (the Authorization header's account and signature) is the request signed by a key."""
    to_sign = shared_key_string_to_sign(request, account)
    if signed[0] != account or not any(hmac.compare_digest(sign(key, to_sign), signed[1]) for key in keys):
        raise authentication_failed("The MAC signature found in the HTTP request is not the same as any computed "
                                    "signature. Server used following string to sign: " + repr(to_sign))


def check_sas(request: Request, account: str, keys: list[str], served: tuple[str, ...] | None, needed: str,
              container: str, blob: str, policies: dict[str, dict[str, Any]]) -> None:
    """403 unless the request's service SAS is signed by a key, in its time window and grants ``needed``. A SAS naming
    a stored access policy (``si``) takes the start, expiry and permissions it leaves out from the container's policy
    (REST API "Define a stored access policy"); a policy removed revokes it."""
    query = {k: unquote(v) for k, v in request.query.items()}
    version = query.get("sv", "")
    if served is not None and version not in served:
        raise authentication_failed(f"Signed version {version!r} is not supported; this Stack serves {', '.join(served)}.")
    expected = sas_string_to_sign(query, account, container, blob)
    if not any(hmac.compare_digest(sign(key, expected), query["sig"]) for key in keys):
        raise authentication_failed("Signature did not match. String to sign used was " + repr(expected))
    terms = dict(query)
    if query.get("si"):
        policy = policies.get(query["si"])
        if policy is None:
            raise authentication_failed(f"The stored access policy {query['si']!r} named by the signature does not exist.")
        for field, kept in (("st", "start"), ("se", "expiry"), ("sp", "permission")):
            if policy.get(kept) and query.get(field):
                raise authentication_failed(f"The signed field {field} is both in the signature and its stored access policy.")
            terms[field] = query.get(field) or policy.get(kept) or ""
    moment = now()
    try:
        start = _sas_time(terms["st"]) if terms.get("st") else None
        expiry = _sas_time(terms["se"])
    except (KeyError, ValueError):
        raise authentication_failed("Signed expiry is missing or not an ISO 8601 time.") from None
    if moment >= expiry or (start is not None and moment < start):
        raise authentication_failed(f"Signed expiry time [{terms['se']}] must be after the current time [{iso(moment)}]"
                                    if moment >= expiry else f"Signed start time [{terms['st']}] is in the future")
    if query.get("sr") in ("b", "bs") and not blob:
        raise BlobError(403, "AuthorizationResourceTypeMismatch", "This request is not authorized to perform this "
                        "operation using this resource type.")
    if needed not in terms.get("sp", ""):
        raise BlobError(403, "AuthorizationPermissionMismatch", "This request is not authorized to perform this "
                        "operation using this permission.")
