"""The one CA bundle the project verifies its Stack with, handed to every client explicitly.

It holds the public CAs of this venv's certifi, the Stack's root CA (``certs/azure-stack-root.pem``, or the
emulator's under ``scripts/test_against_emulator.py``) and, where you set them, the bundles your machine names in
``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, ``SSL_CERT_FILE`` or ``PIP_CERT`` (a corporate proxy's CA, say). Trust only adds:
those variables stay set for your package installs, and none of them can replace this bundle, because every client
of :mod:`clients` gets its path (azure-core's ``connection_verify``) rather than looking for one in the environment.

``scripts/bootstrap.py`` writes such a bundle into the venv (:data:`BUNDLE_NAME`); what it holds is added too. When
certifi's bundle lacks a certificate named here, the bundle is made for this run in a private temporary file.
"""

from __future__ import annotations

import atexit
import os
import re
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

USER_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "PIP_CERT")
BUNDLE_NAME = "azs-ca-bundle.pem"  # in the venv's folder (.venv, or .venv-emulator against an emulator)
LARGEST_BUNDLE = 16 * 1024 * 1024  # a CA bundle is a few hundred kB
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----\r?\n.+?-----END CERTIFICATE-----", re.DOTALL)
_made: dict[tuple[str, ...], str] = {}  # the bundle made for each set of sources, in this process


def _certificates(path: Path, what: str) -> list[str]:
    """The PEM certificates in ``path`` (a regular file, bounded); [] with a warning when it cannot be read."""
    from .files import ConfigError

    try:
        with path.open("rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise ConfigError(f"{what} {path} is not a regular file")
            text = handle.read(LARGEST_BUNDLE + 1).decode("ascii", "replace")
    except OSError as exc:
        if what.startswith("the Stack's"):
            raise ConfigError(f"{what} {path} cannot be read ({exc.strerror or exc}); restore it "
                              "(azs-scaffold upgrade) or put the Stack's root CA there in PEM format") from None
        print(f"warning: {what} {path} cannot be read ({exc.strerror or exc}); not trusting it", file=sys.stderr)
        return []
    if len(text) > LARGEST_BUNDLE:
        print(f"warning: {what} {path} is larger than {LARGEST_BUNDLE} bytes; not trusting it", file=sys.stderr)
        return []
    return [block.replace("\r\n", "\n") for block in _PEM.findall(text)]


def user_bundles() -> dict[Path, str]:
    """The CA bundles the environment names (each once, with the first variable naming it), for the corporate CAs
    they hold."""
    named: dict[Path, str] = {}
    for name in USER_BUNDLE_VARIABLES:
        if os.environ.get(name, "").strip():
            named.setdefault(Path(os.environ[name].strip()), name)
    return named


def stack_bundle(config: Any) -> str:
    """The path of the bundle to verify the Stack with (see the module's description); made once per process."""
    import certifi

    base = Path(certifi.where())  # a CA added to it after bootstrap (azs-scaffold emulator trust) counts too
    installed = Path(sys.prefix) / BUNDLE_NAME
    sources = [(installed, "the project's bundle")] if installed.is_file() else []
    sources += [(config.ca_cert, "the Stack's root CA")] if config.ca_cert else []
    sources += [(path, f"the CA bundle {name} names,") for path, name in user_bundles().items()]
    key = (str(base), *(str(path) for path, _ in sources))
    if key in _made:
        return _made[key]
    have = _certificates(base, "the venv's CA bundle")
    flat = {"".join(block.split()) for block in have}
    added = []
    for path, what in sources:
        for block in _certificates(Path(path), what):
            if "".join(block.split()) not in flat:
                flat.add("".join(block.split()))
                added.append(block)
    if not added:
        _made[key] = str(base)
        return str(base)
    descriptor, name = tempfile.mkstemp(prefix="azs-ca-bundle-", suffix=".pem")  # private (0600), removed at exit
    atexit.register(os.unlink, name)
    with os.fdopen(descriptor, "w", encoding="ascii") as bundle:
        bundle.write("\n".join([*have, *added]) + "\n")
    _made[key] = name
    return name


def tls_diagnosis(sign_in: bool = False) -> str:
    """Why TLS to the Stack (or, with ``sign_in``, to its sign-in host) failed, and what to do."""
    venv = Path(sys.prefix).name if sys.prefix != sys.base_prefix else ".venv"
    if sign_in:
        return (f"TLS verification of the sign-in host failed: no CA of the project's bundle ({venv}'s certifi, "
                "certs/azure-stack-root.pem and the bundles your CA variables name) signs its certificate. An ADFS "
                "Stack's sign-in host is on the Stack's root: check certs/azure-stack-root.pem is that root. Azure AD's "
                "chains to a public CA certifi holds: reinstall certifi (python scripts/bootstrap.py). Against "
                "azs-scaffold's emulator (Azure AD), trust its stand-in public CA: azs-scaffold emulator trust "
                f"--python {venv}/bin/python --info-file INFO")
    return (f"TLS verification failed: the Stack's certificate is not trusted in {venv}; no CA of the project's bundle "
            "(its certifi, certs/azure-stack-root.pem and the bundles your CA variables name) signs it: put the Stack's "
            "root CA (PEM) in certs/azure-stack-root.pem (its operator has it) and run python scripts/bootstrap.py again")
