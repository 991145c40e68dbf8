"""The emulator's persistent state: identity, PKI, provider registrations and resources.

Without a state directory everything lives in a temporary directory removed at stop. With one, the
CA, the credentials and every resource survive restarts, so restarting with another
``--stack-version`` emulates a Stack upgrade.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

from generator.emulator.certificates import PUBLIC_COMMON_NAME, ROOT_COMMON_NAME, CertificatePair, create_root_ca
from generator.emulator.errors import EmulatorError
from generator.emulator.private_file import write_private_file

STATE_FILE = "state.json"
CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca.key"
PUBLIC_CA_CERT_FILE = "public-ca.pem"
PUBLIC_CA_KEY_FILE = "public-ca.key"


def _new_identity(location: str) -> dict[str, Any]:
    return {
        "tenant_id": str(uuid.uuid4()),
        "tenant_domain": "azsemulator.onmicrosoft.com",
        "client_id": str(uuid.uuid4()),
        "client_secret": secrets.token_urlsafe(32),
        "subscription_id": str(uuid.uuid4()),
        "admin_subscription_id": str(uuid.uuid4()),
        "audience_app_id": str(uuid.uuid4()),
        "admin_audience_app_id": str(uuid.uuid4()),
        "location": location,
        "providers": {},
        "resource_groups": {},
        "resources": {},
        "storage_keys": {},
    }


class EmulatorState:
    """Thread-safe state; ``lock`` guards ``data``, and :meth:`save` persists it."""

    def __init__(self, state_dir: str | os.PathLike[str] | None, public_ca_dir: str | os.PathLike[str] | None = None,
                 location: str = "local") -> None:
        self.lock = threading.RLock()
        self._temporary = state_dir is None
        self.directory = Path(tempfile.mkdtemp(prefix="azs-emulator-")) if state_dir is None else Path(state_dir)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            os.chmod(self.directory, 0o700)
            self.data = self._load_or_create(location)
            self.ca = self._load_or_create_ca(self.directory, CA_CERT_FILE, CA_KEY_FILE, ROOT_COMMON_NAME)
            # The CA of the Azure AD sign-in host: "public", i.e. not the Stack's.
            self.public_ca_directory = Path(public_ca_dir) if public_ca_dir else self.directory
            self.public_ca_directory.mkdir(parents=True, exist_ok=True)
            self.public_ca = self._load_or_create_ca(self.public_ca_directory, PUBLIC_CA_CERT_FILE, PUBLIC_CA_KEY_FILE,
                                                     PUBLIC_COMMON_NAME)
        except OSError as exc:
            raise EmulatorError(
                f"cannot use the emulator state directory {self.directory}: {exc.strerror or exc}; "
                "choose a writable --state-dir"
            ) from None

    def _load_or_create(self, location: str) -> dict[str, Any]:
        path = self.directory / STATE_FILE
        if path.exists():
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                raise EmulatorError(
                    f"the emulator state file {path} is corrupt; remove the directory to start afresh"
                ) from None
        data = _new_identity(location)
        write_private_file(path, json.dumps(data, indent=2).encode())
        return data

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
    def ca_cert_path(self) -> Path:
        return self.directory / CA_CERT_FILE

    @property
    def public_ca_cert_path(self) -> Path:
        return self.public_ca_directory / PUBLIC_CA_CERT_FILE

    def save(self) -> None:
        """Persist the state (callers hold ``lock``)."""
        if not self._temporary:
            write_private_file(self.directory / STATE_FILE, json.dumps(self.data, indent=2).encode())

    def close(self) -> None:
        """Remove a temporary state directory; a user-given one is kept."""
        if self._temporary:
            shutil.rmtree(self.directory, ignore_errors=True)
