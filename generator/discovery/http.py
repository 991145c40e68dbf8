"""HTTP for discovery: verified TLS, timeouts, bounded retries, one-line errors.

Retries, backoff and Retry-After are urllib3's ``Retry`` on the session's adapter; what is ours is the
trust (``trust.tls_context``) and turning each failure into one line that names its cause.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader, MaxRetryError, NameResolutionError
from urllib3.util.retry import Retry

from generator._util.redact import redact
from generator.errors import ScaffoldError

RETRY_STATUSES = (429, 502, 503, 504)
MAX_RETRY_AFTER = 30  # seconds; a longer Retry-After is waited this long at most (and never beyond --timeout)


class _Retry(Retry):
    """urllib3's policy, with two exceptions: an unreadable Retry-After (``garbage``, ``-5``) counts as
    absent (the backoff applies), and an unknown host name fails at once (asking DNS again will not help)."""

    def parse_retry_after(self, retry_after: str) -> float:
        try:
            return super().parse_retry_after(retry_after)
        except InvalidHeader:
            return 0.0

    def increment(self, method: Any = None, url: Any = None, response: Any = None, error: Any = None,
                  _pool: Any = None, _stacktrace: Any = None) -> _Retry:
        if isinstance(error, NameResolutionError):
            raise MaxRetryError(_pool, url, error) from error
        return super().increment(method, url, response, error, _pool, _stacktrace)


_attempt_limit = threading.local()  # .seconds: the longest one try may take, for the requests this thread sends


class _TimeBoundSocket(ssl.SSLSocket):
    """A TLS socket whose answer must arrive whole within the attempt limit of the thread sending the request.

    Socket timeouts bound each read, so a server that drips its answer a byte a second would hold a request
    for ever; here every read waits at most what is left of the time since the request was last sent.
    """

    _deadline: float | None = None
    _wanted: float | None = None

    def settimeout(self, value: float | None) -> None:
        self._wanted = value
        super().settimeout(value)

    def _arm(self) -> None:
        limit = getattr(_attempt_limit, "seconds", None)
        self._deadline = None if limit is None else time.monotonic() + limit

    def send(self, *args: Any, **kwargs: Any) -> int:
        self._arm()
        return super().send(*args, **kwargs)

    def sendall(self, *args: Any, **kwargs: Any) -> None:
        self._arm()
        return super().sendall(*args, **kwargs)

    def _bounded(self, read: Any, *args: Any) -> Any:
        if self._deadline is None:
            return read(*args)
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out: the whole answer did not arrive within the timeout")
        super().settimeout(left if self._wanted is None else min(self._wanted, left))
        try:
            return read(*args)
        finally:
            super().settimeout(self._wanted)

    def recv(self, *args: Any) -> bytes:
        return self._bounded(super().recv, *args)

    def recv_into(self, *args: Any) -> int:
        return self._bounded(super().recv_into, *args)

    def read(self, *args: Any) -> Any:
        return self._bounded(super().read, *args)


def _trusted_once(context: ssl.SSLContext, location: str, directory: bool) -> bool:
    """Whether the CA file (or ``directory``) at ``location`` is in ``context``, loaded now if it was not; False when it
    cannot be loaded (urllib3 then tries, and says why)."""
    loaded: set[tuple[str, bool]] = context.__dict__.setdefault("azs_loaded_locations", set())
    if (location, directory) not in loaded:
        try:
            context.load_verify_locations(capath=location) if directory else context.load_verify_locations(cafile=location)
        except (OSError, ssl.SSLError):
            return False
        loaded.add((location, directory))
    return True


def trusted_session(context: ssl.SSLContext, retry: Retry | None = None, attempt_limit: float | None = None) -> requests.Session:
    """A requests session whose every HTTPS connection verifies with ``context`` (and retries per ``retry``);
    with ``attempt_limit``, each try of a request ends within that many seconds, however slowly its answer comes."""
    context.sslsocket_class = _TimeBoundSocket  # inert for threads that set no limit

    class _Adapter(HTTPAdapter):
        def send(self, *args: Any, **kwargs: Any) -> Any:
            previous = getattr(_attempt_limit, "seconds", None)
            _attempt_limit.seconds = attempt_limit
            try:
                return super().send(*args, **kwargs)
            finally:
                _attempt_limit.seconds = previous

        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["ssl_context"] = context
            super().init_poolmanager(*args, **kwargs)

        def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
            # requests hands each connection pool the bundle REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE, else certifi's) names,
            # and urllib3 loads it into the context again for every new connection (a big bundle: tens of milliseconds of
            # CPU each). Added to the context once a process instead: the same trust, the user's bundle kept.
            super().cert_verify(conn, url, verify, cert)
            for attribute, directory in (("ca_certs", False), ("ca_cert_dir", True)):
                location = getattr(conn, attribute, None)
                if location and _trusted_once(context, location, directory):
                    setattr(conn, attribute, None)

        def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
            # requests builds a proxy's pools without the pool manager's settings: through HTTPS_PROXY the
            # Stack's root CA would be forgotten (and the connection refused) unless it is handed on here too.
            proxy_kwargs.setdefault("ssl_context", context)
            return super().proxy_manager_for(proxy, **proxy_kwargs)

    session = requests.Session()
    session.mount("https://", _Adapter(max_retries=retry or 0))
    return session


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


class StackHttp:
    """A small JSON client for a Stack's endpoints.

    Every request verifies TLS with ``trust`` (the public CAs plus the Stack's root), gives up after
    ``timeout`` seconds per attempt, and is retried up to ``retries`` times on 429/502/503/504 and
    connection failures, honouring Retry-After up to :data:`MAX_RETRY_AFTER` (and ``timeout``).
    ``root_ca`` is the Stack's root CA file the user gave, for messages. TLS is never switched off.
    """

    def __init__(self, trust: ssl.SSLContext, timeout: float = 15.0, retries: int = 3, backoff: float = 0.5,
                 root_ca: str | None = None) -> None:
        self.timeout = timeout
        self.retries = retries
        self.root_ca = root_ca
        retry = _Retry(total=retries, connect=retries, read=retries, status=retries, other=0, redirect=False,
                       status_forcelist=RETRY_STATUSES, backoff_factor=backoff, raise_on_status=False,
                       respect_retry_after_header=True, retry_after_max=int(min(MAX_RETRY_AFTER, max(1.0, timeout))))
        self.session = trusted_session(trust, retry, attempt_limit=timeout)
        self.session.headers["User-Agent"] = "azs-scaffold"

    def request(self, method: str, url: str, what: str, headers: dict[str, str] | None = None,
                accept: tuple[int, ...] = (200,), **kwargs: Any) -> HttpResponse:
        """Send (retried by the session's policy); the JSON body, or a one-line error."""
        try:
            response = self.session.request(method, url, headers=headers, timeout=self.timeout, allow_redirects=False, **kwargs)
        except requests.exceptions.SSLError as exc:
            raise DiscoveryError(self._tls_message(url, what, exc)) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                requests.exceptions.ChunkedEncodingError) as exc:
            refusal = _proxy_refusal(exc)
            if refusal:
                proxy = requests.utils.get_environ_proxies(url).get(urlsplit(url).scheme, "")
                raise DiscoveryError(f"{what}: the proxy {_origin(proxy) if '://' in proxy else proxy} did not open a tunnel "
                                     f"to {_origin(url)} ({refusal}); check HTTPS_PROXY and NO_PROXY") from None
            problem = _connection_problem(exc)
            if problem.startswith("cannot resolve"):
                raise DiscoveryError(f"{what}: {problem} {urlsplit(url).hostname}; check the endpoint's spelling and your DNS") from None
            attempts = "" if isinstance(exc, requests.exceptions.ChunkedEncodingError) else f" ({self.retries + 1} attempts)"
            raise DiscoveryError(
                f"{what}: {problem} at {_origin(url)}{attempts}; check the endpoint URL, "
                "that the Stack is reachable from here, and any proxy settings"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise DiscoveryError(f"{what}: request to {url} failed: {type(exc).__name__}") from None
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
            except (ValueError, RecursionError):  # RecursionError: JSON nested beyond reason
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
        if is_untrusted_certificate(text):
            reason = tls_reason(text)
            if self.root_ca:
                return (
                    f"{what}: TLS verification of {_origin(url)} failed ({reason}) with the public CAs and the CA file "
                    f"{self.root_ca}; is it the Stack's root CA (AzureStackSelfSignedRootCert on an ASDK)?"
                )
            return (
                f"{what}: TLS verification of {_origin(url)} failed ({reason}); if the Stack uses its own root CA "
                "(as every ASDK does), export it as PEM and pass it with --root-ca PEM"
            )
        return f"{what}: TLS handshake with {_origin(url)} failed; is it an HTTPS endpoint? ({text[:120]})"


# What a failure's text says of the network, in words, however requests, urllib3 or the Azure SDK phrase it:
# the first row with a marker in the lower-cased text wins (a timeout's text may also name the refused retry).
_TRANSPORT_FAILURES = (
    (("timed out", "timeouterror"), "no answer within the timeout"),
    (("nameresolutionerror", "name or service not known", "getaddrinfo failed"), "cannot resolve host"),
    (("connection refused", "connectionrefusederror"), "connection refused"),
    (("connection reset", "connectionreseterror", "remotedisconnected"), "connection reset"),
    (("timeout",), "no answer within the timeout"),
    (("max retries exceeded",), "could not connect"),
)


def transport_failure(text: str) -> str | None:
    """What went wrong on the way, in words ("connection refused", "cannot resolve host", ...), as the failure's
    text tells it; None when it tells of no network problem."""
    lowered = text.lower()
    return next((words for markers, words in _TRANSPORT_FAILURES if any(marker in lowered for marker in markers)), None)


def is_untrusted_certificate(text: str) -> bool:
    """True when the failure's text says TLS verification refused the server's certificate."""
    lowered = text.lower()
    return "certificate_verify_failed" in lowered or "certificate verify failed" in lowered


def tls_reason(text: str) -> str:
    """Why TLS verification refused the certificate, as OpenSSL put it ("self-signed certificate in chain", ...)."""
    return text.split("certificate verify failed:", 1)[-1].split("(_ssl")[0].strip(" ')\"") or "unknown reason"


def _connection_problem(exc: Exception) -> str:
    """What went wrong with the connection, in words."""
    if isinstance(exc, requests.exceptions.Timeout):
        return "no answer within the timeout"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the answer was cut off"
    return transport_failure(str(exc)) or "could not connect"


def _proxy_refusal(exc: Exception) -> str | None:
    """What a proxy (HTTPS_PROXY) said when it would not tunnel, in words; None when the proxy is not to blame
    (urllib3 calls any failure on a connection it has already closed a ProxyError, a reset from the Stack too)."""
    if not isinstance(exc, requests.exceptions.ProxyError):
        return None
    text = str(exc)
    refused = re.search(r"Tunnel connection failed: ([^'\")]+)", text)
    if refused:
        return f"it answered {refused.group(1).strip()}"
    if "Connection refused" in text or "NameResolutionError" in text:
        return "it could not be reached"
    return None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line (servers put CR/LF and trace ids in their messages), cut at ``limit``."""
    # Redacted before it is cut: a cut through a quoted secret could leave less of it than redaction recognises.
    flat = redact(" ".join(str(text).split()))
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 3]
    # At a word's end where there is one near: a reason cut mid-word ("self-si...") reads as another word.
    return (cut.rsplit(" ", 1)[0] if " " in cut[limit // 2:] else cut) + "..."


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
