"""Key Vault's certificates data plane on the emulator, driven by azure-keyvault-certificates at 2016-10-01 (the
version a Stack's vaults serve, as Azure CLI sends it under the hybrid profiles): a self-signed certificate is issued,
its managed secret holds the key, imports keep what they are given, and access policies and the release apply."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.keyvault.certificates import CertificateClient, CertificateContentType, CertificatePolicy, KeyUsageType
from azure.keyvault.secrets import SecretClient
from azure.mgmt.keyvault import KeyVaultManagementClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from tests import sdk

DATA_PLANE = "2016-10-01"
EVERY_CERTIFICATE_PERMISSION = ["get", "list", "delete", "create", "import", "update", "purge"]


def _vault(start_emulator, name, release, identity, certificate_permissions, secret_permissions=("get", "list")):
    """A vault of its own name per test: the Key Vault clients cache a vault's challenge (its tenant) by its URL."""
    info, profile, _ = sdk.stack_with_group(start_emulator, release, identity, "Microsoft.KeyVault")
    keyvault = sdk.client(KeyVaultManagementClient, info, profile)
    create = getattr(keyvault.vaults, "begin_create_or_update", None) or keyvault.vaults.create_or_update  # 2016-10-01: not LRO
    vault = create("rg", name, {"location": "local", "properties": {
        "tenant_id": info["tenant_id"], "sku": {"family": "A", "name": "standard"},
        "access_policies": [{"tenant_id": info["tenant_id"], "object_id": sdk.object_id(info), "permissions": {
            "certificates": certificate_permissions, "secrets": list(secret_permissions)}}]}})
    vault = vault.result() if hasattr(vault, "result") else vault
    options = {"api_version": DATA_PLANE, "connection_verify": info["keyvault_ca_cert"]}
    return (info, CertificateClient(vault.properties.vault_uri, sdk.credential(info), **options),
            SecretClient(vault.properties.vault_uri, sdk.credential(info), **options))


@pytest.mark.parametrize(("release", "identity"), [("2108", "azure_ad"), ("2008", "adfs"), ("azure", "azure_ad")])
def test_a_self_signed_certificate_is_issued_with_its_key_in_a_managed_secret(start_emulator, release, identity):
    info, certificates, secrets = _vault(start_emulator, f"issued{release}{identity[:3]}", release, identity, EVERY_CERTIFICATE_PERMISSION)
    policy = CertificatePolicy(issuer_name="Self", subject="C=US, ST=WA, O=Contoso, CN=www.contoso.test",
                               san_dns_names=["www.contoso.test"], validity_in_months=24,
                               key_usage=[KeyUsageType.digital_signature, KeyUsageType.key_encipherment])
    answers = []  # (method, status, operation status) of each response: the poller's thread reads at once
    poller = certificates.begin_create_certificate("web", policy, tags={"team": "web"}, _polling_interval=0.1,
                                                   raw_response_hook=lambda response: answers.append(
                                                       (response.http_request.method, response.http_response.status_code,
                                                        response.http_response.json().get("status"))))
    created = poller.result()
    # The vault answers the request (after Key Vault's 401 challenge) before it issues.
    assert [answer for answer in answers if answer[1] != 401][0] == ("POST", 202, "inProgress"), answers

    cert = x509.load_der_x509_certificate(bytes(created.cer))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "www.contoso.test"
    assert cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "US"
    assert cert.issuer == cert.subject  # self-signed
    assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == ["www.contoso.test"]
    assert 700 <= (cert.not_valid_after_utc - cert.not_valid_before_utc).days <= 740
    assert bytes(created.properties.x509_thumbprint) == hashlib.sha1(bytes(created.cer)).digest()
    assert created.properties.tags == {"team": "web"} and created.properties.enabled
    assert created.id == f"{certificates.vault_url}/certificates/web/{created.properties.version}"
    assert created.key_id.endswith(f"/keys/web/{created.properties.version}")

    # Key Vault fills in what the policy leaves out.
    assert created.policy.key_type == "RSA" and created.policy.key_size == 2048 and created.policy.exportable
    assert created.policy.content_type == "application/x-pkcs12"
    assert created.policy.enhanced_key_usage == ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]
    assert created.policy.lifetime_actions[0].lifetime_percentage == 80

    operation = certificates.get_certificate_operation("web")
    assert operation.status == "completed" and operation.target == f"{certificates.vault_url}/certificates/web"
    assert operation.csr  # the request the key signed

    # The managed secret of the same name and version holds the key and the certificate (a PFX without a password).
    secret = secrets.get_secret("web", created.properties.version)
    assert secret.properties.content_type == "application/x-pkcs12" and secret.properties.managed
    assert secret.properties.key_id == created.key_id
    key, pfx_cert, _ = pkcs12.load_key_and_certificates(base64.b64decode(secret.value), None)
    assert pfx_cert.public_bytes(serialization.Encoding.DER) == bytes(created.cer)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()

    # A second create makes a new version; listings show each.
    again = certificates.begin_create_certificate("web", CertificatePolicy.get_default(), _polling_interval=0.1).result()
    assert again.properties.version != created.properties.version
    assert {v.version for v in certificates.list_properties_of_certificate_versions("web")} == {
        created.properties.version, again.properties.version}
    assert [c.name for c in certificates.list_properties_of_certificates()] == ["web"]
    assert certificates.get_certificate_version("web", created.properties.version).cer == created.cer
    assert len([s for s in secrets.list_properties_of_secret_versions("web") if s.enabled]) == 2

    # Properties and policy change in place.
    disabled = certificates.update_certificate_properties("web", created.properties.version, enabled=False)
    assert not disabled.properties.enabled
    assert not secrets.get_secret("web", created.properties.version).properties.enabled
    updated = certificates.update_certificate_policy("web", CertificatePolicy(issuer_name="Self", subject="CN=renamed",
                                                                             validity_in_months=6))
    assert updated.subject == "CN=renamed" and certificates.get_certificate_policy("web").validity_in_months == 6

    deleted = certificates.begin_delete_certificate("web").result()
    assert deleted.name == "web"
    if release == "azure":  # soft delete: held until purged
        certificates.purge_deleted_certificate("web")
    with pytest.raises(ResourceNotFoundError):
        certificates.get_certificate("web")
    with pytest.raises(ResourceNotFoundError):
        secrets.get_secret("web")


def _key_and_certificate() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "imported.contoso.test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + dt.timedelta(days=365))
            .sign(key, hashes.SHA256()))
    return key, cert


def _pfx(password: bytes) -> tuple[bytes, x509.Certificate]:
    key, cert = _key_and_certificate()
    return pkcs12.serialize_key_and_certificates(b"x", key, cert, None,
                                                 serialization.BestAvailableEncryption(password)), cert


def test_an_imported_pfx_keeps_its_certificate_and_its_issuer_is_unknown(start_emulator):
    _, certificates, secrets = _vault(start_emulator, "imported", "2108", "azure_ad", EVERY_CERTIFICATE_PERMISSION)
    pfx, cert = _pfx(b"pfx-password")
    imported = certificates.import_certificate("imported", pfx, password="pfx-password")
    assert bytes(imported.cer) == cert.public_bytes(serialization.Encoding.DER)
    assert imported.policy.issuer_name == "Unknown" and imported.policy.subject == "CN=imported.contoso.test"
    assert imported.policy.key_size == 2048
    key, held, _ = pkcs12.load_key_and_certificates(base64.b64decode(secrets.get_secret("imported").value), None)
    assert held == cert and key is not None

    with pytest.raises(HttpResponseError) as raised:
        certificates.import_certificate("wrong", pfx, password="not-it")
    assert raised.value.status_code == 400


def test_a_stacks_vault_refuses_what_2016_10_01_does_not_have_and_what_the_policy_does_not_grant(start_emulator):
    _, certificates, _ = _vault(start_emulator, "readonly", "2108", "azure_ad", ["get", "list"])
    with pytest.raises(HttpResponseError) as raised:
        certificates.begin_create_certificate("web", CertificatePolicy.get_default())
    assert raised.value.status_code == 403 and "certificates create permission" in str(raised.value)
    assert list(certificates.list_properties_of_certificates()) == []
    with pytest.raises(ResourceNotFoundError):
        certificates.get_certificate("missing")


def test_only_the_self_issuer_and_rsa_keys_are_served(start_emulator):
    _, certificates, _ = _vault(start_emulator, "selfonly", "2108", "azure_ad", EVERY_CERTIFICATE_PERMISSION)
    for policy in (CertificatePolicy(issuer_name="DigiCert", subject="CN=a"),  # no issuer providers set up
                   CertificatePolicy(issuer_name="Self", subject="CN=a", key_type="EC")):  # no curves in 2016-10-01
        with pytest.raises(HttpResponseError) as raised:
            certificates.begin_create_certificate("web", policy)
        assert raised.value.status_code == 400


@pytest.mark.parametrize("order", ["key first", "certificate first"])
def test_a_pem_import_through_the_sdk_is_read_and_its_policy_can_change(start_emulator, order):
    """The SDK sends a PEM import base64-encoded, as the spec's value is; the imported certificate's policy (issuer
    Unknown) can be updated afterwards."""
    # A vault name per case: the SDK caches each vault host's challenge (its tenant) for the process.
    _, certificates, secrets = _vault(start_emulator, f"pem{order[:3]}", "2108", "azure_ad", EVERY_CERTIFICATE_PERMISSION)
    key, cert = _key_and_certificate()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    pem = key_pem + cert_pem if order == "key first" else cert_pem + key_pem
    imported = certificates.import_certificate("pem", pem, policy=CertificatePolicy(
        issuer_name="Unknown", content_type=CertificateContentType.pem))
    assert bytes(imported.cer) == cert.public_bytes(serialization.Encoding.DER)
    assert "-----BEGIN CERTIFICATE-----" in secrets.get_secret("pem").value

    updated = certificates.update_certificate_policy("pem", CertificatePolicy(lifetime_actions=[]))
    assert updated.issuer_name == "Unknown"


def test_a_certificates_managed_secret_is_changed_only_through_the_certificate(start_emulator):
    _, certificates, secrets = _vault(start_emulator, "managed", "2108", "azure_ad", EVERY_CERTIFICATE_PERMISSION,
                                      secret_permissions=("get", "list", "set", "delete"))
    pfx, _ = _pfx(b"pfx-password")
    certificates.import_certificate("web", pfx, password="pfx-password")
    for attempt in (lambda: secrets.set_secret("web", "replaced"), lambda: secrets.begin_delete_secret("web").result()):
        with pytest.raises(HttpResponseError) as refused:
            attempt()
        assert refused.value.status_code == 403 and "managed secret" in str(refused.value)
    assert secrets.get_secret("web").properties.managed
    assert certificates.update_certificate_properties("web", enabled=False).properties.enabled is False
