"""The emulator's HTTPS server: TLS, routing to the identity and ARM services, faults."""

from __future__ import annotations

import collections
import io
import json
import re
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from azs_emulator import arm_errors
from azs_emulator.arm_core import Arm, DeclaresTypes, type_table
from azs_emulator.certificates import create_server_certificate
from azs_emulator.config import ADFS, ADMIN_PREFIX, AZURE, LOOPBACK, Addresses, EmulatorConfig, EmulatorContext, StackNames, stack_names
from azs_emulator.errors import EmulatorError
from azs_emulator.faults import (
    DROP,
    NON_JSON,
    REDIRECT,
    REDIRECT_TARGET,
    REPLACE,
    TRANSIENT,
    TRUNCATE,
    FaultInjector,
    FaultPlan,
)
from azs_emulator.identity import IdentityService
from azs_emulator.private_file import write_private_file
from azs_emulator.protocol import ArmError, OAuthError, Request, Response, StreamedBody
from azs_emulator.proxy import HttpsProxy, Target
from azs_emulator.routing import ANYONE, ARM, BLOB, GRAPH, IDENTITY, KEYVAULT, QUEUE, TABLE, Match, Router, Service, route
from azs_emulator.services.authorization import AuthorizationService
from azs_emulator.services.blob import BlobService
from azs_emulator.services.blob_content import SPOOL_ABOVE, spool_body
from azs_emulator.services.compute import ComputeService
from azs_emulator.services.compute_skus import ComputeSkusService
from azs_emulator.services.deployments import DeploymentsService
from azs_emulator.services.disk_access import DiskAccessService
from azs_emulator.services.dns import DnsService
from azs_emulator.services.extensions import ExtensionsService
from azs_emulator.services.graph import GraphService
from azs_emulator.services.keyvault import KeyVaultService
from azs_emulator.services.locks import LocksService
from azs_emulator.services.moves import MovesService
from azs_emulator.services.network import NetworkService
from azs_emulator.services.network_edge import NetworkEdgeService
from azs_emulator.services.policy import PolicyService
from azs_emulator.services.provider_operations import ProviderOperationsService
from azs_emulator.services.provider_resources import ProviderResourcesService
from azs_emulator.services.queue import QueueService
from azs_emulator.services.resources import ResourcesService
from azs_emulator.services.scale_set_actions import ScaleSetActionsService
from azs_emulator.services.scale_sets import ScaleSetsService
from azs_emulator.services.stack import StackService, add_arm_headers
from azs_emulator.services.storage import StorageService
from azs_emulator.services.table import TableService
from azs_emulator.services.usages import UsagesService
from azs_emulator.services.vm_capture import VmCaptureService
from azs_emulator.state import EmulatorState, KeptPort

FAULTS_PATH = "/_emulator/faults"
PUBLIC_BUNDLE_FILE = "public-bundle.pem"
_HTML_ERROR_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>Bad Gateway</h1><p>The proxy server received an invalid response.</p></body></html>"
)


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], emulator: Emulator, tls: ssl.SSLContext, roles: frozenset[str]) -> None:
        self.emulator = emulator
        self.tls = tls
        self.roles = roles  # which listeners this one is: ARM, IDENTITY, KEYVAULT (all three with --single-host)
        self.base_url = ""
        self.vault = ""  # loopback layout: the vault a Key Vault data-plane listener serves
        self.names: StackNames | None = None  # names layout: requests are told apart by their Host
        self.admin_prefix = False  # loopback layout: the operator's Resource Manager is under /admin
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)

    @property
    def address(self) -> tuple[str, int]:
        """The host and port this listener is bound to."""
        host, port = self.server_address[:2]
        assert isinstance(host, str)  # an AF_INET or AF_INET6 server's address
        return host, port

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the connection's own thread, so that a slow or
        # distrustful client never holds up the accept loop.
        try:
            # Headers and body go out as separate writes; without TCP_NODELAY the second waits for the
            # client's delayed ACK (tens of milliseconds per request).
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tls_socket = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        _Handler(tls_socket, client_address, self)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "azs-scaffold-emulator"
    sys_version = ""
    server: _TLSServer
    # Seconds between the bytes of the answer (a drip fault); 0: written at once.
    drip: float = 0.0

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.emulator.verbose:
            sys.stderr.write(f"emulator: {self.command} {urlsplit(self.path).path} -> {args[1] if len(args) > 1 else ''}\n")

    def _serve(self) -> None:
        self.server.emulator.dispatch(self, self.server)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except ValueError:
            if not self.wfile.closed:  # closed: the connection was reset on purpose (a drop fault)
                raise

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_MERGE = _serve  # MERGE: older table clients


class Emulator:
    """An Azure Stack Hub (or global Azure) on loopback; use as a context manager or start/stop."""

    def __init__(self, config: EmulatorConfig | None = None, verbose: bool = False) -> None:
        self.config = config or EmulatorConfig()
        self.config.validate()
        self.verbose = verbose
        self.faults = FaultInjector(self.config.faults)
        # (method, path) of recent requests: lets tests and users see what a client really sent.
        self.request_log: collections.deque[tuple[str, str]] = collections.deque(maxlen=10000)
        self._servers: list[_TLSServer] = []
        self._threads: list[threading.Thread] = []
        self.state: EmulatorState | None = None
        self.ctx: EmulatorContext | None = None
        self._vault_servers: dict[str, _TLSServer] = {}
        self._vault_lock = threading.Lock()
        self.proxy: HttpsProxy | None = None

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind, create or load the state, and serve in a background thread."""
        self.state = EmulatorState(self.config.state_dir, self.config.public_ca_dir, location=self.config.region)
        try:
            self._bind()
        except BaseException:
            self.state.close()
            raise
        for server in list(self._servers):
            self._serve(server)
        if self.proxy is not None:
            self.proxy.start()
        return self

    def _serve(self, server: _TLSServer) -> None:
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  name=f"azs-emulator-{'-'.join(sorted(server.roles))}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _bind(self) -> None:
        """Resource Manager (and admin) on the Stack's CA; sign-in and Key Vault on listeners of their own, as on a
        real Stack: Azure AD's host has a public CA (``public-ca.pem``), ADFS's is another host on the Stack's CA; Key
        Vault's data plane is ``<vault>.vault.<region>.<fqdn>`` on the Stack's CA (global Azure's is public)."""
        assert self.state is not None
        try:
            addresses = self._bind_loopback() if self.config.layout == LOOPBACK else self._bind_names()
        except BaseException:
            self._close_servers()
            raise
        self.ctx = EmulatorContext(self.config, self.state, addresses)
        self.identity = IdentityService(self.ctx)
        self.arm = Arm(self.ctx, self.identity, self.faults)
        resources = ProviderResourcesService(self.arm)
        self.deployments = DeploymentsService(self.arm, resources)
        services: list[Service] = [StackService(self.arm), ResourcesService(self.arm), self.deployments, StorageService(self.arm),
                    NetworkService(self.arm), ComputeService(self.arm), KeyVaultService(self.arm), AuthorizationService(self.arm),
                    GraphService(self.arm), BlobService(self.arm), QueueService(self.arm), TableService(self.arm)]
        compute = next(s for s in services if isinstance(s, ComputeService))
        # After Compute: disk export and VM capture add to its types' actions, extensions to how it shows a VM; locks
        # check every request.
        services += [NetworkEdgeService(self.arm), DiskAccessService(self.arm), VmCaptureService(self.arm),
                     LocksService(self.arm), PolicyService(self.arm), MovesService(self.arm),
                     ProviderOperationsService(self.arm), UsagesService(self.arm), ComputeSkusService(self.arm),
                     ScaleSetsService(self.arm, compute), ExtensionsService(self.arm), DnsService(self.arm),
                     ScaleSetActionsService(self.arm)]
        self.arm.types.update(type_table(s.resource_types() for s in services if isinstance(s, DeclaresTypes)))
        self.router = Router([
            route("GET|PUT|POST|DELETE", re.escape(FAULTS_PATH), self._control_faults, auth=ANYONE, control=True),
            *self.identity.routes(),
            *(r for service in services for r in service.routes()),
            *resources.routes(),  # any provider's resources: after every specific route
        ])
        self._write_public_bundle()

    def _identity_ca(self) -> Any:
        assert self.state is not None
        return self.state.ca if self.config.identity == ADFS else self.state.public_ca

    def _data_plane_ca(self) -> Any:
        """The CA of the data-plane hosts (vaults, blobs): the Stack's own; global Azure's are public."""
        assert self.state is not None
        return self.state.public_ca if self.config.stack_version == AZURE else self.state.ca

    def _bind_names(self) -> Addresses:
        """A Stack's names, each on a listener whose certificate names it, and the proxy that maps them."""
        assert self.state is not None
        names = stack_names(self.config)
        if self.state.data["location"] != self.config.region:
            raise EmulatorError(f"the state in {self.state.directory} is of region {self.state.data['location']!r}; "
                                f"give --region {self.state.data['location']} or another --state-dir")
        arm = self._listen(frozenset({ARM}), self.config.port, self.state.ca, [names.management, names.admin_management])
        identity = self._listen(frozenset({IDENTITY}), self.config.identity_port, self._identity_ca(), [names.sign_in])
        vaults = self._listen(frozenset({KEYVAULT}), 0, self._data_plane_ca(), [names.vault_suffix, f"*.{names.vault_suffix}"])
        graph = self._listen(frozenset({GRAPH}), 0, self._identity_ca(), [names.graph])
        # The storage data plane: a listener per service (their paths overlap), each for its accounts' hosts.
        storage = {service: self._listen(frozenset({service}), 0, self._data_plane_ca(), [f"*.{service}.{names.storage_suffix}"])
                   for service in (BLOB, QUEUE, TABLE)}
        for server, base in ((arm, names.management), (identity, names.sign_in), (vaults, names.vault_suffix), (graph, names.graph),
                             *((listener, f"{service}.{names.storage_suffix}") for service, listener in storage.items())):
            server.names, server.base_url = names, f"https://{base}"

        def resolve(host: str) -> Target:
            if host in (names.management, names.admin_management):
                return arm.address
            if host == names.sign_in:
                return identity.address
            if host == names.graph:
                return graph.address
            label, _, suffix = host.partition(".")
            if suffix == names.vault_suffix and label:
                return vaults.address
            service, _, suffix = suffix.partition(".")
            if suffix == names.storage_suffix and service in storage and label:
                return storage[service].address
            return None

        served = (f"{names.management}, {names.admin_management}, {names.sign_in}, {names.graph}, *.{names.vault_suffix}, "
                  f"*.blob.{names.storage_suffix}, *.queue.{names.storage_suffix}, *.table.{names.storage_suffix}")
        port = self._kept_port("proxy_port", self.config.proxy_port)
        try:
            self.proxy = HttpsProxy(self.config.host, port, resolve, served)
        except OSError as exc:
            raise EmulatorError(f"cannot listen on {self.config.host}:{port}: {exc.strerror or exc}; "
                                "choose another --proxy-port (0 picks a free one)") from None
        self.state.record_port("proxy_port", int(self.proxy.url.rsplit(":", 1)[1]))
        location = self.state.data["location"]
        public_ip = f"{location}.cloudapp.azure.com" if self.config.stack_version == AZURE else f"{self.config.region}.cloudapp.{self.config.fqdn}"
        return Addresses(arm=f"https://{names.management}", admin=f"https://{names.admin_management}",
                         identity=f"https://{names.sign_in}", graph=f"https://{names.graph}", vault_suffix=names.vault_suffix,
                         storage_suffix=names.storage_suffix, public_ip_suffix=public_ip,
                         vault_url=lambda vault: f"https://{names.vault_host(vault)}")

    def _bind_loopback(self) -> Addresses:
        """Every listener at 127.0.0.1:PORT: no proxy needed, so several emulators can serve one process."""
        assert self.state is not None
        if self.config.single_host:
            arm = self._listen(frozenset({ARM, IDENTITY}), self.config.port, self.state.ca)
            identity = arm
        else:
            arm = self._listen(frozenset({ARM}), self.config.port, self.state.ca)
            identity = self._listen(frozenset({IDENTITY}), self._identity_port(), self._identity_ca())
            self.state.record_port("identity_port", identity.server_address[1])
        arm.admin_prefix = True
        host = arm.base_url.split("://", 1)[1].rsplit(":", 1)[0].strip("[]")
        location = self.state.data["location"]
        return Addresses(arm=arm.base_url, admin=arm.base_url + ADMIN_PREFIX, identity=identity.base_url,
                         graph=f"{arm.base_url}/graph",
                         vault_suffix="vault.azure.net" if self.config.stack_version == AZURE else f"vault.{host}",
                         storage_suffix=host, public_ip_suffix=f"{location}.cloudapp.{host}", vault_url=self._vault_host)

    def _vault_host(self, vault: str) -> str:
        """The base URL of a vault's own data-plane host (``<vault>.vault.<region>.<fqdn>`` on a Stack), opened on
        first use: a listener per vault, since such names do not resolve on loopback and Key Vault clients need
        the vault at the root of its URL. With ``--state-dir`` a vault keeps its port across restarts."""
        assert self.state is not None
        with self._vault_lock:
            key = vault.lower()
            if key not in self._vault_servers:
                server = self._listen(frozenset({KEYVAULT}), self.state.vault_port(key) if self.config.state_dir else 0,
                                      self._data_plane_ca(), fallback_to_any_port=True)
                server.vault = vault
                self.state.record_vault_port(key, server.address[1])
                self._serve(server)
                self._vault_servers[key] = server
            return self._vault_servers[key].base_url

    def _identity_port(self) -> int:
        """The sign-in port a kept state used before, so that a restart (a Stack upgrade) keeps the authority."""
        return self._kept_port("identity_port", self.config.identity_port)

    def _kept_port(self, which: KeptPort, given: int) -> int:
        """``given``, else the port a kept state used before (so that what clients were told stays true), else 0."""
        assert self.state is not None
        if given:
            return given
        return self.state.kept_port(which) if self.config.state_dir else 0

    def _listen(self, roles: frozenset[str], port: int, ca: Any, names: list[str] | None = None,
                fallback_to_any_port: bool = False) -> _TLSServer:
        """A TLS listener on ``port`` whose certificate names ``names`` (default: the loopback addresses)."""
        assert self.state is not None
        leaf = create_server_certificate(ca, names or ["localhost", "127.0.0.1", "::1", self.config.host])
        role = "-".join(sorted(roles))
        cert_file, key_file = self.state.directory / f"{role}-server.pem", self.state.directory / f"{role}-server.key"
        write_private_file(cert_file, leaf.cert_pem + ca.cert_pem)
        write_private_file(key_file, leaf.key_pem)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.minimum_version = ssl.TLSVersion.TLSv1_2
        tls.load_cert_chain(cert_file, key_file)
        try:
            server = _TLSServer((self.config.host, port), self, tls, roles)
        except OSError as exc:
            if port and (fallback_to_any_port or (roles == {IDENTITY} and not self.config.identity_port)):
                server = _TLSServer((self.config.host, 0), self, tls, roles)  # the kept port is taken: any other
            else:
                what = "--identity-port" if roles == {IDENTITY} else "--port"
                raise EmulatorError(
                    f"cannot listen on {self.config.host}:{port}: {exc.strerror or exc}; "
                    f"choose another {what} (0 picks a free one)"
                ) from None
        self._servers.append(server)
        host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
        server.base_url = f"https://{host}:{server.server_address[1]}"
        return server

    def _write_public_bundle(self) -> None:
        """certifi's CAs plus the public identity CA: what certifi holds on a machine that reaches a real
        login.microsoftonline.com. Trust it (e.g. REQUESTS_CA_BUNDLE) to sign in at the emulator's Azure AD."""
        import certifi

        assert self.state is not None
        public = self.state.public_ca.cert_pem if self.config.identity != ADFS and not self.config.single_host else b""
        bundle = self.state.directory / PUBLIC_BUNDLE_FILE
        bundle.write_bytes(Path(certifi.where()).read_bytes().rstrip(b"\n") + b"\n" + public)

    def _close_servers(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None
        for index, server in enumerate(self._servers):
            if index < len(self._threads):  # shutdown() waits for serve_forever, so only where it runs
                server.shutdown()
            server.server_close()
        self._servers = []

    def stop(self) -> None:
        """Stop serving and remove temporary state."""
        self._close_servers()
        self._threads = []
        if self.state is not None:
            self.state.close()

    def serve_until_interrupted(self) -> None:
        """Block until Ctrl-C or SIGTERM, then stop."""
        try:
            while self._threads and all(thread.is_alive() for thread in self._threads) and (self.proxy is None or self.proxy.alive()):
                self._threads[0].join(0.5)
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
        """The connection facts, with exactly the keys of ``--info-file``."""
        assert self.ctx is not None and self.state is not None
        data = self.state.data
        public_identity = self.config.identity != ADFS and not self.config.single_host
        return {
            "layout": self.config.layout,
            # Names layout: the URL to set as HTTPS_PROXY to reach the Stack's names (None in the loopback layout).
            "https_proxy": self.proxy.url if self.proxy is not None else None,
            "arm_endpoint": self.ctx.arm_endpoint,
            "admin_endpoint": self.ctx.admin_endpoint,
            "ca_cert": str(self.state.ca_cert_path),
            "identity_endpoint": self.ctx.login_endpoint.rstrip("/") + "/",
            # The CA a client must trust for sign-in as if it were public (certifi's); for ADFS the Stack's own.
            "identity_ca_cert": str(self.state.public_ca_cert_path if public_identity else self.state.ca_cert_path),
            "public_ca_bundle": str(self.state.directory / PUBLIC_BUNDLE_FILE),
            # Key Vault's data plane (vault URIs come from the management plane's properties.vaultUri).
            "keyvault_ca_cert": str(self.state.public_ca_cert_path if self.config.stack_version == AZURE else self.state.ca_cert_path),
            "keyvault_dns_suffix": self.ctx.keyvault_dns_suffix,
            "storage_suffix": self.ctx.storage_suffix,
            "client_id": data["client_id"],
            "client_secret": data["client_secret"],
            "tenant_id": data["tenant_id"],
            "tenant_domain": data["tenant_domain"],
            "subscription_id": data["subscription_id"],
            "location": data["location"],
            "stack_version": self.config.stack_version,
            "identity_system": self.config.identity,
        }

    def write_info(self, path: str | Path) -> None:
        """Write :meth:`info` as JSON, mode 0600 (it holds the client secret)."""
        try:
            write_private_file(Path(path), json.dumps(self.info(), indent=2).encode() + b"\n")
        except OSError as exc:
            raise EmulatorError(f"cannot write --info-file {path}: {exc.strerror or exc}; give the path of a file to create") from None

    # -- requests --------------------------------------------------------------------------------

    def dispatch(self, handler: _Handler, server: _TLSServer) -> None:
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        blob_host = BLOB in server.roles
        assert self.state is not None
        # A large blob body goes to disk a piece at a time, never whole into memory (services/blob_content.py).
        spooled = spool_body(handler.rfile, length, self.state.directory) if blob_host and length > SPOOL_ABOVE else None
        try:
            self._dispatch(handler, server, Request(
                method=handler.command,
                # ARM treats an empty segment as absent: the SDK sends ``{ns}//{type}`` for a generic resource without a
                # parent path. A blob's name may hold ``//`` (and Shared Key signs the path as sent): kept there.
                path=url.path if blob_host else re.sub(r"/{2,}", "/", url.path),
                query={k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()},
                headers={k.lower(): v for k, v in handler.headers.items()},
                body=handler.rfile.read(length) if length and spooled is None else b"",
                base_url=server.base_url,
                vault=server.vault,
                body_file=spooled,
            ))
        finally:
            if spooled is not None:
                spooled.unlink(missing_ok=True)

    def _dispatch(self, handler: _Handler, server: _TLSServer, request: Request) -> None:
        if server.names is not None:
            self._address_by_host(request, server.names)
        match = self.router.find(request, server.roles, admin_prefix=server.admin_prefix)
        if request.admin:
            assert self.ctx is not None  # bound before any listener serves
            request.base_url = self.ctx.arm_base(admin=True)
        if match is not None and match.route.control:
            self._send(handler, self._answer(request, match))
            return
        self.request_log.append((request.method, request.path))
        delay = self.faults.latency_for(request.path)
        handler.drip = self.faults.drip_for(request.path)
        fault = self.faults.take(request.path)
        if fault is None or fault == TRUNCATE:
            # The request is handled as it arrives (its token checked then, as ARM does); the answer is slow.
            response = self._answer(request, match)
            time.sleep(delay)
            self._send(handler, response, truncate=fault == TRUNCATE)
            return
        time.sleep(delay)
        if fault == DROP:
            _reset_connection(handler)
            return
        if fault == TRANSIENT:
            status, retry_after = self.faults.transient_answer()
            code = "TooManyRequests" if status == 429 else "ServiceUnavailable"
            error = ArmError(status, code, "The service is temporarily unavailable; retry later.", {"Retry-After": str(retry_after)})
            self._send(handler, error.response())
            return
        if fault == NON_JSON:
            self._send(handler, Response(502, _HTML_ERROR_PAGE, content_type="text/html"))
            return
        if fault == REDIRECT:
            self._send(handler, Response(307, None, {"Location": REDIRECT_TARGET + request.path.lstrip("/")}))
            return
        if fault == REPLACE:
            status, body, content_type = self.faults.replacement()
            self._send(handler, Response(status, body, content_type=content_type))

    @staticmethod
    def _address_by_host(request: Request, names: StackNames) -> None:
        """Names layout: which Resource Manager (tenant or operator's) or which vault the Host header names."""
        host = request.headers.get("host", "").rsplit(":", 1)[0].lower().rstrip(".")
        if host == names.admin_management:
            request.admin = True
        elif host.endswith("." + names.vault_suffix):
            request.vault = host[: -len(names.vault_suffix) - 1]

    def _answer(self, request: Request, match: Match | None) -> Response:
        """The one place every request is answered: checks in ARM's order, then the route's handler."""
        response = self._handled(request, match)
        if match is None or match.route.listener == ARM:
            add_arm_headers(response, request, self.arm.location)
        return response

    def _handled(self, request: Request, match: Match | None) -> Response:
        assert self.state is not None  # created before any listener serves
        try:
            if match is None:
                raise arm_errors.no_route(request.path)
            if match.route.control:
                return match.route.handler(request)
            with self.state.transaction():  # committed as the handler returns; nothing of it kept if it raises
                self.arm.admit(request, match)
                if match.route.listener == ARM:
                    self.deployments.settle(request)
                return match.route.handler(request, *match.groups)
        except (ArmError, OAuthError) as error:
            return error.response()
        except RecursionError:  # a body parsed, but nested too deeply for the template evaluator: the client's fault
            return ArmError(400, "InvalidTemplate", "The template is nested deeper than the maximum depth.").response()
        except Exception as exc:  # a bug in the emulator must not kill the connection thread silently
            sys.stderr.write(f"emulator: internal error on {request.method} {request.path}: {exc!r}\n")
            if self.verbose:
                sys.stderr.write(traceback.format_exc())
            return ArmError(500, "InternalServerError", "The emulator failed to process the request.").response()

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

    @staticmethod
    def _send(handler: _Handler, response: Response, truncate: bool = False) -> None:
        drip = handler.drip
        if drip:
            # The whole answer is written out a byte at a time: each byte is prompt enough for any per-read timeout.
            wire, handler.wfile = handler.wfile, io.BytesIO()
            try:
                Emulator._write(handler, response, truncate)
                answer = handler.wfile.getvalue()
            finally:
                handler.wfile, handler.drip = wire, 0.0
            handler.close_connection = True
            try:
                for index in range(len(answer)):
                    wire.write(answer[index:index + 1])
                    wire.flush()
                    time.sleep(drip)
            except OSError:  # the client gave up: as it should
                pass
            return
        Emulator._write(handler, response, truncate)

    @staticmethod
    def _write(handler: _Handler, response: Response, truncate: bool) -> None:
        streamed = response.body if isinstance(response.body, StreamedBody) and not truncate else None
        body = b"" if streamed is not None else response.encoded_body()
        handler.send_response(response.status)
        if response.content_type and (body or streamed or response.status not in (204, 304)):
            handler.send_header("Content-Type", response.content_type)
        # A HEAD answer says the length a GET's body would have, and sends none.
        handler.send_header("Content-Length", str(streamed.length if streamed is not None else len(body)))
        if handler.command == "HEAD":
            body = b""
        handler.send_header("x-ms-request-id", str(uuid.uuid4()))
        for name, value in response.headers.items():
            handler.send_header(name, value)
        if truncate:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        handler.end_headers()
        if streamed is not None:
            try:
                if handler.command != "HEAD":
                    for piece in streamed.chunks():
                        handler.wfile.write(piece)
            finally:
                streamed.close()
            return
        handler.wfile.write(body[: len(body) // 2] if truncate else body)


def _reset_connection(handler: _Handler) -> None:
    """Drop the connection with a TCP reset, as a failing proxy or load balancer does."""
    handler.close_connection = True
    try:
        raw = handler.connection
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # The handler's files hold the socket open: closed first, the socket closes now, with the reset (not later,
        # after the server's orderly shutdown has sent a FIN).
        handler.rfile.close()
        handler.wfile.close()
        raw.close()
    except OSError:
        pass
