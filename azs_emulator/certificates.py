"""The emulator's own PKI: a self-signed root CA and a TLS leaf for loopback.

Both pass the strict X.509 checks Python 3.13 enables by default (VERIFY_X509_STRICT): the root
carries critical basicConstraints, keyUsage and a subject key identifier; the leaf carries an
authority key identifier and a subjectAltName.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The ASDK's root goes by this name; the emulator's says what it is.
ROOT_COMMON_NAME = "AzureStackSelfSignedRootCert (azs-scaffold emulator)"
# Stands in for the public CA behind login.microsoftonline.com (trusted through certifi on real machines).
PUBLIC_COMMON_NAME = "Public identity root (azs-scaffold emulator)"
# X.520 (RFC 5280, ub-common-name) holds a common name to 64 characters; a longer host name (a long --region and
# --fqdn) is named in the subject alternative names only, which is what TLS clients check (RFC 6125).
MAX_COMMON_NAME = 64
SERVER_COMMON_NAME = "azs-scaffold emulator"


@dataclass(frozen=True)
class CertificatePair:
    """A certificate and its private key, both PEM-encoded."""

    cert_pem: bytes
    key_pem: bytes


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "azs-scaffold"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _validity(days: int) -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.timezone.utc)
    return now - dt.timedelta(hours=1), now + dt.timedelta(days=days)


def _key_usage(certificate_authority: bool) -> x509.KeyUsage:
    """A CA signs certificates and CRLs; an EC server key signs and agrees keys (ECDHE), it never enciphers."""
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                         key_agreement=not certificate_authority, key_cert_sign=certificate_authority,
                         crl_sign=certificate_authority, encipher_only=False, decipher_only=False)


def create_root_ca(days: int = 3650, common_name: str = ROOT_COMMON_NAME) -> CertificatePair:
    """Create a self-signed root CA (EC P-256: generated in a millisecond, unlike RSA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    not_before, not_after = _validity(days)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(certificate_authority=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificatePair(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))


def create_server_certificate(ca: CertificatePair, hosts: list[str], days: int = 825) -> CertificatePair:
    """Create a TLS server certificate for ``hosts`` (names or IP addresses), signed by ``ca``."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):  # create_root_ca makes EC keys; another is not ours
        raise ValueError("the emulator's CA key is not an elliptic-curve key")
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt_names.append(x509.DNSName(host))
    not_before, not_after = _validity(days)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0] if len(hosts[0]) <= MAX_COMMON_NAME else SERVER_COMMON_NAME))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(certificate_authority=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return CertificatePair(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))
