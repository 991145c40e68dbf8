"""The request path, as an ordered chain of small steps (localstack's ``aws/app.py`` handler chain is the model).

After the connection's TLS (``listeners``, and through the proxy: ``proxy``), every request passes, in this order:

1. ``parse``: the head into a :class:`Request`, the body read within its kind's limit (``refusals``);
2. ``address``: which Resource Manager (tenant or operator's) or vault the Host names;
3. ``route``: the route of the path on this listener;
4. ``control``: the emulator's own fault control, answered here (never logged, never faulted);
5. ``log``: the request log (what a client really sent);
6. ``faults``: an injected fault answers instead, or delays or breaks the answer;
7. in one transaction of the state: ``require_route``, ``authenticate``, ``check_subscription``, ``check_api_version``,
   ``authorize`` (the caller's role), ``guard`` (locks, and every service's check), ``settle`` (deployments run
   when the next request arrives), ``serve`` (the route's handler);

then the answer: ``shape_error`` (ARM's or OAuth's error shape, or 500 for a bug), ``delay`` and ``write``.
A step answers by setting ``exchange.response``; the steps after it are skipped.
"""

from __future__ import annotations

import re
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from azs_emulator import arm_errors, refusals
from azs_emulator.faults import DROP, NON_JSON, REDIRECT, REDIRECT_TARGET, REPLACE, TRANSIENT, TRUNCATE
from azs_emulator.protocol import ArmError, OAuthError, Request, Response
from azs_emulator.routing import ARM, ARM_TOKEN, BLOB, GRAPH_TOKEN, VAULT_TOKEN, Match
from azs_emulator.services.blob_content import SPOOL_ABOVE, spool_body
from azs_emulator.services.stack import add_arm_headers
from azs_emulator.wire import BodyTooLarge, ExchangeHandler, InvalidLength, content_length, read_body, reset_connection, send

if TYPE_CHECKING:
    from azs_emulator.server import Emulator

_HTML_ERROR_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>Bad Gateway</h1><p>The proxy server received an invalid response.</p></body></html>"
)


@dataclass
class Exchange:
    """One request on its way through the chain, and what the steps decided about it."""

    handler: ExchangeHandler
    request: Request | None = None
    match: Match | None = None
    response: Response | None = None
    delay: float = 0.0  # seconds before the answer is written (a latency fault)
    drip: float = 0.0  # seconds between the answer's bytes (a drip fault)
    truncate: bool = False  # half the body, then close
    dropped: bool = False  # the connection was reset: nothing is written
    answered_by_services: bool = False  # past the faults: the answer is Resource Manager's, with its headers

    @property
    def listener(self) -> Any:
        return self.handler.listener

    @property
    def req(self) -> Request:
        assert self.request is not None  # set by the first step
        return self.request


Step = Callable[[Exchange], None]


class RequestChain:
    """The ordered steps of one emulator's request path (see the module's docstring)."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.steps: tuple[Step, ...] = (self.parse, self.address, self.route, self.control, self.log, self.faults,
                                        self.under_state_lock(self.require_route, self.authenticate, self.check_subscription,
                                                              self.check_api_version, self.authorize, self.guard,
                                                              self.settle, self.serve))
        self.answer_steps: tuple[Step, ...] = (self.arm_headers, self.delay, self.write, self.clean_up)

    def handle(self, handler: ExchangeHandler) -> None:
        """Take one request through every step, then write its answer."""
        exchange = Exchange(handler)
        for step in self.steps:
            try:
                step(exchange)
            except Exception as error:  # noqa: BLE001 - every failure is answered, in the service's shape
                self.shape_error(exchange, error)
            if exchange.response is not None or exchange.dropped:
                break
        for step in self.answer_steps:
            step(exchange)

    def under_state_lock(self, *steps: Step) -> Step:
        """``steps`` in order, in one transaction of the state (one request changes the state at a time)."""
        def locked(exchange: Exchange) -> None:
            assert self.emulator.state is not None  # created before any listener serves
            exchange.answered_by_services = True
            # One request's unit of work: committed as its handler returns, nothing of it kept if it raises.
            with self.emulator.state.transaction():
                for step in steps:
                    step(exchange)
                    if exchange.response is not None:
                        return
        return locked

    # -- before the services ---------------------------------------------------------------------

    def parse(self, exchange: Exchange) -> None:
        handler, listener = exchange.handler, exchange.listener
        url = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in handler.headers.items()}
        limit = refusals.limit_for(listener.roles, handler.command, query, headers)
        blob_host = BLOB in listener.roles
        body, body_file = b"", None
        try:
            length = content_length(handler)
            if blob_host and length is not None and SPOOL_ABOVE < length <= limit:
                # A large blob body goes to disk a piece at a time, never whole into memory (services/blob_content.py).
                assert self.emulator.state is not None
                body_file = spool_body(handler.rfile, length, self.emulator.state.directory)
            else:
                body = read_body(handler, limit)
        except InvalidLength:
            exchange.response = refusals.invalid_length()
            return
        except BodyTooLarge:
            exchange.response = refusals.too_large(listener.roles, limit)
            return
        # ARM treats an empty segment as absent: the SDK sends ``{ns}//{type}`` for a generic resource without a
        # parent path. A blob's name may hold ``//`` (and Shared Key signs the path as sent): kept there.
        exchange.request = Request(method=handler.command, path=url.path if blob_host else re.sub(r"/{2,}", "/", url.path),
                                   query=query, headers=headers, body=body, base_url=listener.base_url, vault=listener.vault,
                                   body_file=body_file, client_ip=str(handler.client_address[0]))

    def address(self, exchange: Exchange) -> None:
        """Names layout: which Resource Manager (tenant or operator's) or which vault the Host header names."""
        names = exchange.listener.names
        if names is None:
            return
        request = exchange.req
        host = request.headers.get("host", "").rsplit(":", 1)[0].lower().rstrip(".")
        if host == names.admin_management:
            request.admin = True
        elif host.endswith("." + names.vault_suffix):
            request.vault = host[: -len(names.vault_suffix) - 1]

    def route(self, exchange: Exchange) -> None:
        request = exchange.req
        exchange.match = self.emulator.router.find(request, exchange.listener.roles, admin_prefix=exchange.listener.admin_prefix)
        if request.admin:
            assert self.emulator.ctx is not None  # bound before any listener serves
            request.base_url = self.emulator.ctx.arm_base(admin=True)

    def control(self, exchange: Exchange) -> None:
        if exchange.match is not None and exchange.match.route.control:
            exchange.answered_by_services = True
            exchange.response = exchange.match.route.handler(exchange.req)

    def log(self, exchange: Exchange) -> None:
        self.emulator.request_log.append((exchange.req.method, exchange.req.path))

    def faults(self, exchange: Exchange) -> None:
        injector, path = self.emulator.faults, exchange.req.path
        exchange.delay, exchange.drip = injector.latency_for(path), injector.drip_for(path)
        fault = injector.take(path)
        # No fault, or a truncated answer: the request is handled as it arrives (its token checked then, as ARM
        # does); the answer is slow.
        exchange.truncate = fault == TRUNCATE
        if fault is None or fault == TRUNCATE:
            return
        time.sleep(exchange.delay)
        exchange.delay = 0.0
        if fault == DROP:
            reset_connection(exchange.handler)
            exchange.dropped = True
        elif fault == TRANSIENT:
            status, retry_after = injector.transient_answer()
            code = "TooManyRequests" if status == 429 else "ServiceUnavailable"
            raise ArmError(status, code, "The service is temporarily unavailable; retry later.", {"Retry-After": retry_after})
        elif fault == NON_JSON:
            exchange.response = Response(502, _HTML_ERROR_PAGE, content_type="text/html")
        elif fault == REDIRECT:
            exchange.response = Response(307, None, {"Location": REDIRECT_TARGET + exchange.req.path.lstrip("/")})
        elif fault == REPLACE:
            status, body, content_type = injector.replacement()
            exchange.response = Response(status, body, content_type=content_type)

    # -- Resource Manager's checks, in its order -------------------------------------------------

    def require_route(self, exchange: Exchange) -> None:
        if exchange.match is None:
            request = exchange.req
            # Resource Manager checks the token before it looks for the path: a request without one is 401 on any path
            # (real-stack: reference section 7); only then is an unknown one 404.
            if ARM in exchange.listener.roles and request.path.lower().startswith(("/subscriptions", "/providers", "/tenants")):
                self.emulator.identity.authenticate(request, request.admin)
            raise arm_errors.no_route(request.path)

    def authenticate(self, exchange: Exchange) -> None:
        """The bearer token the route asks for: Resource Manager's (tenant or operator's), a vault's, the directory's."""
        assert exchange.match is not None
        identity, request, auth = self.emulator.identity, exchange.req, exchange.match.route.auth
        if auth == ARM_TOKEN:
            identity.authenticate(request, request.admin)
        elif auth == VAULT_TOKEN:
            identity.authenticate_vault(request)
        elif auth == GRAPH_TOKEN:
            identity.authenticate_graph(request)

    def check_subscription(self, exchange: Exchange) -> None:
        assert exchange.match is not None
        if exchange.match.route.subscription:
            self.emulator.arm.check_subscription(exchange.match.groups[0], exchange.req.admin)

    def check_api_version(self, exchange: Exchange) -> None:
        """The api-version of the addressed resource type, as the release serves it."""
        assert exchange.match is not None
        api = exchange.match.route.api_of(exchange.match.groups)
        if api is not None:
            self.emulator.arm.check_api_version(exchange.req, *api)

    def _tenant_request(self, exchange: Exchange) -> bool:
        """A tenant's Resource Manager request in a subscription: what roles, locks and policies apply to."""
        assert exchange.match is not None
        request = exchange.req
        return exchange.match.route.auth == ARM_TOKEN and request.path.lower().startswith("/subscriptions/") and not request.admin

    def authorize(self, exchange: Exchange) -> None:
        """The caller's role allows the action (``services/authorization.py``)."""
        arm = self.emulator.arm
        if arm.authorize is not None and self._tenant_request(exchange):
            assert exchange.match is not None
            arm.authorize(exchange.req, exchange.match)

    def guard(self, exchange: Exchange) -> None:
        """Every service's check before a tenant's request (management locks, ...)."""
        if self._tenant_request(exchange):
            assert exchange.match is not None
            for guard in self.emulator.arm.guards:
                guard(exchange.req, exchange.match)

    def settle(self, exchange: Exchange) -> None:
        """Deployments run when the next Resource Manager request arrives."""
        assert exchange.match is not None
        if exchange.match.route.listener == ARM:
            self.emulator.deployments.settle(exchange.req)

    def serve(self, exchange: Exchange) -> None:
        assert exchange.match is not None
        exchange.response = exchange.match.route.handler(exchange.req, *exchange.match.groups)

    # -- the answer ------------------------------------------------------------------------------

    def shape_error(self, exchange: Exchange, error: Exception) -> None:
        if isinstance(error, (ArmError, OAuthError)):
            exchange.response = error.response()
        elif isinstance(error, RecursionError):  # a body parsed, but nested too deeply for the template evaluator
            exchange.response = ArmError(400, "InvalidTemplate", "The template is nested deeper than the maximum depth.").response()
        elif isinstance(error, OSError) and exchange.request is None:  # the client went away while sending
            reset_connection(exchange.handler)
            exchange.dropped = True
        else:  # a bug in the emulator must not kill the connection silently
            method, path = exchange.handler.command, urlsplit(exchange.handler.path).path
            sys.stderr.write(f"emulator: internal error on {method} {path}: {error!r}\n")
            if self.emulator.verbose:
                sys.stderr.write("".join(traceback.format_exception(error)))
            exchange.response = ArmError(500, "InternalServerError", "The emulator failed to process the request.").response()

    def arm_headers(self, exchange: Exchange) -> None:
        """The headers a Stack's Resource Manager sends with every answer it gives (``services/stack.py``)."""
        match, response = exchange.match, exchange.response
        if response is not None and exchange.answered_by_services and (match is None or match.route.listener == ARM):
            add_arm_headers(response, exchange.req, self.emulator.arm.location)

    def delay(self, exchange: Exchange) -> None:
        if exchange.delay and not exchange.dropped:
            time.sleep(exchange.delay)

    def write(self, exchange: Exchange) -> None:
        if exchange.response is not None and not exchange.dropped:
            send(exchange.handler, exchange.response, truncate=exchange.truncate, drip=exchange.drip)

    def clean_up(self, exchange: Exchange) -> None:
        """A body spooled to disk is gone once answered."""
        if exchange.request is not None and exchange.request.body_file is not None:
            exchange.request.body_file.unlink(missing_ok=True)
