"""The failure catalogue (docs/reliability.md): every case ends in one clear line and a non-zero exit,
never a traceback, a half-written project or a secret out of place.

Faults come from the emulator's fault plan. Run them all with ``pytest -m reliability``. A generated project's
own cases are in tests/test_reliability_project.py.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from generator.discovery import DiscoveryError
from generator.discovery.http import StackHttp
from generator.discovery.trust import tls_context
from tests.helpers import (
    GENERATOR_COMMAND,
    ROOT,
    cli,
    discover,
    new_args,
    one_error,
    set_faults,
    with_credentials,
    without_emulator_proxy,
)

pytestmark = pytest.mark.reliability


# -- endpoint ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("endpoint", "fragment"),
    [
        ("not a url", "is not a URL with a host name"),  # R01
        ("http://management.local.azurestack.external/", "is not https://"),  # R02
        ("https://management.nonexistent.invalid/", "cannot resolve host management.nonexistent.invalid"),  # R03
        ("https://127.0.0.1:9/", "connection refused at https://127.0.0.1:9"),  # R04
    ],
)
def test_r01_r04_bad_endpoints(endpoint, fragment):
    # Without the emulators' proxy: these are about the network as a machine without one meets it.
    one_error(*cli("discover", "--arm-endpoint", endpoint, base_env=without_emulator_proxy())[::2], fragment)


def test_r92_a_proxy_that_refuses_the_host_is_named(emulator):
    """Behind a proxy (here the emulator's, which serves the Stack's names only), a host it will not tunnel to."""
    proxy = emulator.info()["https_proxy"]
    line = one_error(*cli("discover", "--arm-endpoint", "https://management.elsewhere.example/")[::2], "did not open a tunnel")
    assert f"the proxy {proxy}" in line and "403 Forbidden" in line and "HTTPS_PROXY" in line


def test_r05_connection_reset(emulator):
    info = emulator.info()
    set_faults(info, drop=20)
    one_error(*discover(info)[::2], "connection reset at")


def test_r06_timeout(emulator):
    info = emulator.info()
    set_faults(info, latency=1.5)
    one_error(*discover(info, "--timeout", "0.3")[::2], "no answer within the timeout")


def test_r07_redirect_to_another_host_is_not_followed(emulator):
    info = emulator.info()
    set_faults(info, redirect=5)
    one_error(*discover(info)[::2], "redirects to https://elsewhere.example.invalid/")


def test_r08_unknown_ca_explains_ca_cert(emulator):
    one_error(*cli("discover", "--arm-endpoint", emulator.info()["arm_endpoint"])[::2], "pass it with --root-ca PEM")


def _der(info: dict, path: Path) -> Path:
    cert = x509.load_pem_x509_certificate(Path(info["ca_cert"]).read_bytes())
    path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    return path


def test_r09_ca_file_that_is_not_a_certificate(emulator, tmp_path):
    bogus = tmp_path / "root.pem"
    bogus.write_text("this is not a certificate\n")
    info = {**emulator.info(), "ca_cert": str(bogus)}
    one_error(*discover(info)[::2], "holds no PEM certificate")


def test_r10_der_ca_file_is_explained(emulator, tmp_path):
    info = {**emulator.info(), "ca_cert": str(_der(emulator.info(), tmp_path / "root.cer"))}
    one_error(*discover(info)[::2], "is a DER (binary) certificate; convert it to PEM first: openssl x509 -inform der")


def _other_certificate() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "unrelated")])
    import datetime as dt

    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def test_r11_pem_with_several_certificates_works(emulator, tmp_path):
    bundle = tmp_path / "chain.pem"
    bundle.write_bytes(_other_certificate() + Path(emulator.info()["ca_cert"]).read_bytes())
    code, out, err = discover({**emulator.info(), "ca_cert": str(bundle)}, "--release", "2108")
    assert code == 0, err


def test_r12_crlf_pem_works(emulator, tmp_path):
    crlf = tmp_path / "root-crlf.pem"
    crlf.write_bytes(Path(emulator.info()["ca_cert"]).read_bytes().replace(b"\n", b"\r\n"))
    code, out, err = discover({**emulator.info(), "ca_cert": str(crlf)}, "--release", "2108")
    assert code == 0, err


def test_r13_missing_ca_file(emulator, tmp_path):
    one_error(*discover({**emulator.info(), "ca_cert": str(tmp_path / "nope.pem")})[::2], "no such file")


# -- metadata ------------------------------------------------------------------------------------

def _metadata_answer(info: dict, body: str, status: int = 200, content_type: str = "application/json") -> None:
    set_faults(info, replace=10, replace_status=status, replace_body=body, replace_content_type=content_type, path="/metadata/")


_AUTH = {"loginEndpoint": "https://login.example/", "audiences": ["https://management.example/x"]}


@pytest.mark.parametrize(
    ("status", "body", "content_type", "fragment"),
    [
        (404, '{"error": {"code": "NotFound", "message": "no such path"}}', "application/json", "answered HTTP 404"),  # R14
        (200, "<html><body>Proxy login</body></html>", "text/html", "answered something that is not JSON (text/html"),  # R15
        (200, "", "application/json", "answered an empty body"),  # R16
        (200, '{"authentication": {"loginEndpo', "application/json", "answered something that is not JSON"),  # R17
        (200, "[]", "application/json", "metadata array is empty"),  # R18
        (200, json.dumps([{"authentication": _AUTH}, {"authentication": _AUTH}]), "application/json", "has 2 entries"),  # R19
        (200, '{"portalEndpoint": "https://portal.example/"}', "application/json", "no 'authentication' object"),  # R20
        (200, '{"authentication": {"audiences": ["https://a/"]}}', "application/json", "no loginEndpoint string"),  # R21
        (200, '{"authentication": {"loginEndpoint": "https://l/", "audiences": []}}', "application/json", "audiences' is missing or empty"),  # R22
        (200, '{"authentication": {"loginEndpoint": "https://l/", "audiences": [42]}}', "application/json", "not a non-empty string"),  # R23
    ],
)
def test_r14_r23_unusable_metadata(emulator, status, body, content_type, fragment):
    info = emulator.info()
    _metadata_answer(info, body, status, content_type)
    one_error(*discover(info)[::2], fragment)


def test_r17b_metadata_cut_off_mid_body(emulator):
    info = emulator.info()
    set_faults(info, truncate=20, path="/metadata/")
    code, _, err = discover(info)
    assert code == 1 and "Traceback" not in err
    assert "cut off" in err or "not JSON" in err


# -- identity ------------------------------------------------------------------------------------

def test_r24_wrong_secret(emulator):
    args, env = with_credentials(emulator.info())
    one_error(*discover(emulator.info(), *args, env={"AZS_R_SECRET": "wrong-secret"})[::2], "AADSTS7000215")


def test_r25_wrong_client_id(emulator):
    args, env = with_credentials(emulator.info())
    args[1] = "00000000-0000-0000-0000-000000000001"
    one_error(*discover(emulator.info(), *args, env=env)[::2], "AADSTS700016")


def test_r26_unknown_tenant_name(emulator):
    one_error(*discover(emulator.info(), "--tenant", "nobody.onmicrosoft.com")[::2], "is not known to")


def test_r27_adfs_given_a_guid_tenant(start_emulator):
    info = start_emulator(identity_system="adfs").info()
    one_error(*discover(info, "--tenant", "6f1b2b4e-0000-4000-8000-000000000000")[::2], "always 'adfs'; drop --tenant")


def test_r28_certificate_file_missing(emulator, tmp_path):
    code, _, err = discover(emulator.info(), "--client-id", emulator.info()["client_id"], "--certificate", str(tmp_path / "sp.pem"))
    one_error(code, err, "no such file")


def test_r29_encrypted_certificate_without_password(emulator, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(b"pass")) + _other_certificate()
    (tmp_path / "sp.pem").write_bytes(pem)
    code, _, err = discover(emulator.info(), "--client-id", emulator.info()["client_id"], "--certificate", str(tmp_path / "sp.pem"))
    one_error(code, err, "--certificate-password-env")


def test_r31_secret_variable_not_set(emulator):
    code, _, err = discover(emulator.info(), "--client-id", "x", "--client-secret-env", "AZS_R_UNSET")
    one_error(code, err, "AZS_R_UNSET: that environment variable is not set")


def test_r32_no_terminal_for_the_secret_prompt(emulator):
    one_error(*discover(emulator.info(), "--client-id", "x")[::2], "no terminal to ask on")


# -- Resource Manager ----------------------------------------------------------------------------

def test_r33_subscription_not_found(emulator):
    args, env = with_credentials(emulator.info())
    one_error(*discover(emulator.info(), *args, "--subscription-id", "00000000-0000-0000-0000-000000000000", env=env)[::2],
              "not visible to this service principal")


def test_r34_not_authorised(emulator):
    info = emulator.info()
    body = '{"error": {"code": "AuthorizationFailed", "message": "The client does not have authorization."}}'
    set_faults(info, replace=10, replace_status=403, replace_body=body, path=r"^/subscriptions/[^/]+$")
    args, env = with_credentials(info)
    one_error(*discover(info, *args, env=env)[::2], "(AuthorizationFailed)")


def test_r37_permanent_errors_are_not_retried(emulator):
    info = emulator.info()
    with pytest.raises(DiscoveryError, match="HTTP 404"):
        StackHttp(tls_context(info["ca_cert"])).get(f"{info['arm_endpoint']}no/such/thing", "test")
    assert [path for _, path in emulator.request_log if path == "/no/such/thing"] == ["/no/such/thing"]


# -- rendering -----------------------------------------------------------------------------------

def test_r40_destination_under_a_file(emulator, tmp_path, template_repo):
    (tmp_path / "file").write_text("x")
    args, env = new_args(emulator.info(), tmp_path / "file" / "project", "--template", str(template_repo))
    one_error(*cli(*args, env=env)[::2], "is a file, not a directory")


def _plain_template(template_repo: Path, tmp_path: Path) -> Path:
    """The template as a folder without git: copier renders straight from it (no clone)."""
    plain = tmp_path / "plain-template"
    shutil.copytree(template_repo, plain, ignore=shutil.ignore_patterns(".git"))
    return plain


def _new_args_from(info: dict, destination: Path, template: Path) -> tuple[list[str], dict]:
    args, env = new_args(info, destination, "--template", str(template))
    args.remove("--vcs-ref")  # a plain folder has no versions
    args.remove("HEAD")
    return args, env


def test_r41_disk_full_mid_render_leaves_nothing(emulator, tmp_path, template_repo):
    # Rendering straight from a plain folder, the failure comes mid-render.
    args, env = _new_args_from(emulator.info(), tmp_path / "project", _plain_template(template_repo, tmp_path))

    def small_disk() -> None:  # files over 7 kB fail (EFBIG), as on a full disk: git's hook samples fit, requirements.txt and README.md do not
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (7000, 7000))

    result = subprocess.run([*GENERATOR_COMMAND, *args], capture_output=True, text=True, env={**os.environ, **env},
                            stdin=subprocess.DEVNULL, timeout=120, preexec_fn=small_disk)
    one_error(result.returncode, result.stderr, "failed (File too large); nothing was left behind")
    assert not (tmp_path / "project").exists()


def test_r88_parents_made_for_a_failed_run_are_removed(emulator, tmp_path, template_repo):
    """A destination whose parent folders do not exist yet: a failure (here, a broken template) leaves none of them."""
    args, env = new_args(emulator.info(), tmp_path / "a" / "b" / "project", "--template", str(template_repo))
    code, _, err = cli(*args, "--samples", "resource_groups", env=env)
    assert code == 0, err  # control: the run itself works and makes the parents
    assert (tmp_path / "a" / "b" / "project" / "stack.json").exists()
    broken = _plain_template(template_repo, tmp_path)
    (broken / "template" / "README.md.jinja").write_text("{{ undefined_function() }}")
    args, env = _new_args_from(emulator.info(), tmp_path / "x" / "y" / "project", broken)
    one_error(*cli(*args, env=env)[::2], "copier could not render the project")
    assert not (tmp_path / "x").exists()


def test_r89_a_destination_inside_the_template_is_refused(emulator, tmp_path, template_repo):
    plain = _plain_template(template_repo, tmp_path)
    args, env = _new_args_from(emulator.info(), plain / "project", plain)
    one_error(*cli(*args, env=env)[::2], "is inside the template folder")
    assert not (plain / "project").exists()


def test_r42_interrupt_leaves_nothing(emulator, tmp_path, template_repo):
    info = emulator.info()
    set_faults(info, latency=1.0)
    args, env = new_args(info, tmp_path / "project", "--template", str(template_repo))
    process = subprocess.Popen([*GENERATOR_COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, **env}, stdin=subprocess.DEVNULL)
    time.sleep(2.5)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in err and "interrupted" in err
    assert not (tmp_path / "project").exists()


@pytest.mark.parametrize("name", ['bad"name', "名前", "has space"])  # R43, R44
def test_r43_r44_bad_project_names(emulator, tmp_path, name):
    args, env = new_args(emulator.info(), tmp_path / "project", "--project-name", name)
    one_error(*cli(*args, env=env)[::2], "Use 1-64 ASCII letters, digits")
    assert not (tmp_path / "project").exists()


@pytest.mark.parametrize(("release", "fragment"), [("2104", "not a release the catalog knows"), ("1809", "older than any API profile")])
def test_r45_r46_releases_the_catalog_cannot_serve(emulator, tmp_path, release, fragment):
    args, env = new_args(emulator.info(), tmp_path / "project", "--release", release)
    one_error(*cli(*args, env=env)[::2], fragment)


def test_r54_two_generations_at_once(start_emulator, tmp_path, template_repo):
    info = start_emulator().info()
    processes = []
    for name in ("one", "two"):
        args, env = new_args(info, tmp_path / name, "--template", str(template_repo))
        processes.append(subprocess.Popen([*GENERATOR_COMMAND, *args], stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True, env={**os.environ, **env}, stdin=subprocess.DEVNULL))
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    for name in ("one", "two"):
        assert json.loads((tmp_path / name / "stack.json").read_text())["profile"] == "2020_09_01_hybrid"


# -- the catalogue itself ------------------------------------------------------------------------

def test_every_documented_case_has_a_marked_test():
    doc = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (R\d+b?) \|.*?\| `(tests/[\w/]+\.py)::(\w+)` \|$", doc, re.MULTILINE)
    assert len({case for case, _, _ in rows}) >= 30
    import importlib

    for case, path, name in rows:
        module = importlib.import_module(path[:-3].replace("/", "."))
        function = getattr(module, name, None)
        assert function is not None, f"{case}: {path}::{name} does not exist"
        module_marks = getattr(module, "pytestmark", [])
        module_marks = module_marks if isinstance(module_marks, list) else [module_marks]
        marks = [m.name for m in getattr(function, "pytestmark", []) + module_marks]
        assert "reliability" in marks, f"{case}: {path}::{name} is not marked reliability"
