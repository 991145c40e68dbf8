"""Bad input to the emulator as a target (docs/reliability.md): what its services refuse is their own 4xx, as
Resource Manager, Key Vault and the blob service answer it, never a 500 or a dropped connection."""

from __future__ import annotations

import base64

import pytest
from azure.core.exceptions import HttpResponseError

pytestmark = pytest.mark.reliability


def test_r147_key_vault_imports_of_the_wrong_shape_are_400(start_emulator):
    """Bodies of the wrong JSON types, a NUL in a PFX password, and a PEM whose key is not the certificate's."""
    from azure.core.rest import HttpRequest
    from azure.keyvault.certificates import CertificateContentType, CertificatePolicy
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.test_emulator_keyvault_certificates import EVERY_CERTIFICATE_PERMISSION, _key_and_certificate, _pfx, _vault

    _, certificates, _ = _vault(start_emulator, "shapes", "2108", "azure_ad", EVERY_CERTIFICATE_PERMISSION)
    pfx, _ = _pfx(b"right")
    value = base64.b64encode(pfx).decode()
    url = f"{certificates.vault_url}/certificates/c6/import?api-version=2016-10-01"
    for body in ({"value": value, "pwd": "righ\u0000t"}, {"value": value, "pwd": 5}, {"value": value, "policy": [1]},
                 [1, 2], {"value": value, "pwd": "right", "policy": {"secret_props": "x"}}):
        answer = certificates.send_request(HttpRequest("POST", url, json=body))
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "BadParameter", (body, answer.text())
    # The vault still answers after all that, and a right import goes through.
    assert certificates.send_request(HttpRequest("POST", url, json={"value": value, "pwd": "right"})).status_code == 200

    key, cert = _key_and_certificate()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()) \
        + cert.public_bytes(serialization.Encoding.PEM)
    with pytest.raises(HttpResponseError) as raised:
        certificates.import_certificate("mismatched", pem, policy=CertificatePolicy(
            issuer_name="Unknown", content_type=CertificateContentType.pem))
    assert raised.value.status_code == 400 and "does not match" in str(raised.value)


def test_r180_blob_requests_the_service_refuses_are_its_4xx(start_emulator):
    """A non-ASCII Shared Key signature, a SAS with its expiry as a date, signed for another IP (sip), and a list
    with maxresults that is no number: the service's 403/400, never a 500 (or a blob served)."""
    import requests
    from azure.storage.blob import BlobSasPermissions, ContainerSasPermissions, generate_blob_sas, generate_container_sas

    from tests.test_emulator_blob import _account, _service

    info, endpoint, key, _ = _account(start_emulator)
    container = _service(info, endpoint, key).create_container("box")
    container.upload_blob("a.txt", b"hello")
    get = lambda url, **options: requests.get(url, verify=info["ca_cert"], timeout=10, **options)  # noqa: E731

    refused = get(f"{endpoint}box/a.txt", headers={"Authorization": "SharedKey acct1:\xe9\xe9\xe9", "x-ms-version": "2019-07-07"})
    assert refused.status_code == 403 and refused.headers["x-ms-error-code"] == "AuthenticationFailed", refused.text
    dated = generate_blob_sas("acct1", "box", "a.txt", account_key=key, permission=BlobSasPermissions(read=True),
                              expiry="2099-01-01")
    assert get(f"{endpoint}box/a.txt?{dated}").content == b"hello"
    elsewhere = generate_blob_sas("acct1", "box", "a.txt", account_key=key, permission=BlobSasPermissions(read=True),
                                  expiry="2099-01-01", ip="10.9.9.9")
    mismatch = get(f"{endpoint}box/a.txt?{elsewhere}")
    assert mismatch.status_code == 403 and mismatch.headers["x-ms-error-code"] == "AuthorizationSourceIPMismatch"
    here = generate_blob_sas("acct1", "box", "a.txt", account_key=key, permission=BlobSasPermissions(read=True),
                             expiry="2099-01-01", ip="127.0.0.0-127.255.255.255")
    assert get(f"{endpoint}box/a.txt?{here}").content == b"hello"
    listing = generate_container_sas("acct1", "box", account_key=key, permission=ContainerSasPermissions(list=True),
                                     expiry="2099-01-01")
    for given, code in (("abc", "InvalidQueryParameterValue"), ("0", "OutOfRangeQueryParameterValue")):
        answer = get(f"{endpoint}box?restype=container&comp=list&maxresults={given}&{listing}")
        assert answer.status_code == 400 and answer.headers["x-ms-error-code"] == code, answer.text
    assert b"a.txt" in get(f"{endpoint}box?restype=container&comp=list&maxresults=9000&{listing}").content


@pytest.mark.parametrize("expression", ["[padLeft('a', 2000000000)]", "[range(0, 1000000000)]",
                                        "[replace(padLeft('a', 4000000, 'a'), 'a', padLeft('b', 1000))]"])
def test_r181_a_template_function_beyond_resource_managers_limits_is_refused(start_emulator, expression):
    """One hostile deployment must not hold gigabytes (under a memory cap it failed every later write): the
    function is refused before it runs, as Resource Manager refuses a template beyond its documented limits."""
    import resource
    import time

    from tests.test_emulator_template_engine import _deploy, _stack, _template

    info, profile, resources = _stack(start_emulator)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(HttpResponseError) as refused:
        _deploy(resources, "hostile", _template(outputs={"o": {"type": "string", "value": expression}}))
    assert "InvalidTemplate" in str(refused.value) or "Failed" in str(refused.value), refused.value
    assert time.monotonic() - started < 30
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # kB: the emulator runs in this process
    assert resources.resource_groups.create_or_update("after", {"location": "local"}).name == "after"
