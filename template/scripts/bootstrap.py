"""Set up this project: a virtual environment with the pinned packages that trusts the Stack.

    python scripts/bootstrap.py [--installer auto|uv|pip] [--verbose]

1. creates ``.venv`` (if missing) and installs ``requirements.txt`` into it, with uv when it is
   there (on PATH, or beside this Python: seconds instead of tens of seconds), else with pip; uv is
   handed the same mirror settings pip would use (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS,
   PIP_NO_INDEX); it does not read pip.conf, so with a mirror set only there, use ``--installer pip``;
2. appends the Stack's root CA (``certs/azure-stack-root.pem``, if present) to the certifi bundle
   INSIDE ``.venv``, with the header block Microsoft's procedure writes; idempotent, and re-run it
   after ``pip install -U certifi`` (which replaces the bundle);
3. checks TLS to the Stack's Resource Manager and prints the next command.

Standard library only, so any Python >= 3.9 runs it; steps 2 and 3 run inside ``.venv``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Against an emulator (AZS_EMULATOR_OVERLAY, see scripts/test_against_emulator.py) a venv of its own, trusting the
# emulator's CA: the project's real .venv never trusts a test CA.
OVERLAY = os.environ.get("AZS_EMULATOR_OVERLAY")
VENV = ROOT / (".venv-emulator" if OVERLAY else ".venv")
CA_FILE = Path(json.loads(Path(OVERLAY).read_text(encoding="utf-8"))["caCert"]) if OVERLAY else ROOT / "certs" / "azure-stack-root.pem"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def fail(message: str) -> None:
    print(f"bootstrap: error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def create_venv(with_pip: bool) -> None:
    if venv_python().exists():
        step(f"Using the virtual environment {VENV.name}")
        return
    step(f"Creating the virtual environment {VENV.name}")
    try:
        # With uv, pip is installed by uv with the packages (in a fraction of ensurepip's seconds).
        venv.EnvBuilder(with_pip=with_pip).create(VENV)
    except (OSError, subprocess.CalledProcessError) as exc:
        fail(f"could not create {VENV}: {exc}; on Debian/Ubuntu install python3-venv")


def find_uv() -> str | None:
    """uv on PATH, or beside the Python running this script (a venv or pipx that has it)."""
    beside = Path(sys.executable).with_name("uv.exe" if os.name == "nt" else "uv")
    return str(beside) if beside.exists() else shutil.which("uv")


def _pip_settings_for_uv() -> list[str]:
    """pip's mirror settings (environment), said the way uv takes them."""
    options = []
    if os.environ.get("PIP_INDEX_URL"):
        options += ["--index-url", os.environ["PIP_INDEX_URL"]]
    for url in os.environ.get("PIP_EXTRA_INDEX_URL", "").split():
        options += ["--extra-index-url", url]
    for location in os.environ.get("PIP_FIND_LINKS", "").split():
        options += ["--find-links", location]
    if os.environ.get("PIP_NO_INDEX", "").lower() in ("1", "true", "yes", "on"):
        options.append("--no-index")
    return options


def choose_uv(installer: str) -> str | None:
    """The uv to install with, or None for pip."""
    uv = find_uv() if installer in ("auto", "uv") else None
    if installer == "uv" and uv is None:
        fail("--installer uv: uv is not on PATH nor beside this Python; install it (pipx install uv) or use --installer pip")
    return uv


def install_requirements(uv: str | None, verbose: bool) -> None:
    requirements = str(ROOT / "requirements.txt")
    if uv:
        name = "uv"
        # pip too, so that the venv has it as users expect (uv installs it in a moment).
        command = [uv, "pip", "install", "--python", str(venv_python()), *_pip_settings_for_uv(), "-r", requirements, "pip"]
    else:
        name = "pip"
        command = [str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check", "-r", requirements]
    step(f"Installing the pinned packages (requirements.txt) with {name}")
    result = subprocess.run(command, cwd=ROOT, stdout=None if verbose else subprocess.PIPE,
                            stderr=None if verbose else subprocess.STDOUT, text=True)
    if result.returncode != 0:
        if not verbose:  # the installer's own words, indented under the step; the one error line follows
            print("".join("    " + line for line in result.stdout.splitlines(keepends=True)), end="", file=sys.stderr)
        fail(
            f"installing the pinned packages failed (see {name}'s message above); check the connection to the "
            "package index (or set PIP_INDEX_URL / PIP_FIND_LINKS for a mirror), then run bootstrap again"
        )


# -- the steps below run inside .venv, where certifi, cryptography and requests are installed ------


def certificate_header(pem: bytes) -> str:
    """The comment block Microsoft's PowerShell writes before the CA in the certifi bundle."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    cert = x509.load_pem_x509_certificate(pem)
    subject = cert.subject.rfc4514_string()
    label = subject.split(",")[0].split("=")[-1]
    lines = [
        f"# Issuer: {cert.issuer.rfc4514_string()}",
        f"# Subject: {subject}",
        f"# Label: {label}",
        f"# Serial: {cert.serial_number:x}",
        f"# MD5 Fingerprint: {cert.fingerprint(hashes.MD5()).hex()}",
        f"# SHA1 Fingerprint: {cert.fingerprint(hashes.SHA1()).hex()}",
        f"# SHA256 Fingerprint: {cert.fingerprint(hashes.SHA256()).hex()}",
    ]
    return "\n".join(lines) + "\n"


def trust_ca() -> None:
    import re

    import certifi

    if not CA_FILE.exists():
        step("No root CA in certs/: trusting the public CAs only")
        return
    bundle = Path(certifi.where())
    text = CA_FILE.read_text(encoding="ascii").replace("\r\n", "\n")
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----\n.*?-----END CERTIFICATE-----\n?", text, re.DOTALL)
    if not blocks:
        fail(f"{CA_FILE} holds no PEM certificate; put the Stack's root CA there in PEM format")
    trusted = "".join(bundle.read_text(encoding="utf-8").split())
    missing = [b for b in blocks if "".join(b.split()) not in trusted]
    if not missing:
        step(f"The Stack's root CA is already trusted in {bundle}")
        return
    step(f"Trusting the Stack's root CA in {bundle}")
    added = "".join("\n" + certificate_header(b.encode("ascii")) + (b if b.endswith("\n") else b + "\n") for b in missing)
    # A new file renamed over the old one, never an append: installers (uv) may hard-link the bundle
    # from their cache, and appending would change every venv that shares it.
    partial = bundle.with_name(bundle.name + ".partial")
    try:
        partial.write_bytes(bundle.read_bytes() + added.encode("ascii"))
        partial.chmod(bundle.stat().st_mode & 0o777)
        os.replace(partial, bundle)
    except OSError as exc:
        partial.unlink(missing_ok=True) if partial.exists() else None
        fail(f"cannot add the Stack's root CA to {bundle} ({exc.strerror}); make .venv writable for you "
             "(or recreate it: delete .venv and run bootstrap again)")


def check_tls() -> None:
    import requests

    stack = json.loads(Path(OVERLAY or ROOT / "stack.json").read_text(encoding="utf-8"))
    url = stack["resourceManagerEndpointUrl"].rstrip("/") + "/metadata/endpoints?api-version=2015-01-01"
    step(f"Checking TLS to {stack['resourceManagerEndpointUrl']}")
    # Against an emulator, its names are reached through its proxy (this request only; never the installs).
    proxies = {"https": stack["httpsProxy"]} if OVERLAY and stack.get("httpsProxy") else None
    try:
        requests.get(url, timeout=20, proxies=proxies).raise_for_status()
    except requests.exceptions.SSLError:
        sys.path.insert(0, str(ROOT))
        from samples.azure_stack import tls_diagnosis  # one diagnosis, shared with the samples

        if CA_FILE.exists():
            fail(tls_diagnosis())
        fail("TLS verification failed: the Stack's certificate is not trusted; put its root CA in "
             "certs/azure-stack-root.pem and run bootstrap again")
    except requests.exceptions.RequestException as exc:
        fail(f"cannot reach the Stack's Resource Manager ({type(exc).__name__}); check the network and {url}")


def main() -> None:
    if sys.version_info < (3, 9):
        fail(f"Python {sys.version.split()[0]} is too old: the pinned packages need Python 3.9 or later")
    if "--inside-venv" in sys.argv:
        trust_ca()
        check_tls()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--installer", choices=("auto", "uv", "pip"), default="auto",
                        help="what installs the packages (default: uv when it is there, else pip)")
    parser.add_argument("--verbose", action="store_true", help="show the installer's own output")
    args = parser.parse_args()
    uv = choose_uv(args.installer)
    create_venv(with_pip=uv is None)
    install_requirements(uv, args.verbose)
    if subprocess.run([str(venv_python()), str(Path(__file__).resolve()), "--inside-venv"], cwd=ROOT).returncode != 0:
        sys.exit(1)
    python = f"{VENV.name}\\Scripts\\python" if os.name == "nt" else f"{VENV.name}/bin/python"
    step("Ready. Next:")
    print(f"    {python} register_providers.py")
    for sample in sorted((ROOT / "samples").glob("*.py")):
        if sample.name != "azure_stack.py":
            print(f"    {python} samples/{sample.name}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        fail("interrupted")
