"""The SSH key pair sample VMs are signed in to with: made once in the project's git-ignored ``.ssh/``, the private
key private (mode 0600) from its first byte and never printed."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from .files import ConfigError
from .settings import ROOT


def ssh_key_pair(folder: Path = ROOT / ".ssh", name: str = "azs_sample_vm") -> tuple[Path, str]:
    """(private key path, public key line) of the pair in ``folder``, made on first use."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private_path, public_path = folder / name, folder / f"{name}.pub"
    folder.mkdir(mode=0o700, exist_ok=True)
    try:
        # RSA: the key type every Azure Stack Hub release accepts for Linux VMs.
        key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                           serialization.NoEncryption()))
    except FileExistsError:  # made by an earlier run: keep using it, if it is still private and readable
        key = _reused_private_key(private_path)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    line = f"{public} azs-scaffold-sample"
    if not public_path.exists():
        public_path.write_text(line + "\n", encoding="utf-8")
    return private_path, line


def _reused_private_key(path: Path) -> Any:
    """The private key an earlier run made at ``path``; refused in one line when it is a dangling link, unreadable,
    damaged, or readable by others (ssh itself refuses such a key)."""
    from cryptography.hazmat.primitives import serialization

    remedy = f"delete {path} and {path.name}.pub to have a new pair made"
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        with path.open("rb") as handle:  # a private key is a few kB: never read more than 64 kB
            data = handle.read(64 * 1024)
    except OSError as exc:
        raise ConfigError(f"the sample VM's SSH key {path} cannot be read ({exc.strerror or exc}); {remedy}") from None
    if os.name != "nt" and mode & 0o077:
        raise ConfigError(f"the sample VM's SSH key {path} is readable by others (mode {mode:04o}); run chmod 600 {path}, "
                          f"or {remedy}")
    try:
        return serialization.load_ssh_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"the sample VM's SSH key {path} is not an unencrypted OpenSSH private key ({exc}); {remedy}") from None
