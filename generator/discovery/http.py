"""HTTP for discovery: verified TLS, timeouts, bounded retries, one-line errors."""

from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

import requests

from generator.errors import ScaffoldError

RETRY_STATUSES = (429, 502, 503, 504)
MAX_RETRY_AFTER = 30.0


class DiscoveryError(ScaffoldError):
    """Discovery could not learn something it needs from the Stack."""


class HttpStatusError(DiscoveryError):
    """The server answered with an error status; ``status`` and ``body`` say which."""

    def __init__(self, message: str, status: int, body: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = body

    @property
    def arm_code(self) -> str | None:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return error.get("code") if isinstance(error, dict) else None

    @property
    def arm_message(self) -> str:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return str(error.get("message", "")) if isinstance(error, dict) else ""


@dataclass
class HttpResponse:
    status: int
    headers: Any
    body: Any  # parsed JSON


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class StackHttp:
    """A small JSON client for a Stack's endpoints.

    ``session`` verifies with the public CAs plus the Stack's root (``trust.trusted_session``);
    ``ca_file`` is the Stack's root CA file the user gave, for messages. TLS is never switched off.
    """

    def __init__(
        self,
        session: requests.Session,
        timeout: float = 15.0,
        retries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        ca_file: str | None = None,
    ) -> None:
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.ca_file = ca_file
        self.session = session
        self.session.headers["User-Agent"] = "azs-scaffold"

    def request(self, method: str, url: str, what: str, headers: dict[str, str] | None = None,
                accept: tuple[int, ...] = (200,), **kwargs: Any) -> HttpResponse:
        """Send, retrying 429/502/503/504 and connection failures; JSON body or one-line error."""
        attempt = 0
        while True:
            try:
                response = self.session.request(
                    method, url, headers=headers, timeout=self.timeout, allow_redirects=False, **kwargs,
                )
            except requests.exceptions.SSLError as exc:
                raise DiscoveryError(self._tls_message(url, what, exc)) from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                    requests.exceptions.ChunkedEncodingError) as exc:
                problem = _connection_problem(exc)
                if problem.startswith("cannot resolve"):
                    raise DiscoveryError(f"{what}: {problem} {urlsplit(url).hostname}; check the endpoint's spelling and your DNS") from None
                if attempt < self.retries:
                    self.sleep(self.backoff * 2**attempt)
                    attempt += 1
                    continue
                raise DiscoveryError(
                    f"{what}: {problem} at {_origin(url)} ({attempt + 1} attempts); check the endpoint URL, "
                    "that the Stack is reachable from here, and any proxy settings"
                ) from None
            except requests.exceptions.RequestException as exc:
                raise DiscoveryError(f"{what}: request to {url} failed: {type(exc).__name__}") from None
            if response.status_code in RETRY_STATUSES and attempt < self.retries:
                wait = _retry_after(response.headers.get("Retry-After"))
                self.sleep(min(MAX_RETRY_AFTER, wait if wait is not None else self.backoff * 2**attempt))
                attempt += 1
                continue
            return self._result(response, url, what, accept)

    def get(self, url: str, what: str, **kwargs: Any) -> HttpResponse:
        return self.request("GET", url, what, **kwargs)

    def _result(self, response: requests.Response, url: str, what: str, accept: tuple[int, ...]) -> HttpResponse:
        if 300 <= response.status_code < 400:
            target = response.headers.get("Location", "?")
            raise DiscoveryError(
                f"{what}: {url} redirects to {target}; give the endpoint it redirects to, if you trust it"
            )
        body: Any = None
        if response.content:
            try:
                body = json.loads(response.content)
            except ValueError:
                if response.status_code in accept:
                    raise DiscoveryError(
                        f"{what}: {url} answered something that is not JSON "
                        f"({_describe_content(response)}); is this an Azure Stack Hub Resource Manager endpoint?"
                    ) from None
        if response.status_code not in accept:
            raise HttpStatusError(
                f"{what}: {url} answered HTTP {response.status_code}{_error_detail(body)}",
                response.status_code,
                body,
            )
        return HttpResponse(response.status_code, response.headers, body)

    def _tls_message(self, url: str, what: str, exc: Exception) -> str:
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            reason = text.split("certificate verify failed:", 1)[-1].split("(_ssl")[0].strip(" ')\"") or "unknown reason"
            if self.ca_file:
                return (
                    f"{what}: TLS verification of {_origin(url)} failed ({reason}) with the public CAs and the CA file "
                    f"{self.ca_file}; is it the Stack's root CA (AzureStackSelfSignedRootCert on an ASDK)?"
                )
            return (
                f"{what}: TLS verification of {_origin(url)} failed ({reason}); if the Stack uses its own root CA "
                "(as every ASDK does), export it as PEM and pass it with --ca-cert PEM"
            )
        return f"{what}: TLS handshake with {_origin(url)} failed; is it an HTTPS endpoint? ({text[:120]})"


def _connection_problem(exc: Exception) -> str:
    """What went wrong with the connection, in words."""
    if isinstance(exc, requests.exceptions.Timeout):
        return "no answer within the timeout"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the answer was cut off"
    text = str(exc)
    if "NameResolutionError" in text or "Name or service not known" in text or "getaddrinfo failed" in text:
        return "cannot resolve host"
    if "Connection refused" in text or "ConnectionRefusedError" in text:
        return "connection refused"
    if "Connection reset" in text or "ConnectionResetError" in text or "RemoteDisconnected" in text:
        return "connection reset"
    return "could not connect"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line (servers put CR/LF and trace ids in their messages), cut at ``limit``."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _error_detail(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return f" {error.get('code', '')}: {one_line(error.get('message', ''))}"
        if isinstance(error, str):
            return f" {error}: {one_line(body.get('error_description', ''))}"
    return ""


def _describe_content(response: requests.Response) -> str:
    kind = response.headers.get("Content-Type", "no content type").split(";")[0]
    return f"{kind}, {len(response.content)} bytes"
