"""What discovery trusts: the public CAs plus the Stack's root CA, never one instead of the other.

A real Azure AD Stack serves its Resource Manager under its own root CA while sign-in happens at
``login.microsoftonline.com``, under a public CA; an ADFS Stack signs in at another host on its own
CA. Every request therefore verifies against one bundle holding both, exactly as the generated
project's venv does (its bootstrap appends the Stack's root to certifi's bundle).

The public CAs are certifi's, or the bundle named by ``REQUESTS_CA_BUNDLE`` / ``SSL_CERT_FILE`` where
the machine sets one (a corporate proxy's CA, say).
"""

from __future__ import annotations

import os
import re
import ssl
from pathlib import Path

from generator._util.files import FileTooLarge, NotARegularFile, read_regular_file, why_unreadable
from generator.discovery.http import DiscoveryError

# A root CA file is a few kB; a chain with intermediates a few dozen. Beyond this it is not a CA file.
MAX_CA_FILE_BYTES = 1024 * 1024
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.DOTALL)
_contexts: dict[tuple[str, str], ssl.SSLContext] = {}


def public_ca_bundle() -> str:
    """The bundle of publicly trusted CAs: the environment's choice, else certifi's."""
    for variable in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        if os.environ.get(variable):
            return os.environ[variable]
    import certifi

    return certifi.where()


def tls_context(root_ca: str | None, public: str | None = None) -> ssl.SSLContext:
    """A verifying TLS context that trusts the public CAs plus ``root_ca`` (checked), if given.

    Kept in memory: no bundle file is written, so nothing is left behind and a full disk does not matter.
    """
    public = public or public_ca_bundle()
    stack_pem = read_ca_pem(root_ca) if root_ca else ""
    key = (public, stack_pem)
    if key not in _contexts:
        try:
            context = ssl.create_default_context(cafile=public)
        except (OSError, ssl.SSLError) as exc:
            raise DiscoveryError(
                f"cannot load the public CA bundle {public} ({getattr(exc, 'strerror', None) or exc}); "
                "check REQUESTS_CA_BUNDLE / SSL_CERT_FILE"
            ) from None
        if stack_pem:
            context.load_verify_locations(cadata=stack_pem)
        _contexts[key] = context
    return _contexts[key]


def read_ca_pem(root_ca: str) -> str:
    """The certificates of the CA file ``root_ca`` as PEM text with LF line endings; nothing else of it.

    Refused in one line: a directory, a file over :data:`MAX_CA_FILE_BYTES`, a DER file, a file with no
    certificate, a damaged certificate, and a file that also holds a private key (it must not travel
    into a project's files).
    """
    path = Path(root_ca).expanduser()
    try:
        data = read_regular_file(path, MAX_CA_FILE_BYTES)
    except (IsADirectoryError, NotARegularFile) as exc:
        raise DiscoveryError(f"--root-ca {root_ca}{why_unreadable(exc)}; give the PEM file of the Stack's root CA") from None
    except FileTooLarge as exc:
        raise DiscoveryError(
            f"--root-ca {root_ca} is over the {exc.limit // 1024} kB a CA file may have; give the Stack's root CA alone"
        ) from None
    except FileNotFoundError:
        raise DiscoveryError(f"--root-ca {root_ca}: no such file; give the path of the Stack's root CA in PEM format") from None
    except OSError as exc:
        raise DiscoveryError(f"--root-ca {root_ca}: cannot read it ({exc.strerror}); check its permissions") from None
    blocks = [(match.group(1).decode(), match.group(0)) for match in _PEM_BLOCK.finditer(data.replace(b"\r\n", b"\n"))]
    keys = [kind for kind, _ in blocks if "PRIVATE KEY" in kind]
    if keys:
        raise DiscoveryError(
            f"--root-ca {root_ca} also holds a private key ({keys[0]}); give a file with the CA certificate only "
            "(a key must never be copied into a project)"
        )
    certificates = [block for kind, block in blocks if kind == "CERTIFICATE"]
    if not certificates:
        if data[:1] == b"\x30":
            raise DiscoveryError(
                f"--root-ca {root_ca} is a DER (binary) certificate; convert it to PEM first: "
                f"openssl x509 -inform der -in {root_ca} -out root.pem"
            )
        raise DiscoveryError(
            f"--root-ca {root_ca} holds no PEM certificate (no '-----BEGIN CERTIFICATE-----' block); "
            "export the Stack's root CA as Base-64 encoded X.509 (.pem/.cer)"
        )
    from cryptography import x509

    try:
        for block in certificates:
            x509.load_pem_x509_certificate(block)
    except ValueError:
        raise DiscoveryError(f"--root-ca {root_ca}: a PEM certificate in it is damaged; export the root CA again") from None
    return "".join(block.decode("ascii") + "\n" for block in certificates)
