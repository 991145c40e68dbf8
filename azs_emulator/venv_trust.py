"""``azs-scaffold emulator trust``: make a virtual environment trust an emulator's stand-in public CA.

A real Azure AD Stack signs in at login.microsoftonline.com, whose CA every certifi already holds; the
emulator's sign-in host has a CA of its own standing in for it. A project's venv trusts it only when told:
this adds the CA to that venv's certifi bundle and touches nothing else. The bundle is replaced (a new file
renamed over it), never appended to: uv hard-links it from its cache, and an append would change every venv
sharing that file.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from azs_emulator.errors import EmulatorUsageError

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----", re.DOTALL)
_MARK = "# azs-scaffold emulator: stand-in for the public CA of an Azure AD sign-in host (not for a real Stack)\n"


def stand_in_ca_of_info(info: dict) -> Path | None:
    """The same, from an emulator's info (``Emulator.info()``)."""
    identity_ca, stack_ca = info["identity_ca_cert"], info["root_ca"]
    return None if identity_ca == stack_ca else Path(identity_ca)


def certifi_bundle_of(python: str) -> Path:
    """The certifi bundle the interpreter ``python`` (a venv's) uses."""
    try:
        found = subprocess.run([python, "-c", "import certifi; print(certifi.where())"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EmulatorUsageError(f"--python {python}: cannot run it ({getattr(exc, 'strerror', None) or exc}); give a venv's "
                         "python, e.g. .venv/bin/python") from None
    bundle = Path(found.stdout.strip().splitlines()[-1]) if found.stdout.strip() else None
    # What it printed must be a bundle: a program that is no Python (/bin/echo) prints something else, or nothing.
    if found.returncode != 0 or bundle is None or not bundle.is_absolute() or not bundle.is_file():
        raise EmulatorUsageError(f"--python {python} is not a Python with certifi (it printed no certifi bundle); give a "
                                 "venv's python, e.g. .venv/bin/python, after the project's bootstrap (python scripts/bootstrap.py)")
    return bundle


def trust_in_venv(python: str, ca_file: Path) -> str:
    """Add the certificates of ``ca_file`` (an emulator's own) as :func:`trust_pem_in_venv` does; a sentence saying
    what was done."""
    try:
        pem = ca_file.read_bytes()
    except OSError as exc:
        raise EmulatorUsageError(f"cannot read the CA file {ca_file}: {exc.strerror or exc}") from None
    return trust_pem_in_venv(python, pem, ca_file)


def trust_pem_in_venv(python: str, pem: bytes, ca_file: Path) -> str:
    """Add the certificates in ``pem`` (read from ``ca_file`` by the caller: a user's file is read bounded) to the
    certifi bundle of ``python``'s venv, and to the project's own bundle beside it (``<venv>/azs-ca-bundle.pem``,
    which a generated project's bootstrap writes and its clients are handed), when there is one; a sentence saying
    what was done."""
    wanted = _PEM.findall(pem)
    if not wanted:
        raise EmulatorUsageError(f"{ca_file} holds no PEM certificate")
    bundle = certifi_bundle_of(python)
    project_bundle = Path(python).parent.parent / "azs-ca-bundle.pem"
    done = [_add_to(bundle, wanted)] + ([_add_to(project_bundle, wanted)] if project_bundle.is_file() else [])
    if not any(done):
        return f"{bundle} already trusts {ca_file.name}"
    return f"{bundle} now trusts {ca_file.name} (the emulator's stand-in for a public CA)"


def _add_to(bundle: Path, wanted: list[bytes]) -> bool:
    """Add to ``bundle`` those of ``wanted`` it lacks (a new file renamed over it); whether any was missing."""
    try:
        current = bundle.read_bytes()
        flat = b"".join(current.split())
        missing = [pem for pem in wanted if b"".join(pem.split()) not in flat]
        if not missing:
            return False
        added = b"".join(b"\n" + _MARK.encode() + pem.replace(b"\r\n", b"\n") + b"\n" for pem in missing)
        partial = bundle.with_name(f".{bundle.name}.{os.getpid()}.partial")
        try:
            partial.write_bytes(current.rstrip(b"\n") + b"\n" + added)
            partial.chmod(bundle.stat().st_mode & 0o777)
            os.replace(partial, bundle)
        finally:
            partial.unlink(missing_ok=True)
    except OSError as exc:
        raise EmulatorUsageError(f"cannot update {bundle}: {exc.strerror or exc}; is the venv yours and writable?") from None
    return True
