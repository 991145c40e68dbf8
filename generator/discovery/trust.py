"""The CA bundle discovery trusts: the Stack's root CA file, checked, or certifi's bundle."""

from __future__ import annotations

from pathlib import Path

from generator.discovery.http import DiscoveryError

_PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"


def ca_bundle(ca_cert: str | None) -> str:
    """The path to verify TLS with: ``ca_cert`` after checking it holds PEM certificates, else certifi's."""
    if ca_cert is None:
        import certifi

        return certifi.where()
    read_ca_pem(ca_cert)
    return str(Path(ca_cert).expanduser().resolve())


def read_ca_pem(ca_cert: str) -> str:
    """The PEM text of the CA file ``ca_cert``, checked and with LF line endings."""
    path = Path(ca_cert).expanduser()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DiscoveryError(f"--ca-cert {ca_cert}: no such file; give the path of the Stack's root CA in PEM format") from None
    except OSError as exc:
        raise DiscoveryError(f"--ca-cert {ca_cert}: cannot read it ({exc.strerror}); check its permissions") from None
    if _PEM_BEGIN not in data:
        if data[:1] == b"\x30":
            raise DiscoveryError(
                f"--ca-cert {ca_cert} is a DER (binary) certificate; convert it to PEM first: "
                f"openssl x509 -inform der -in {ca_cert} -out root.pem"
            )
        raise DiscoveryError(
            f"--ca-cert {ca_cert} holds no PEM certificate (no '-----BEGIN CERTIFICATE-----' line); "
            "export the Stack's root CA as Base-64 encoded X.509 (.pem/.cer)"
        )
    from cryptography import x509

    text = data.replace(b"\r\n", b"\n")
    try:
        x509.load_pem_x509_certificates(text)
    except ValueError:
        raise DiscoveryError(f"--ca-cert {ca_cert}: a PEM certificate in it is damaged; export the root CA again") from None
    return text.decode("ascii", "replace").strip() + "\n"
