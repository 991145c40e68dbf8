"""The storage data plane's queue service, at ``<account>.queue.<region>.<fqdn>`` (a Stack serves blob, queue and
table: "Introduction to Azure Stack Hub storage"): queues with metadata and stored access policies, their messages (put,
get with a visibility timeout and pop receipt, peek, update, delete, clear), the service's properties, in the service's
XML as the Queue service REST API reference describes each operation, authorized by Shared Key or a queue SAS at the
service versions the release serves."""

from __future__ import annotations

import base64
import functools
import re
import time
import uuid
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from azs_emulator.arm_core import Arm
from azs_emulator.protocol import Request, Response
from azs_emulator.routing import ANYONE, QUEUE, Route, route
from azs_emulator.services.blob_content import small_body
from azs_emulator.services.storage_auth import StorageError, admitted_store, invalid_header
from azs_emulator.services.storage_xml import (
    done,
    listing,
    metadata_xml,
    parse_policies,
    policies_xml,
    service_properties,
    xml_answer,
)

_QUEUE_NAME = re.compile(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]")
# Put Message: a message lives 7 days unless told otherwise (-1: never expires, 2017-07-29 and later); at most 64 KiB.
_DEFAULT_TTL = 7 * 24 * 3600
_MOST_MESSAGE = 64 * 1024
_MOST_VISIBILITY = 7 * 24 * 3600
_NEVER = 253402300799.0  # 9999-12-31T23:59:59Z: what the service shows as a message's expiry when it never expires

Queue = dict[str, Any]


def _http_time(moment: float) -> str:
    return formatdate(moment, usegmt=True)


def _seconds(request: Request, name: str, default: int, lowest: int, highest: int | None) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = lowest - 2
    if value < lowest or (highest is not None and value > highest):
        if not (name == "messagettl" and value == -1):
            raise StorageError(400, "OutOfRangeQueryParameterValue", "One of the query parameters specified in the request "
                               "URI is outside the permissible range.", QueryParameterName=name, QueryParameterValue=text)
    return value


class QueueService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        self._accounts = arm.data["queue_accounts"]

    def routes(self) -> list[Route]:
        queue_route = functools.partial(route, listener=QUEUE, auth=ANYONE, subscription=False)
        return [
            queue_route("GET|PUT", r"/", self.account_root),
            queue_route("PUT|GET|HEAD|DELETE", r"/([^/]+)", self.queue),
            queue_route("POST|GET|DELETE", r"/([^/]+)/messages", self.messages),
            queue_route("PUT|DELETE", r"/([^/]+)/messages/([^/]+)", self.message),
        ]

    def _admit(self, request: Request, needed: str | None, queue: str = "") -> dict[str, Any]:
        """The account's queues, once the request's version and Shared Key or SAS (``needed``: r, a, u, p) hold."""
        return admitted_store(self.arm, self._accounts, request, "queue", needed, queue)

    def _queue(self, store: dict[str, Any], name: str) -> Queue:
        found = store["queues"].get(name)
        if found is None:
            raise StorageError(404, "QueueNotFound", "The specified queue does not exist.")
        return found

    # -- the account ------------------------------------------------------------------------------

    def account_root(self, request: Request) -> Response:
        """List Queues, Get/Set Queue Service Properties."""
        comp = request.query.get("comp", "")
        if request.query.get("restype") == "service" and comp == "properties":
            store = self._admit(request, None)
            return service_properties(request, store.setdefault("service_properties", {}), self.arm.save)
        if request.method != "GET" or comp != "list":
            raise StorageError(400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in "
                               "the request URI is invalid.", QueryParameterName="comp")
        with_metadata = "metadata" in request.query.get("include", "")
        return listing(request, self._admit(request, "l")["queues"], "Queue", lambda q: metadata_xml(q) if with_metadata else "")

    # -- queues ----------------------------------------------------------------------------------

    def queue(self, request: Request, name: str) -> Response:
        """Create Queue (201; 204 when it exists with the same metadata, else 409), Delete Queue, Get/Set Queue Metadata
        (with the approximate message count), Get/Set Queue ACL."""
        name = unquote(name)
        comp = request.query.get("comp", "")
        store = self._admit(request, None if comp == "acl" or request.method in ("PUT", "DELETE") else "r", name)
        queues = store["queues"]
        if request.method == "PUT" and not comp:
            if not _QUEUE_NAME.fullmatch(name):
                raise StorageError(400, "InvalidResourceName", "The specifed resource name contains invalid characters.")
            metadata = _metadata(request)
            if name in queues:
                if queues[name]["metadata"] != metadata:
                    raise StorageError(409, "QueueAlreadyExists", "The specified queue already exists.")
                return done(204)
            queues[name] = {"metadata": metadata, "policies": {}, "messages": []}
            self.arm.save()
            return done(201)
        found = self._queue(store, name)
        if request.method == "DELETE":
            del queues[name]
            self.arm.save()
            return done(204)
        if comp == "acl":
            if request.method == "PUT":
                found["policies"] = parse_policies(small_body(request))
                self.arm.save()
                return done(204)
            return xml_answer(policies_xml(found["policies"]))
        if comp == "metadata" and request.method == "PUT":
            found["metadata"] = _metadata(request)
            self.arm.save()
            return done(204)
        if comp != "metadata":
            raise StorageError(400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in "
                               "the request URI is invalid.", QueryParameterName="comp")
        count = len(self._live(found))
        return done(200, extra={"x-ms-approximate-messages-count": str(count),
                                **{f"x-ms-meta-{k}": v for k, v in found["metadata"].items()}})

    # -- messages --------------------------------------------------------------------------------

    @staticmethod
    def _live(found: Queue) -> list[dict[str, Any]]:
        """The queue's messages not expired (expired ones are dropped)."""
        moment = time.time()
        found["messages"] = [m for m in found["messages"] if m["expires"] > moment]
        return found["messages"]

    def messages(self, request: Request, name: str) -> Response:
        """Put Message (POST), Get Messages, Peek Messages (``peekonly=true``), Clear Messages (DELETE)."""
        name = unquote(name)
        needed = {"POST": "a", "DELETE": "p"}.get(request.method, "p" if request.query.get("peekonly") != "true" else "r")
        found = self._queue(self._admit(request, needed, name), name)
        live = self._live(found)
        moment = time.time()
        if request.method == "DELETE":
            found["messages"] = []
            self.arm.save()
            return done(204)
        if request.method == "POST":
            text = _message_text(request)
            ttl = _seconds(request, "messagettl", _DEFAULT_TTL, 1, None)
            visible = _seconds(request, "visibilitytimeout", 0, 0, _MOST_VISIBILITY)
            message = {"id": str(uuid.uuid4()), "text": text, "inserted": moment,
                       "expires": _NEVER if ttl == -1 else moment + ttl, "visible_at": moment + visible,
                       "receipt": _receipt(), "dequeue": 0}
            live.append(message)
            self.arm.save()
            answer = xml_answer(f"<QueueMessagesList>{_message_xml(message, text=False)}</QueueMessagesList>")
            answer.status = 201
            return answer
        count = _seconds(request, "numofmessages", 1, 1, 32)
        ready = [m for m in live if m["visible_at"] <= moment][:count]
        if request.query.get("peekonly") == "true":
            return xml_answer("<QueueMessagesList>" + "".join(_message_xml(m, receipt=False) for m in ready)
                              + "</QueueMessagesList>")
        hidden_for = _seconds(request, "visibilitytimeout", 30, 1, _MOST_VISIBILITY)
        for taken in ready:
            taken.update(visible_at=moment + hidden_for, receipt=_receipt(), dequeue=taken["dequeue"] + 1)
        self.arm.save()
        return xml_answer("<QueueMessagesList>" + "".join(_message_xml(m) for m in ready) + "</QueueMessagesList>")

    def message(self, request: Request, name: str, message_id: str) -> Response:
        """Delete Message and Update Message, each naming the pop receipt of the message's last get."""
        name = unquote(name)
        found = self._queue(self._admit(request, "p" if request.method == "DELETE" else "u", name), name)
        message = next((m for m in self._live(found) if m["id"] == message_id), None)
        if message is None:
            raise StorageError(404, "MessageNotFound", "The specified message does not exist.")
        if request.query.get("popreceipt") != message["receipt"]:
            raise StorageError(400, "PopReceiptMismatch", "The specified pop receipt did not match the pop receipt for a "
                               "dequeued message.")
        if request.method == "DELETE":
            found["messages"].remove(message)
            self.arm.save()
            return done(204)
        hidden_for = _seconds(request, "visibilitytimeout", -1, 0, _MOST_VISIBILITY)
        if hidden_for < 0:
            raise StorageError(400, "MissingRequiredQueryParameter", "A query parameter that's mandatory for this request is "
                               "not specified.", QueryParameterName="visibilitytimeout")
        if small_body(request).strip():
            message["text"] = _message_text(request)
        message.update(visible_at=time.time() + hidden_for, receipt=_receipt())
        self.arm.save()
        return done(204, extra={"x-ms-popreceipt": message["receipt"], "x-ms-time-next-visible": _http_time(message["visible_at"])})


def _metadata(request: Request) -> dict[str, str]:
    return {k[len("x-ms-meta-"):]: v for k, v in request.headers.items() if k.startswith("x-ms-meta-")}


def _receipt() -> str:
    return base64.b64encode(uuid.uuid4().bytes).decode()


def _message_text(request: Request) -> str:
    body = small_body(request)
    if len(body) > _MOST_MESSAGE + 1024:
        raise StorageError(413, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum permissible "
                           "limit.", MaxLimit=str(_MOST_MESSAGE))
    try:
        text = ElementTree.fromstring(body).findtext("MessageText")
    except ElementTree.ParseError:
        raise StorageError(400, "InvalidXmlDocument", "XML specified is not syntactically valid.") from None
    if text is None:
        raise invalid_header("MessageText", "")
    if len(text.encode()) > _MOST_MESSAGE:
        raise StorageError(400, "MessageTooLarge", "The message exceeds the maximum allowed size.")
    return text


def _message_xml(message: dict[str, Any], text: bool = True, receipt: bool = True) -> str:
    parts = [f"<MessageId>{message['id']}</MessageId>", f"<InsertionTime>{_http_time(message['inserted'])}</InsertionTime>",
             f"<ExpirationTime>{_http_time(message['expires'])}</ExpirationTime>"]
    if receipt:
        parts += [f"<PopReceipt>{message['receipt']}</PopReceipt>",
                  f"<TimeNextVisible>{_http_time(message['visible_at'])}</TimeNextVisible>"]
    if text:
        parts += [f"<DequeueCount>{message['dequeue']}</DequeueCount>", f"<MessageText>{escape(message['text'])}</MessageText>"]
    return "<QueueMessage>" + "".join(parts) + "</QueueMessage>"
