"""Who may ask the storage data plane (blobs, queues, tables) what: the services' XML errors, Shared Key (the real
signing algorithms of REST API "Authorize with Shared Key": the blob and queue form, versions 2015-02-21 and later, and
the table form), service shared access signatures (REST API "Create a service SAS", in each service's shape),
including those naming a stored access policy (``si``), and account shared access signatures (REST API "Create an
account SAS": versions 2015-04-05 and later, which every Stack release's storage versions are)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import re
import uuid
from email.utils import format_datetime
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

from azs_emulator.api_tables import storage_data_versions
from azs_emulator.arm_core import Arm
from azs_emulator.protocol import ArmError, Request, Response
from azs_emulator.services.storage import account_keys, find_account

XML = "application/xml"


class StorageError(ArmError):
    """An error as the blob and queue services answer it: XML ``<Error>`` and the ``x-ms-error-code`` header."""

    def __init__(self, status: int, code: str, message: str, **details: str) -> None:
        super().__init__(status, code, message)
        self.details = details

    def response(self) -> Response:
        extra = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in self.details.items())
        body = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{self.code}</Code><Message>{escape(self.message)}\n'
                f"RequestId:{uuid.uuid4()}\nTime:{iso(now())}</Message>{extra}</Error>").encode()
        return Response(self.status, body if self.status != 304 else None, {"x-ms-error-code": self.code}, content_type=XML)


def invalid_header(name: str, value: str) -> StorageError:
    return StorageError(400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.",
                     HeaderName=name, HeaderValue=value)


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def http_date(moment: dt.datetime) -> str:
    return format_datetime(moment, usegmt=True)


def etag() -> str:
    return f'"0x{uuid.uuid4().hex[:15].upper()}"'


def authentication_failed(detail: str) -> StorageError:
    return StorageError(403, "AuthenticationFailed", "Server failed to authenticate the request. Make sure the value of "
                     "Authorization header is formed correctly including the signature.", AuthenticationErrorDetail=detail)


def shared_key_string_to_sign(request: Request, account: str) -> str:
    """Shared Key's string to sign for blobs and queues (service versions 2015-02-21 and later): the verb, the standard
    headers, the ``x-ms-`` headers in order, and the canonicalized resource (the path as sent) with its query."""
    header = request.headers.get
    length = header("content-length", "")
    standard = [request.method, header("content-encoding", ""), header("content-language", ""), "" if length == "0" else length,
                header("content-md5", ""), header("content-type", ""), header("date", ""), header("if-modified-since", ""),
                header("if-match", ""), header("if-none-match", ""), header("if-unmodified-since", ""), header("range", "")]
    ms_headers = "".join(f"{name}:{value.strip()}\n" for name, value in sorted(request.headers.items()) if name.startswith("x-ms-"))
    resource = f"/{account}{request.path or '/'}" + "".join(f"\n{name.lower()}:{unquote(value)}"
                                                              for name, value in sorted(request.query.items()))
    return "\n".join(standard) + "\n" + ms_headers + resource


def table_string_to_sign(request: Request, account: str) -> str:
    """Shared Key's string to sign for the table service: the verb, Content-MD5, Content-Type, the date (``x-ms-date``
    when sent, else ``Date``) and the canonicalized resource with only its ``comp`` parameter."""
    header = request.headers.get
    comp = f"?comp={request.query['comp']}" if "comp" in request.query else ""
    return "\n".join([request.method, header("content-md5", ""), header("content-type", ""),
                      header("x-ms-date") or header("date", ""), f"/{account}{request.path or '/'}{comp}"])


def sign(key: str, text: str) -> str:
    return base64.b64encode(hmac.new(base64.b64decode(key), text.encode("utf-8"), hashlib.sha256).digest()).decode()


def sas_string_to_sign(query: dict[str, str], account: str, service: str, resource: str) -> str:
    """A service SAS's string to sign, in the shape its service and signed version (``sv``) define; ``resource`` is
    the signed resource's path in the account (a container or blob, a queue, a table)."""
    get = lambda name: query.get(name, "")  # noqa: E731
    fields = [get("sp"), get("st"), get("se"), f"/{service}/{account}/{resource}", get("si"), get("sip"), get("spr"), get("sv")]
    if service == "table":
        return "\n".join([*fields, get("spk"), get("srk"), get("epk"), get("erk")])
    if service == "queue":
        return "\n".join(fields)
    if get("sv") >= "2018-11-09":
        # signedSnapshotTime is the snapshot a snapshot SAS (sr=bs) names; a blob SAS (sr=b) signs it empty and still
        # reads the blob's snapshots, ?snapshot= beside it (docs: Azure CLI's live test
        # test_storage_blob_copy_with_sas_and_snapshot copies a snapshot so on Azure; azure-storage-blob signs the
        # field only for generate_blob_sas(snapshot=...)).
        fields += [get("sr"), get("snapshot") if get("sr") == "bs" else ""]
    if get("sv") >= "2020-12-06":
        fields.append(get("ses"))
    fields += [get("rscc"), get("rscd"), get("rsce"), get("rscl"), get("rsct")]
    return "\n".join(fields)


def _sas_time(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def check_shared_key(request: Request, account: str, keys: list[str], signed: tuple[str, str], table: bool = False) -> None:
    """403 unless ``signed`` (the Authorization header's account and signature) is the request signed by a key."""
    to_sign = table_string_to_sign(request, account) if table else shared_key_string_to_sign(request, account)
    # Compared as bytes: hmac.compare_digest refuses str with non-ASCII characters (a signature of "\xe9" is a 403).
    if signed[0] != account or not any(hmac.compare_digest(sign(key, to_sign).encode(), signed[1].encode()) for key in keys):
        raise authentication_failed("The MAC signature found in the HTTP request is not the same as any computed "
                                    "signature. Server used following string to sign: " + repr(to_sign))


def _from_allowed_ip(client: str, allowed: str) -> bool:
    """Whether ``client`` is the address ``allowed`` names, or in its range (``168.1.5.60-168.1.5.70``)."""
    try:
        address = ipaddress.ip_address(client.removeprefix("::ffff:"))
        low, _, high = allowed.partition("-")
        first, last = ipaddress.ip_address(low.strip()), ipaddress.ip_address((high or low).strip())
    except ValueError:  # an unreadable sip admits nothing
        return False
    return first.version == address.version == last.version and int(first) <= int(address) <= int(last)


def check_sas(request: Request, account: str, keys: list[str], served: tuple[str, ...] | None, needed: str,
              container: str, blob: str, policies: dict[str, dict[str, Any]], service: str = "blob") -> None:
    """403 unless the request's service SAS is signed by a key, in its time window and grants ``needed``. A SAS naming
    a stored access policy (``si``) takes the start, expiry and permissions it leaves out from the container's policy
    (REST API "Define a stored access policy"); a policy removed revokes it."""
    query = {k: unquote(v) for k, v in request.query.items()}
    resource = container + (f"/{blob}" if service == "blob" and query.get("sr") in ("b", "bs") else "")
    _check_signed(query, keys, served, sas_string_to_sign(query, account, service, resource))
    _check_source(request, query)
    terms = dict(query)
    if query.get("si"):
        policy = policies.get(query["si"])
        if policy is None:
            raise authentication_failed(f"The stored access policy {query['si']!r} named by the signature does not exist.")
        for field, kept in (("st", "start"), ("se", "expiry"), ("sp", "permission")):
            if policy.get(kept) and query.get(field):
                raise authentication_failed(f"The signed field {field} is both in the signature and its stored access policy.")
            terms[field] = query.get(field) or policy.get(kept) or ""
    _check_window(terms)
    if query.get("sr") in ("b", "bs") and not blob:
        raise StorageError(403, "AuthorizationResourceTypeMismatch", "This request is not authorized to perform this "
                        "operation using this resource type.")
    if needed not in terms.get("sp", ""):
        raise StorageError(403, "AuthorizationPermissionMismatch", "This request is not authorized to perform this "
                        "operation using this permission.")


def _check_signed(query: dict[str, str], keys: list[str], served: tuple[str, ...] | None, expected: str) -> None:
    """403 unless the signature's version (sv) is one the Stack serves and its sig is ``expected`` signed by a key."""
    version = query.get("sv", "")
    if served is not None and version not in served:
        raise authentication_failed(f"Signed version {version!r} is not supported; this Stack serves {', '.join(served)}.")
    if not any(hmac.compare_digest(sign(key, expected).encode(), query.get("sig", "").encode()) for key in keys):
        raise authentication_failed("Signature did not match. String to sign used was " + repr(expected))


def _check_source(request: Request, query: dict[str, str]) -> None:
    """REST API "Create a service SAS" and "... an account SAS": sip, "an IP address or a range of IP addresses from
    which to accept requests"."""
    if query.get("sip") and not _from_allowed_ip(request.client_ip, query["sip"]):
        raise StorageError(403, "AuthorizationSourceIPMismatch", f"This request is not authorized to perform this "
                           f"operation using this source IP {request.client_ip}.")


def _check_window(terms: dict[str, str]) -> None:
    """403 unless now is within the signature's start (optional) and expiry."""
    moment = now()
    try:
        start = _sas_time(terms["st"]) if terms.get("st") else None
        expiry = _sas_time(terms["se"])
    except (KeyError, ValueError):
        raise authentication_failed("Signed expiry is missing or not an ISO 8601 time.") from None
    if moment >= expiry or (start is not None and moment < start):
        raise authentication_failed(f"Signed expiry time [{terms['se']}] must be after the current time [{iso(moment)}]"
                                    if moment >= expiry else f"Signed start time [{terms['st']}] is in the future")


# REST API "Create an account SAS": the signed services (ss) letter of each service.
_SERVICE_LETTER = {"blob": "b", "queue": "q", "table": "t"}


def account_sas_string_to_sign(query: dict[str, str], account: str) -> str:
    """An account SAS's string to sign (REST API "Create an account SAS"; the encryption scope from 2020-12-06)."""
    get = lambda name: query.get(name, "")  # noqa: E731
    fields = [account, get("sp"), get("ss"), get("srt"), get("st"), get("se"), get("sip"), get("spr"), get("sv")]
    if get("sv") >= "2020-12-06":
        fields.append(get("ses"))
    return "\n".join(fields) + "\n"


def _resource_level(request: Request, service: str) -> str:
    """The account SAS resource type (srt) a request needs: s (the service: list, properties), c (a container, queue
    or table itself) or o (a blob, message or entity). REST API "Create an account SAS", "signedResourceTypes"."""
    path = [part for part in request.path.split("?", 1)[0].split("/") if part]
    if not path:
        return "s"
    if service == "table":
        if path[0].lower().startswith("tables"):
            return "s" if request.method == "GET" and path[0].lower() == "tables" else "c"
        return "o"
    return "c" if len(path) == 1 else "o"


def _account_permission(request: Request, needed: str | None) -> str:
    """The permissions an account SAS may hold for this request: the operation's own letter, or for what only the
    account's key may do with a service SAS (service properties, ACLs, creating a table) the letters of its kind."""
    if needed is not None:
        return needed
    return {"GET": "rl", "HEAD": "rl", "DELETE": "d"}.get(request.method, "wc")


def check_account_sas(request: Request, account: str, keys: list[str], served: tuple[str, ...] | None, service: str,
                      needed: str | None) -> None:
    """403 unless the request's account SAS is signed by a key, covers its service (ss), resource type (srt) and
    operation (sp), and is in its time window. Account SAS name no stored access policy."""
    query = {k: unquote(v) for k, v in request.query.items()}
    _check_signed(query, keys, served, account_sas_string_to_sign(query, account))
    _check_source(request, query)
    _check_window(query)
    if _SERVICE_LETTER[service] not in query.get("ss", ""):
        raise StorageError(403, "AuthorizationServiceMismatch", "This request is not authorized to perform this "
                           "operation using this service.")
    if _resource_level(request, service) not in query.get("srt", ""):
        raise StorageError(403, "AuthorizationResourceTypeMismatch", "This request is not authorized to perform this "
                           "operation using this resource type.")
    if not set(_account_permission(request, needed)) & set(query.get("sp", "")):
        raise StorageError(403, "AuthorizationPermissionMismatch", "This request is not authorized to perform this "
                           "operation using this permission.")


_SHARED_KEY = re.compile(r"^SharedKey ([^:]+):(.+)$")


def admit(arm: Arm, request: Request, service: str, needed: str | None, resource: str = "", blob: str = "",
          policies: dict[str, dict[str, Any]] | None = None) -> str | None:
    """The account a data-plane request addresses (by its host's first label), once its service version and its Shared
    Key or SAS hold (``needed``: the SAS permission letter the operation takes; None: only the account's key may).
    None: the request carries neither, which only a blob container's public access may let through."""
    name = request.headers.get("host", "").split(".", 1)[0].lower()
    account = find_account(arm, name)
    if account is None:
        raise StorageError(404, "ResourceNotFound", "The specified resource does not exist.")
    served = storage_data_versions(arm.ctx.release)
    version = request.headers.get("x-ms-version", "")
    if version and served is not None and version not in served:
        raise invalid_header("x-ms-version", version)
    keys = account_keys(arm, account)
    signed = _SHARED_KEY.match(request.headers.get("authorization", ""))
    if "sig" in request.query and "ss" in request.query:
        check_account_sas(request, name, keys, served, service, needed)
    elif "sig" in request.query:
        if needed is None:
            raise StorageError(403, "AuthorizationFailure", "This request is not authorized to perform this operation.")
        check_sas(request, name, keys, served, needed, resource, blob, policies or {}, service)
    elif signed:
        if not version:
            raise StorageError(400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not "
                               "specified.", HeaderName="x-ms-version")
        check_shared_key(request, name, keys, (signed.group(1), signed.group(2)), table=service == "table")
    else:
        return None
    return name


def account_store(arm: Arm, accounts: dict[str, Any], name: str, empty: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """An account's data in one data plane's section (``empty`` on first use), and what an earlier account of the same
    name left there (None: nothing): a storage account deleted and made again starts empty, as on a Stack. The data
    is told from its account by the account's creation time."""
    account = find_account(arm, name)
    if account is None:  # nothing kept for a name no account has (the request is refused)
        return dict(empty), None
    created = account["properties"].get("creationTime")
    store = accounts.get(name)
    if store is not None and store.get("account_created", created) == created:
        store.setdefault("account_created", created)
        return store, None
    accounts[name] = {**empty, "account_created": created}
    return accounts[name], store


def admitted_store(arm: Arm, accounts: dict[str, Any], request: Request, service: str, needed: str | None,
                   resource: str) -> dict[str, Any]:
    """The queues or tables (``accounts``: their section of the state) of the account a request addresses, made empty on
    first use, once :func:`admit` lets the request in (the SAS may name one of the resource's stored policies)."""
    kind = f"{service}s"
    store, _ = account_store(arm, accounts, request.headers.get("host", "").split(".", 1)[0].lower(), {kind: {}})
    policies = store[kind].get(resource, {}).get("policies", {})
    if admit(arm, request, service, needed, resource, policies=policies) is None:
        raise no_authentication()
    return store


def no_authentication() -> StorageError:
    return StorageError(403, "NoAuthenticationInformation", "Server failed to authenticate the request. Please refer to "
                        "the information in the www-authenticate header.")
