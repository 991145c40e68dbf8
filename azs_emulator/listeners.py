"""Where the emulator listens: a TLS listener per host a Stack has (or every one at 127.0.0.1:PORT in the loopback
layout), each with a certificate naming its host, and in the names layout the HTTPS proxy that maps the names to them."""

from __future__ import annotations

import socket
import ssl
import threading
from typing import Any

from azs_emulator.certificates import create_server_certificate
from azs_emulator.config import ADFS, ADMIN_PREFIX, AZURE, Addresses, EmulatorConfig, StackNames, stack_names
from azs_emulator.connections import ConnectionHost
from azs_emulator.errors import EmulatorError
from azs_emulator.private_file import write_private_file
from azs_emulator.proxy import HttpsProxy, Target
from azs_emulator.routing import ARM, BLOB, GRAPH, IDENTITY, KEYVAULT, QUEUE, TABLE
from azs_emulator.state import EmulatorState, KeptPort


class Listener:
    """A bound TLS listening socket and what a request on it is addressed to."""

    def __init__(self, host: str, port: int, tls: ssl.SSLContext, roles: frozenset[str]) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.create_server((host, port), family=family, backlog=128)
        self.tls = tls
        self.roles = roles  # which listeners this one is: ARM, IDENTITY, KEYVAULT (all three with --single-host)
        self.vault = ""  # loopback layout: the vault a Key Vault data-plane listener serves
        self.names: StackNames | None = None  # names layout: requests are told apart by their Host
        self.admin_prefix = False  # loopback layout: the operator's Resource Manager is under /admin
        shown = f"[{host}]" if ":" in host else host
        self.base_url = f"https://{shown}:{self.address[1]}"

    @property
    def address(self) -> tuple[str, int]:
        """The host and port this listener is bound to."""
        host, port = self.sock.getsockname()[:2]
        return host, port


class Listeners:
    """Binds an emulator's listeners (and proxy) in its layout; they serve through one :class:`ConnectionHost`."""

    def __init__(self, config: EmulatorConfig, state: EmulatorState, host: ConnectionHost) -> None:
        self.config, self.state, self.host = config, state, host
        self.all: list[Listener] = []
        self.proxy: HttpsProxy | None = None
        self._vaults: dict[str, Listener] = {}
        self._vault_lock = threading.Lock()

    def _identity_ca(self) -> Any:
        return self.state.root_ca if self.config.identity_system == ADFS else self.state.public_ca

    def _data_plane_ca(self) -> Any:
        """The CA of the data-plane hosts (vaults, blobs): the Stack's own; global Azure's are public."""
        return self.state.public_ca if self.config.release == AZURE else self.state.root_ca

    def bind_names(self) -> Addresses:
        """A Stack's names, each on a listener whose certificate names it, and the proxy that maps them."""
        names = stack_names(self.config)
        if self.state.data["location"] != self.config.region:
            raise EmulatorError(f"the state in {self.state.directory} is of region {self.state.data['location']!r}; "
                                f"give --region {self.state.data['location']} or another --state-dir")
        arm = self.listen(frozenset({ARM}), self.config.port, self.state.root_ca, [names.management, names.admin_management])
        identity = self.listen(frozenset({IDENTITY}), self.config.identity_port, self._identity_ca(), [names.sign_in])
        vaults = self.listen(frozenset({KEYVAULT}), 0, self._data_plane_ca(), [names.vault_suffix, f"*.{names.vault_suffix}"])
        graph = self.listen(frozenset({GRAPH}), 0, self._identity_ca(), [names.graph])
        # The storage data plane: a listener per service (their paths overlap), each for its accounts' hosts.
        storage = {service: self.listen(frozenset({service}), 0, self._data_plane_ca(), [f"*.{service}.{names.storage_suffix}"])
                   for service in (BLOB, QUEUE, TABLE)}
        for listener, base in ((arm, names.management), (identity, names.sign_in), (vaults, names.vault_suffix),
                               (graph, names.graph),
                               *((listener, f"{service}.{names.storage_suffix}") for service, listener in storage.items())):
            listener.names, listener.base_url = names, f"https://{base}"

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
        port = self.kept_port("proxy_port", self.config.proxy_port)
        try:
            self.proxy = HttpsProxy(self.config.host, port, resolve, served, idle_seconds=self.config.keep_alive_timeout)
        except OSError as exc:
            raise EmulatorError(f"cannot listen on {self.config.host}:{port}: {exc.strerror or exc}; "
                                "choose another --proxy-port (0 picks a free one)") from None
        self.state.record_port("proxy_port", int(self.proxy.url.rsplit(":", 1)[1]))
        location = self.state.data["location"]
        public_ip = (f"{location}.cloudapp.azure.com" if self.config.release == AZURE
                     else f"{self.config.region}.cloudapp.{self.config.fqdn}")
        return Addresses(arm=f"https://{names.management}", admin=f"https://{names.admin_management}",
                         identity=f"https://{names.sign_in}", graph=f"https://{names.graph}", vault_suffix=names.vault_suffix,
                         storage_suffix=names.storage_suffix, public_ip_suffix=public_ip,
                         vault_url=lambda vault: f"https://{names.vault_host(vault)}")

    def bind_loopback(self) -> Addresses:
        """Every listener at 127.0.0.1:PORT: no proxy needed, so several emulators can serve one process."""
        # The Resource Manager keeps its port too: the endpoint a project was generated against stays true.
        arm_roles = frozenset({ARM, IDENTITY}) if self.config.single_host else frozenset({ARM})
        arm = self.listen(arm_roles, self.kept_port("arm_port", self.config.port), self.state.root_ca,
                          fallback_to_any_port=not self.config.port)
        self.state.record_port("arm_port", arm.address[1])
        if self.config.single_host:
            identity = arm
        else:
            identity = self.listen(frozenset({IDENTITY}), self.kept_port("identity_port", self.config.identity_port),
                                   self._identity_ca())
            self.state.record_port("identity_port", identity.address[1])
        arm.admin_prefix = True
        host = arm.base_url.split("://", 1)[1].rsplit(":", 1)[0].strip("[]")
        location = self.state.data["location"]
        return Addresses(arm=arm.base_url, admin=arm.base_url + ADMIN_PREFIX, identity=identity.base_url,
                         graph=f"{arm.base_url}/graph",
                         vault_suffix="vault.azure.net" if self.config.release == AZURE else f"vault.{host}",
                         storage_suffix=host, public_ip_suffix=f"{location}.cloudapp.{host}", vault_url=self.vault_host)

    def vault_host(self, vault: str) -> str:
        """The base URL of a vault's own data-plane host (``<vault>.vault.<region>.<fqdn>`` on a Stack), opened on
        first use: a listener per vault, since such names do not resolve on loopback and Key Vault clients need
        the vault at the root of its URL. With ``--state-dir`` a vault keeps its port across restarts."""
        with self._vault_lock:
            key = vault.lower()
            if key not in self._vaults:
                listener = self.listen(frozenset({KEYVAULT}), self.state.vault_port(key) if self.config.state_dir else 0,
                                       self._data_plane_ca(), fallback_to_any_port=True)
                listener.vault = vault
                self.state.record_vault_port(key, listener.address[1])
                self._vaults[key] = listener
            return self._vaults[key].base_url

    def kept_port(self, which: KeptPort, given: int) -> int:
        """``given``, else the port a kept state used before (so that what clients were told stays true), else 0."""
        if given:
            return given
        return self.state.kept_port(which) if self.config.state_dir else 0

    def listen(self, roles: frozenset[str], port: int, ca: Any, names: list[str] | None = None,
               fallback_to_any_port: bool = False) -> Listener:
        """A TLS listener on ``port`` whose certificate names ``names`` (default: the loopback addresses), served
        from now on."""
        leaf = create_server_certificate(ca, names or ["localhost", "127.0.0.1", "::1", self.config.host])
        role = "-".join(sorted(roles))
        cert_file, key_file = self.state.directory / f"{role}-server.pem", self.state.directory / f"{role}-server.key"
        write_private_file(cert_file, leaf.cert_pem + ca.cert_pem)
        write_private_file(key_file, leaf.key_pem)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.minimum_version = ssl.TLSVersion.TLSv1_2
        tls.load_cert_chain(cert_file, key_file)
        try:
            listener = Listener(self.config.host, port, tls, roles)
        except OSError as exc:
            if port and (fallback_to_any_port or (roles == {IDENTITY} and not self.config.identity_port)):
                listener = Listener(self.config.host, 0, tls, roles)  # the kept port is taken: any other
            else:
                what = "--identity-port" if roles == {IDENTITY} else "--port"
                raise EmulatorError(
                    f"cannot listen on {self.config.host}:{port}: {exc.strerror or exc}; "
                    f"choose another {what} (0 picks a free one)"
                ) from None
        self.all.append(listener)
        self.host.add_listener(listener.sock, listener)
        return listener

    def close(self) -> None:
        """Close the proxy and every listening socket (the connection host closes them too; twice is harmless)."""
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None
        for listener in self.all:
            listener.sock.close()
        self.all = []
