"""The emulator's persistent state: identity, PKI, provider registrations and resources.

:class:`StateData` is its one shape, a section per owner, kept in the store (``state.db``, :mod:`azs_emulator.store`)
a row per document; :class:`DocumentStore` is how an owner keeps a section of documents. Without a state directory
everything lives in a temporary directory removed at stop. With one, the CA, the credentials and every resource
survive restarts, so restarting with another ``--release`` emulates a Stack upgrade; a directory an older
emulator left (``state.json``) is migrated on first start.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Literal, TypedDict, cast

from azs_emulator.certificates import PUBLIC_COMMON_NAME, ROOT_COMMON_NAME, CertificatePair, create_root_ca
from azs_emulator.errors import EmulatorError
from azs_emulator.private_file import write_private_file
from azs_emulator.store import ABSENT, STORE_FILE, VALUES, Section, Session, Store, StoreInUse

# What emulators before the store kept (the whole state as one JSON document): migrated on first start, then renamed.
STATE_FILE = "state.json"
MIGRATED_STATE_FILE = "state.json.migrated"
ROOT_CA_FILE = "ca.pem"
ROOT_CA_KEY_FILE = "ca.key"
PUBLIC_CA_CERT_FILE = "public-ca.pem"
PUBLIC_CA_KEY_FILE = "public-ca.key"


# A Resource Manager document as stored: what clients see, plus the emulator's own bookkeeping under ``_`` keys.
Document = dict[str, Any]


class ProviderRegistration(TypedDict):
    state: str  # Registering, Registered or Unregistered
    ready_at: float  # when a Registering namespace turns Registered (time.time())


class TagName(TypedDict):
    """A tag name created on its own (``PUT /tagNames/{name}``), with the values created for it."""

    name: str
    values: list[str]


class TagHolder(TypedDict):
    tags: dict[str, str]


class BlobAccount(TypedDict):
    containers: dict[str, Any]  # container name -> its metadata and blobs (the blob service's)


class StateData(TypedDict):
    """Everything the emulator keeps: one section per owner (the services say which is theirs; nothing else reads or
    writes a section). Documents are keyed by their id in lower case; a section of :data:`KEYED_SECTIONS` is kept a row
    per key, any other as one value."""

    # Who the Stack is and who may sign in to it (fixed when the state is made).
    tenant_id: str
    tenant_domain: str
    client_id: str
    client_secret: str
    subscription_id: str
    admin_subscription_id: str
    audience_app_id: str
    admin_audience_app_id: str
    location: str
    object_id: str  # the service principal's object id
    # Ports a kept state reuses, so that what clients were told stays true across restarts (0: none yet).
    arm_port: int  # the loopback layout's Resource Manager (behind a Stack's names, the proxy's port is what clients know)
    identity_port: int
    proxy_port: int
    vault_ports: dict[str, int]  # vault name (lower case) -> its data-plane listener's port
    # Resource Manager (azs_emulator/arm_core.py).
    providers: dict[str, ProviderRegistration]  # namespace (lower case) -> registration
    resource_groups: dict[str, Document]  # name (lower case) -> {"name", "location", "tags"}
    resources: dict[str, Document]
    # Microsoft.Resources: deployments (group name, lower case -> deployment name, lower case -> deployment) and tags.
    deployments: dict[str, dict[str, Document]]
    tag_names: dict[str, TagName]  # tag name (lower case) ->
    subscription_tags: TagHolder
    # Microsoft.Storage: account id (lower case) -> its two keys; the blob data plane: account name -> its containers.
    storage_keys: dict[str, list[str]]
    blob_accounts: dict[str, BlobAccount]
    # The queue and table data planes: account name -> {"queues": {name: ...}} / {"tables": {name: ...}}.
    queue_accounts: dict[str, dict[str, Any]]
    table_accounts: dict[str, dict[str, Any]]
    # Key Vault's data plane: vault name (lower case) -> its secrets, its certificates (each by lower-cased name).
    vault_secrets: dict[str, dict[str, Any]]
    vault_certificates: dict[str, dict[str, Any]]
    # Microsoft.Authorization.
    role_assignments: dict[str, Document]
    principal_assignment: str  # the name of the service principal's own role assignment
    locks: dict[str, Document]
    policy_definitions: dict[str, Document]
    policy_assignments: dict[str, Document]


# The listeners whose port a kept state remembers (besides each vault's).
KeptPort = Literal["arm_port", "identity_port", "proxy_port"]


def _new_uuid() -> str:
    return str(uuid.uuid4())


# What a section holds when a state has none yet: a new state, or one an older emulator wrote (the sections below
# the identity arrived one release at a time, and each service used to add its own on first use).
_SECTION_DEFAULTS: dict[str, Callable[[], Any]] = {
    "object_id": _new_uuid,
    "arm_port": int,
    "identity_port": int,
    "proxy_port": int,
    "vault_ports": dict,
    "providers": dict,
    "resource_groups": dict,
    "resources": dict,
    "deployments": dict,
    "tag_names": dict,
    "subscription_tags": lambda: {"tags": {}},
    "storage_keys": dict,
    "blob_accounts": dict,
    "queue_accounts": dict,
    "table_accounts": dict,
    "vault_secrets": dict,
    "vault_certificates": dict,
    "role_assignments": dict,
    "principal_assignment": _new_uuid,
    "locks": dict,
    "policy_definitions": dict,
    "policy_assignments": dict,
}
assert set(_SECTION_DEFAULTS) <= set(StateData.__annotations__)


def _new_state(location: str) -> StateData:
    identity = {
        "tenant_id": _new_uuid(),
        "tenant_domain": "azsemulator.onmicrosoft.com",
        "client_id": _new_uuid(),
        "client_secret": secrets.token_urlsafe(32),
        "subscription_id": _new_uuid(),
        "admin_subscription_id": _new_uuid(),
        "audience_app_id": _new_uuid(),
        "admin_audience_app_id": _new_uuid(),
        "location": location,
    }
    return cast(StateData, {**identity, **{key: make() for key, make in _SECTION_DEFAULTS.items()}})


def upgraded(data: dict[str, Any]) -> tuple[StateData, bool]:
    """A state as an older emulator wrote it, with every section it lacks added (empty, or a new id); and whether
    any was. Nothing is renamed or removed: the file an older emulator wrote is read as it is."""
    missing = [key for key in _SECTION_DEFAULTS if key not in data]
    for key in missing:
        data[key] = _SECTION_DEFAULTS[key]()
    return cast(StateData, data), bool(missing)


# The sections holding documents by key (a row each in the store); the others are single values.
KEYED_SECTIONS = frozenset({
    "vault_ports", "providers", "resource_groups", "resources", "deployments", "tag_names", "storage_keys",
    "blob_accounts", "queue_accounts", "table_accounts", "vault_secrets", "vault_certificates", "role_assignments", "locks",
    "policy_definitions", "policy_assignments",
})
# Who the Stack is (the state's own sections, with the listeners' kept ports).
STACK_IDENTITY = frozenset({
    "tenant_id", "tenant_domain", "client_id", "client_secret", "subscription_id", "admin_subscription_id",
    "audience_app_id", "admin_audience_app_id", "location", "object_id",
})
KEPT_PORTS = ("arm_port", "identity_port", "proxy_port", "vault_ports")
# The values fixed when the state is made: read once at start, never written again.
FIXED_VALUES = STACK_IDENTITY | {"principal_assignment"}
assert KEYED_SECTIONS | FIXED_VALUES <= set(StateData.__annotations__)


class StateView(Mapping[str, Any]):
    """``EmulatorState.data``: the state by :class:`StateData`'s sections. A keyed section is a :class:`Section` of
    the store; a changeable value (a kept port, the subscription's tags) is read in the transaction under way; the
    fixed values come from memory."""

    def __init__(self, store: Store, fixed: dict[str, Any]) -> None:
        self._store = store
        self._fixed = fixed
        self._sections = {name: Section(store, name) for name in KEYED_SECTIONS}

    def __getitem__(self, name: str) -> Any:
        if name in self._fixed:
            return self._fixed[name]
        if name in self._sections:
            return self._sections[name]
        with self._store.transaction() as session:
            value = session.get(VALUES, name)
        if value is ABSENT:
            raise KeyError(name)
        return value

    def __setitem__(self, name: str, value: Any) -> None:
        if name in self._fixed or name in self._sections or name not in StateData.__annotations__:
            raise TypeError(f"{name} is not a value of the state that changes")
        with self._store.transaction() as session:
            session.put(VALUES, name, value)

    def __iter__(self) -> Iterator[str]:
        return iter(StateData.__annotations__)

    def __len__(self) -> int:
        return len(StateData.__annotations__)


class EmulatorState:
    """What the emulator keeps, in its directory: the store (``state.db``, see :mod:`azs_emulator.store`), the CAs
    beside it. ``data`` reads and changes it (its shape: :class:`StateData`); a request does so inside
    :meth:`transaction`. ``directory`` is the state directory (a temporary one, removed at stop, when none is
    given): what a service keeps as files (blob content) goes below it."""

    def __init__(self, state_dir: str | os.PathLike[str] | None, public_ca_dir: str | os.PathLike[str] | None = None,
                 location: str = "local") -> None:
        self._temporary = state_dir is None
        self.directory = Path(tempfile.mkdtemp(prefix="azs-emulator-")) if state_dir is None else Path(state_dir)
        self._store: Store | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            os.chmod(self.directory, 0o700)
            self._store = Store(self.directory / STORE_FILE, durable=not self._temporary)
            self.data = cast(StateData, StateView(self._store, self._load_or_create(self._store, location)))
            self.root_ca = self._load_or_create_ca(self.directory, ROOT_CA_FILE, ROOT_CA_KEY_FILE, ROOT_COMMON_NAME)
            # The CA of the Azure AD sign-in host: "public", i.e. not the Stack's.
            self.public_ca_directory = Path(public_ca_dir) if public_ca_dir else self.directory
            self.public_ca_directory.mkdir(parents=True, exist_ok=True)
            self.public_ca = self._load_or_create_ca(self.public_ca_directory, PUBLIC_CA_CERT_FILE, PUBLIC_CA_KEY_FILE,
                                                     PUBLIC_COMMON_NAME)
        except StoreInUse:
            self.close()
            raise EmulatorError(f"the emulator state directory {self.directory} is in use by another emulator; "
                                "stop that one or give another --state-dir") from None
        except (OSError, sqlite3.DatabaseError) as exc:
            self.close()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise EmulatorError(f"cannot use the emulator state directory {self.directory}: {reason}; "
                                "choose a writable --state-dir, or remove this one to start afresh") from None
        except BaseException:  # a corrupt state.json, Ctrl-C: the store's lock is not kept
            self.close()
            raise

    @property
    def lock(self) -> threading.RLock:
        """Held by the transaction under way (one at a time)."""
        assert self._store is not None
        return self._store.lock

    def transaction(self) -> AbstractContextManager[Session]:
        """One request's unit of work: what it changes is committed when it ends, or nothing of it when it raises."""
        assert self._store is not None
        return self._store.transaction()

    def _load_or_create(self, store: Store, location: str) -> dict[str, Any]:
        """The fixed values of the kept state; a state made (or migrated from an older ``state.json``) first."""
        with store.transaction() as session:
            if session.get(VALUES, "location") is ABSENT:
                older = self.directory / STATE_FILE
                data, _ = upgraded(_read_state_file(older)) if older.exists() else (_new_state(location), True)
                for name, value in cast(dict[str, Any], data).items():
                    if name in KEYED_SECTIONS:
                        for key, document in value.items():
                            session.put(name, key, document)
                    else:
                        session.put(VALUES, name, value)
            for name, make in _SECTION_DEFAULTS.items():  # what an older state lacks
                if name not in KEYED_SECTIONS and session.get(VALUES, name) is ABSENT:
                    session.put(VALUES, name, make())
            fixed = {name: session.get(VALUES, name) for name in FIXED_VALUES}
        older = self.directory / STATE_FILE
        if older.exists():  # migrated and committed: kept aside (an older emulator must not serve it as current)
            older.replace(self.directory / MIGRATED_STATE_FILE)
        return fixed

    @staticmethod
    def _load_or_create_ca(directory: Path, cert_file: str, key_file: str, common_name: str) -> CertificatePair:
        cert_path, key_path = directory / cert_file, directory / key_file
        if cert_path.exists() and key_path.exists():
            return CertificatePair(cert_path.read_bytes(), key_path.read_bytes())
        ca = create_root_ca(common_name=common_name)
        write_private_file(key_path, ca.key_pem)
        write_private_file(cert_path, ca.cert_pem)
        os.chmod(cert_path, 0o644)
        return ca

    @property
    def root_ca_path(self) -> Path:
        return self.directory / ROOT_CA_FILE

    @property
    def public_ca_cert_path(self) -> Path:
        return self.public_ca_directory / PUBLIC_CA_CERT_FILE

    # -- the listeners' ports (the server's section) -----------------------------------------------

    def kept_port(self, which: KeptPort) -> int:
        """The port that listener had before (0: none yet)."""
        return int(self.data[which])

    def vault_port(self, vault: str) -> int:
        """The port of a vault's data-plane listener before (0: none yet)."""
        return int(self.data["vault_ports"].get(vault.lower(), 0))

    def record_port(self, which: KeptPort, port: int) -> None:
        self.data[which] = port

    def record_vault_port(self, vault: str, port: int) -> None:
        self.data["vault_ports"][vault.lower()] = port

    def save(self) -> None:
        """Nothing to do: the transaction under way commits what changed when it ends. (Owners' methods still call
        it where a change is complete.)"""

    def close(self) -> None:
        """Close the store (once the request under way has ended); remove a temporary state directory."""
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._temporary:
            shutil.rmtree(self.directory, ignore_errors=True)


def _read_state_file(path: Path) -> dict[str, Any]:
    """The whole state as an older emulator kept it (``state.json``)."""
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        kept = None
    if not isinstance(kept, dict) or not isinstance(kept.get("location"), str):
        raise EmulatorError(f"the emulator state file {path} is corrupt; remove the directory to start afresh")
    return kept


class DocumentStore:
    """Documents of one kind (locks, policy definitions, a group's deployments, ...) keyed case-insensitively: how a
    backend keeps its section of :class:`StateData`. It wraps the section itself (a store's :class:`Section`, or a
    document's nested mapping), so what it changes is what the request's transaction commits."""

    def __init__(self, documents: dict[str, Document]) -> None:
        self._documents = documents

    def get(self, key: str) -> Document | None:
        return self._documents.get(key.lower())

    def put(self, key: str, document: Document) -> bool:
        """Keep ``document`` under ``key``; whether one was there before."""
        existed = key.lower() in self._documents
        self._documents[key.lower()] = document
        return existed

    def pop(self, key: str) -> Document | None:
        return self._documents.pop(key.lower(), None)

    def __contains__(self, key: str) -> bool:
        return key.lower() in self._documents

    def __bool__(self) -> bool:
        return bool(self._documents)

    def values(self) -> list[Document]:
        """Every document, in the order of their keys as stored (insertion order)."""
        return list(self._documents.values())

    def by_id(self) -> list[Document]:
        """Every document, ordered by ``id`` case-insensitively (as lists answer)."""
        return sorted(self._documents.values(), key=lambda document: str(document["id"]).lower())


class PerOwnerStore:
    """A section of :class:`StateData` whose documents each belong to one resource (a vault's secrets, its
    certificates): the owner's lower-cased name -> its documents. They go when the owner is forgotten."""

    def __init__(self, section: dict[str, dict[str, Any]]) -> None:
        self._section = section

    def of(self, owner: str) -> dict[str, Any]:
        """The documents of ``owner``, by lower-cased name (changed in place, within the request)."""
        return self._section.setdefault(owner.lower(), {})

    def forget(self, owner: str) -> None:
        self._section.pop(owner.lower(), None)
