"""Service principals that sign in with a certificate: discovery, generation and the generated project."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from generator.discovery import DiscoveryError, DiscoveryRequest, ServicePrincipal, discover_stack
from tests.helpers import GENERATOR_COMMAND
from tests.project import run_all_steps


def _certificate(tmp_path, password: bytes | None = None, name: str = "sp"):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "azs-scaffold test principal")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    path = tmp_path / f"{name}.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption) + cert_pem)
    return path, cert_pem.decode()


@pytest.mark.parametrize("identity", ["azure_ad", "adfs"])
def test_discovery_signs_in_with_a_certificate(start_emulator, tmp_path, identity):
    path, cert = _certificate(tmp_path)
    info = start_emulator(identity_system=identity, client_certificates=[cert]).info()
    found = discover_stack(DiscoveryRequest(info["arm_endpoint"], root_ca=info["root_ca"],
                                            principal=ServicePrincipal(info["client_id"], certificate_path=str(path))))
    assert found.credentials_proven and found.profile == "2020_09_01_hybrid"


def test_an_unregistered_certificate_is_refused(start_emulator, tmp_path):
    _, registered = _certificate(tmp_path, name="registered")
    other, _ = _certificate(tmp_path, name="other")
    info = start_emulator(client_certificates=[registered]).info()
    with pytest.raises(DiscoveryError, match="AADSTS700027.*not registered"):
        discover_stack(DiscoveryRequest(info["arm_endpoint"], root_ca=info["root_ca"],
                                        principal=ServicePrincipal(info["client_id"], certificate_path=str(other))))


@pytest.mark.slow
def test_a_certificate_project_runs_end_to_end(start_emulator, template_repo, project_env, tmp_path):
    path, cert = _certificate(tmp_path, password=b"cert-password")
    info = start_emulator(client_certificates=[cert]).info()
    project = tmp_path / "project"
    result = subprocess.run(
        [*GENERATOR_COMMAND, "new", str(project), "--arm-endpoint", info["arm_endpoint"], "--root-ca",
         info["ca_cert"], "--client-id", info["client_id"], "--certificate", str(path), "--certificate-password-env",
         "AZS_CERT_PASSWORD", "--samples", "resource_groups", "--non-interactive", "--template", str(template_repo),
         "--vcs-ref", "HEAD"],
        env={**os.environ, "AZS_CERT_PASSWORD": "cert-password"}, capture_output=True, text=True, timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert not (project / "azureSecretSpConfig.json").exists()
    sp = json.loads((project / "azureCertSpConfig.json").read_text())
    assert sp["certPath"] == str(path) and sp["certPass"] == "cert-password"
    assert stat.S_IMODE(os.stat(project / "azureCertSpConfig.json").st_mode) == 0o600
    assert "cert-password" not in (project / ".copier-answers.yml").read_text()
    run_all_steps(project, project_env)
