"""The emulator: its services, its life cycle and what clients need to know; requests take the path of
``request_chain``, on connections held by ``connections``, on the listeners of ``listeners``."""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path
from typing import Any

from azs_emulator.arm_core import Arm
from azs_emulator.config import ADFS, AZURE, LOOPBACK, EmulatorConfig, EmulatorContext
from azs_emulator.connections import Connection, ConnectionHost, handshake
from azs_emulator.errors import EmulatorError
from azs_emulator.faults import FaultInjector, FaultPlan
from azs_emulator.identity import IdentityService
from azs_emulator.info_file import with_released_keys
from azs_emulator.listeners import Listeners
from azs_emulator.private_file import write_private_file
from azs_emulator.protocol import ArmError, Request, Response
from azs_emulator.proxy import HttpsProxy
from azs_emulator.refusals import busy
from azs_emulator.request_chain import RequestChain
from azs_emulator.routing import ANYONE, Router, route
from azs_emulator.services.registry import Services
from azs_emulator.state import EmulatorState
from azs_emulator.wire import ExchangeHandler, send

FAULTS_PATH = "/_emulator/faults"
PUBLIC_BUNDLE_FILE = "public-bundle.pem"


class Emulator:
    """An Azure Stack Hub (or global Azure) on loopback; use as a context manager or start/stop."""

    def __init__(self, config: EmulatorConfig | None = None, verbose: bool = False) -> None:
        self.config = config or EmulatorConfig()
        self.config.validate()
        self.verbose = verbose
        self.faults = FaultInjector(self.config.faults)
        # (method, path) of recent requests: lets tests and users see what a client really sent.
        self.request_log: collections.deque[tuple[str, str]] = collections.deque(maxlen=10000)
        self.state: EmulatorState | None = None
        self.ctx: EmulatorContext | None = None
        self.chain = RequestChain(self)
        self.connections = ConnectionHost(self._serve_connection, self._refuse_connection,
                                          keep_alive=self.config.keep_alive_timeout, workers=self.config.workers,
                                          backlog=self.config.workers * 8)
        self.listeners: Listeners | None = None

    @property
    def proxy(self) -> HttpsProxy | None:
        """The HTTPS proxy that maps a Stack's names to the listeners (names layout; None in the loopback one)."""
        return self.listeners.proxy if self.listeners is not None else None

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind, create or load the state, and serve in background threads."""
        self.state = EmulatorState(self.config.state_dir, self.config.public_ca_dir, location=self.config.region)
        try:
            self._bind()
        except BaseException:
            self.connections.stop()
            self.state.close()
            raise
        self.connections.start()
        if self.proxy is not None:
            self.proxy.start()
        return self

    def _bind(self) -> None:
        """Resource Manager (and admin) on the Stack's CA; sign-in and Key Vault on listeners of their own, as on a
        real Stack: Azure AD's host has a public CA (``public-ca.pem``), ADFS's is another host on the Stack's CA; Key
        Vault's data plane is ``<vault>.vault.<region>.<fqdn>`` on the Stack's CA (global Azure's is public)."""
        assert self.state is not None
        self.listeners = Listeners(self.config, self.state, self.connections)
        try:
            addresses = self.listeners.bind_loopback() if self.config.layout == LOOPBACK else self.listeners.bind_names()
        except BaseException:
            self.listeners.close()
            raise
        self.ctx = EmulatorContext(self.config, self.state, addresses)
        self.identity = IdentityService(self.ctx)
        self.arm = Arm(self.ctx, self.identity, self.faults)
        services = Services(self.arm)  # every service, in azs_emulator/services/registry.py's order
        self.deployments = services.deployments
        self.arm.types.update(services.type_table())
        self.router = Router([
            route("GET|PUT|POST|DELETE", re.escape(FAULTS_PATH), self._control_faults, auth=ANYONE, control=True),
            *self.identity.routes(),
            *services.routes(),  # any provider's resources last: after every specific route
        ])
        self._write_public_bundle()

    def _write_public_bundle(self) -> None:
        """certifi's CAs plus the public identity CA: what certifi holds on a machine that reaches a real
        login.microsoftonline.com. Trust it (e.g. REQUESTS_CA_BUNDLE) to sign in at the emulator's Azure AD."""
        import certifi

        assert self.state is not None
        public = self.state.public_ca.cert_pem if self.config.identity_system != ADFS and not self.config.single_host else b""
        bundle = self.state.directory / PUBLIC_BUNDLE_FILE
        bundle.write_bytes(Path(certifi.where()).read_bytes().rstrip(b"\n") + b"\n" + public)

    def stop(self) -> None:
        """Stop serving and remove temporary state: the connection host first (its loop ends before the listening
        sockets it watches close: closing them under it was an unhandled EBADF in its thread), then the proxy."""
        self.connections.stop()
        if self.listeners is not None:
            self.listeners.close()
        if self.state is not None:
            self.state.close()

    def serve_until_interrupted(self) -> None:
        """Block until Ctrl-C or SIGTERM, then stop."""
        import time

        try:
            while self.connections.alive() and (self.proxy is None or self.proxy.alive()):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what clients need to know ---------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """The connection facts, with exactly the keys of ``--info-file`` (the released ones too: ``info_file.py``)."""
        assert self.ctx is not None and self.state is not None
        data = self.state.data
        public_identity = self.config.identity_system != ADFS and not self.config.single_host
        return with_released_keys({
            "layout": self.config.layout,
            # Names layout: the URL to set as HTTPS_PROXY to reach the Stack's names (None in the loopback layout).
            "https_proxy": self.proxy.url if self.proxy is not None else None,
            "arm_endpoint": self.ctx.arm_endpoint,
            "admin_endpoint": self.ctx.admin_endpoint,
            "root_ca": str(self.state.root_ca_path),
            "identity_endpoint": self.ctx.login_endpoint.rstrip("/") + "/",
            # The CA a client must trust for sign-in as if it were public (certifi's); for ADFS the Stack's own.
            "identity_ca_cert": str(self.state.public_ca_cert_path if public_identity else self.state.root_ca_path),
            "public_ca_bundle": str(self.state.directory / PUBLIC_BUNDLE_FILE),
            # Key Vault's data plane (vault URIs come from the management plane's properties.vaultUri).
            "keyvault_ca_cert": str(self.state.public_ca_cert_path if self.config.release == AZURE else self.state.root_ca_path),
            "keyvault_dns_suffix": self.ctx.keyvault_dns_suffix,
            "storage_suffix": self.ctx.storage_suffix,
            "client_id": data["client_id"],
            "client_secret": data["client_secret"],
            "tenant_id": data["tenant_id"],
            "tenant_domain": data["tenant_domain"],
            "subscription_id": data["subscription_id"],
            "location": data["location"],
            "release": self.config.release,
            "identity_system": self.config.identity_system,
        })

    def write_info(self, path: str | Path) -> None:
        """Write :meth:`info` as JSON, mode 0600 (it holds the client secret)."""
        try:
            write_private_file(Path(path), json.dumps(self.info(), indent=2).encode() + b"\n")
        except OSError as exc:
            raise EmulatorError(f"cannot write --info-file {path}: {exc.strerror or exc}; give the path of a file to create") from None

    # -- requests --------------------------------------------------------------------------------

    def _serve_connection(self, connection: Connection) -> bool:
        """Answer what has arrived on a connection (its TLS handshake first); True: keep it for the next request."""
        if connection.state is None:
            tls_socket = handshake(connection.listener.tls, connection.sock)
            if tls_socket is None:
                return False
            connection.sock = tls_socket
            connection.state = ExchangeHandler(tls_socket, connection.address, connection.listener, self.chain.handle,
                                               self.verbose)
        return bool(connection.state.answer_next())

    def _refuse_connection(self, connection: Connection) -> None:
        """No worker is free and the backlog is full: read the request, answer 503 with Retry-After, close."""
        tls_socket = handshake(connection.listener.tls, connection.sock, timeout=2.0)
        if tls_socket is None:
            return
        connection.sock = tls_socket
        roles = connection.listener.roles
        ExchangeHandler(tls_socket, connection.address, connection.listener, lambda handler: send(handler, busy(roles)),
                        self.verbose).answer_next()

    def _control_faults(self, request: Request) -> Response:
        if request.method == "GET":
            return Response(200, self.faults.describe())
        if request.method == "DELETE":
            self.faults.set_plan(FaultPlan())
            return Response(200, self.faults.describe())
        if request.method in ("PUT", "POST"):
            try:
                self.faults.set_plan(FaultPlan.from_json(json.loads(request.body or b"{}")))
            except (ValueError, TypeError) as exc:
                return ArmError(400, "InvalidFaultPlan", str(exc)).response()
            return Response(200, self.faults.describe())
        return ArmError(405, "MethodNotAllowed", "Use GET, PUT or DELETE.").response()
