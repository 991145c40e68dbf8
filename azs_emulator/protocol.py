"""Requests, responses and the error shapes ARM and the identity services answer with."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Request:
    """One HTTP request as the emulator's services see it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    base_url: str  # scheme://host[:port][/admin]: the Resource Manager (or listener) the client addressed
    admin: bool = False  # addressed to the operator's Resource Manager (adminmanagement.<region>.<fqdn>, or ``/admin``)
    vault: str = ""  # the vault whose data-plane host was addressed
    # A large body on the blob host, spooled to this file instead of ``body`` (services/blob_content.py); removed
    # once the request is answered unless the handler took it over.
    body_file: Path | None = None
    client_ip: str = ""  # the address the request came from (a SAS's ``sip`` is checked against it)

    @property
    def api_version(self) -> str | None:
        return self.query.get("api-version")

    def json(self) -> Any:
        """The body as JSON, read as leniently as Resource Manager reads it: Azure CLI sends deployments as JSONC
        with an unquoted ``template:`` key, comments and trailing commas. A malformed body is the client's error (400)."""
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except RecursionError:
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: "
                           "it is nested deeper than the maximum depth.") from None
        except ValueError:
            pass
        import json5

        try:
            return json5.loads(self.body.decode("utf-8-sig"))
        except RecursionError:
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: "
                           "it is nested deeper than the maximum depth.") from None
        except ValueError:
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.") from None

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object, as a Resource Manager PUT or PATCH carries it: anything else is the client's error (400)."""
        body = self.json()
        if not isinstance(body, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.")
        return body

    def properties(self) -> dict[str, Any] | None:
        """The body's ``properties`` object, as a Resource Manager PUT carries it (None: no such object)."""
        body = self.json()
        props = body.get("properties") if isinstance(body, dict) else None
        return props if isinstance(props, dict) else None

    def form(self) -> dict[str, str]:
        """The body as an ``application/x-www-form-urlencoded`` form."""
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True).items()}


class StreamedBody:
    """An answer's body written a piece at a time (blob content): ``length`` bytes from :meth:`chunks`; the server
    calls :meth:`close` once it is written, or not (a HEAD, a client gone)."""

    length: int

    def chunks(self) -> Iterator[bytes]:
        raise NotImplementedError

    def close(self) -> None:
        """Let go of what the body holds (it is not read after)."""


@dataclass
class Response:
    """One HTTP response; ``body`` is serialised as JSON unless it is already bytes or a :class:`StreamedBody`.
    ``content_type`` None: no Content-Type header (the storage services send none on an answer without a body)."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "application/json; charset=utf-8"

    def encoded_body(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, StreamedBody):  # whole, only for the faults that rewrite an answer
            try:
                return b"".join(self.body.chunks())
            finally:
                self.body.close()
        return json.dumps(self.body).encode()


class ArmError(Exception):
    """An error answered as ARM does: ``{"error": {"code": ..., "message": ...}}``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 details: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.error_details = details  # ARM's ``error.details`` (the ``target`` namespace of MissingSubscriptionRegistration)

    def response(self) -> Response:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.error_details:
            error["details"] = self.error_details
        return Response(self.status, {"error": error}, dict(self.headers))


class OAuthError(Exception):
    """An error answered as Azure AD and ADFS do: ``{"error": ..., "error_description": ...}``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description

    def response(self) -> Response:
        return Response(self.status, {"error": self.error, "error_description": self.description})


def without_nulls(value: Any) -> Any:
    """A request body without its ``null`` members, at any depth: Resource Manager and Key Vault read them as not
    given (Azure CLI and the SDKs send every unset field as null)."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value
