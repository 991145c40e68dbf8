"""Set up this project: a virtual environment with the locked packages that trusts the Stack.

    python scripts/bootstrap.py [--offline [--wheels DIR]] [--installer auto|uv|pip] [--verbose]

1. locks first when ``requirements.in`` (the team's packages) or ``constraints.txt`` (the proven set) changed since
   ``requirements.txt`` was locked (``scripts/lock.py``, with uv; as ``uv sync`` does). ``--offline`` never locks: a
   stale lock is refused, naming ``scripts/lock.py``;
2. creates ``.venv`` (if missing; with uv, without pip: uv installs; else with pip from the Python itself) and installs
   ``requirements.txt`` into it in hash-checking mode: every package at its locked version, every file checked against
   the sha256 the lock holds, so a changed or substituted file is refused. With uv when it is there (on PATH, beside
   this Python, or beside the ``azs-scaffold`` command: seconds instead of tens of seconds), else with pip; uv is
   handed the same mirror settings pip would use (PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS, PIP_NO_INDEX);
   it does not read pip.conf, so with a mirror set only there, use ``--installer pip``. The user's CA variables
   (REQUESTS_CA_BUNDLE, SSL_CERT_FILE, PIP_CERT: a corporate proxy's CA) reach the installers as they are.
   ``--offline`` installs from ``wheels/`` (made by ``azs-scaffold wheelhouse``; ``--wheels DIR`` names another
   folder) and nothing else: no index;
3. appends the Stack's root CA (``certs/azure-stack-root.pem``, if present) to the certifi bundle INSIDE ``.venv``,
   with the header block Microsoft's procedure writes (idempotent; re-run it after ``pip install -U certifi``), and
   writes the project's own bundle ``.venv/azs-ca-bundle.pem``: that certifi plus the bundles the user's CA variables
   name. The samples hand it to every client explicitly, so no variable replaces it;
4. checks TLS to the Stack's Resource Manager with that bundle and prints the next command.

Standard library only, so any Python >= 3.10 runs it; steps 3 and 4 run inside ``.venv``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lock  # noqa: E402  (scripts/lock.py: the lock's inputs, uv)

ROOT = Path(__file__).resolve().parent.parent
# Against an emulator (AZS_EMULATOR_OVERLAY, see scripts/test_against_emulator.py) a venv of its own, trusting the
# emulator's CA: the project's real .venv never trusts a test CA.
OVERLAY = os.environ.get("AZS_EMULATOR_OVERLAY")
VENV = ROOT / (".venv-emulator" if OVERLAY else ".venv")
CA_FILE = Path(json.loads(Path(OVERLAY).read_text(encoding="utf-8"))["caCert"]) if OVERLAY else ROOT / "certs" / "azure-stack-root.pem"
WHEELS = ROOT / "wheels"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def fail(message: str) -> None:
    print(f"bootstrap: error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def create_venv(uv: str | None) -> None:
    """``.venv``: made by uv without pip (uv installs into it; nothing of pip is needed), else by venv with pip from the
    Python itself (ensurepip: no index, nothing to check a hash of)."""
    if venv_python().exists():
        step(f"Using the virtual environment {VENV.name}")
        if uv is None and subprocess.run([str(venv_python()), "-c", "import pip"], capture_output=True).returncode != 0:
            step(f"Adding pip to {VENV.name} (pip installs now; uv made it without pip)")
            if subprocess.run([str(venv_python()), "-m", "ensurepip", "--default-pip"], capture_output=True).returncode != 0:
                fail(f"{VENV.name} has no pip and this Python has no ensurepip to add it; install uv (pipx install uv) or "
                     f"delete {VENV.name} and run bootstrap again with a Python that has venv (python3-venv)")
        return
    step(f"Creating the virtual environment {VENV.name}{' with uv' if uv else ''}")
    if uv:
        made = subprocess.run([uv, "venv", "--quiet", "--no-config", "--python", sys.executable, str(VENV)],
                              capture_output=True, text=True)
        if made.returncode == 0:
            return
        shutil.rmtree(VENV, ignore_errors=True)
        step(f"uv could not create {VENV.name} ({lock.tail(' '.join(made.stderr.split()), 200)}); venv creates it")
    try:
        venv.EnvBuilder(with_pip=uv is None).create(VENV)
    except OSError as exc:
        shutil.rmtree(VENV, ignore_errors=True)
        fail(lock.not_written(str(VENV), exc) or f"could not create {VENV}: {exc}; check that folder, then run bootstrap again")
    except subprocess.CalledProcessError as exc:  # ensurepip failed: Debian/Ubuntu ship it apart, in python3-venv
        shutil.rmtree(VENV, ignore_errors=True)
        refused = lock.refused_in(exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else str(exc.output))
        if refused:  # ensurepip could not write pip into it
            fail(f"could not create {VENV}: {refused[0]}; {refused[1]}")
        fail(f"could not create {VENV}: {exc}; on Debian/Ubuntu install python3-venv (or install uv: pipx install uv)")


def relock_if_stale(uv: str | None, offline: bool) -> None:
    """Lock again first when requirements.in or constraints.txt changed since requirements.txt was locked
    (scripts/lock.py); offline, never: a stale lock is refused."""
    try:
        reason = lock.stale_reason()
        if reason is None:
            return
        if offline:
            fail(f"--offline: {reason}, and locking needs the package index; on a machine with one run python "
                 "scripts/lock.py (then azs-scaffold wheelhouse) and carry requirements.txt and wheels/ here")
        step(f"Locking first: {reason}")
        step(f"Locked {lock.lock(uv or lock.find_uv())}")
    except lock.LockFailure as exc:
        fail(str(exc))


def choose_uv(installer: str) -> str | None:
    """The uv to install with, or None for pip."""
    uv = lock.find_uv() if installer in ("auto", "uv") else None
    if installer == "uv" and uv is None:
        fail("--installer uv: uv is not on PATH, beside this Python nor beside azs-scaffold; install it (pipx install uv) "
             "or use --installer pip")
    if installer == "auto" and uv is None:
        step("No uv here (PATH, beside this Python or azs-scaffold), so pip installs: tens of seconds where uv takes "
             "seconds; pipx install uv (or pip install uv) to have it next time")
    return uv


def install_command(uv: str | None, wheels: Path | None) -> list[str]:
    """The installer's command: requirements.txt in hash-checking mode, from the index or (offline) ``wheels`` only."""
    requirements = str(ROOT / "requirements.txt")
    if uv:
        # Offline, no uv.toml either: it may name find-links folders of its own.
        sources = ["--offline", "--no-config", "--no-index", "--find-links", str(wheels)] if wheels else lock.uv_options()
        return [uv, "pip", "install", "--python", str(venv_python()), "--require-hashes", *sources, "-r", requirements]
    # Offline, pip's own settings (a mirror in pip.conf, PIP_INDEX_URL) are overruled on the command line.
    sources = ["--no-index", "--find-links", str(wheels)] if wheels else []
    return [str(venv_python()), "-m", "pip", "install", "--disable-pip-version-check", "--require-hashes", *sources,
            "-r", requirements]


# What the installers say when a file is not the one the lock names, and when a package has no file to install.
_PIP_MISMATCH = re.compile(r"^\s+([A-Za-z0-9._-]+)==(\S+) from (?:file://)?([^\s:]+)", re.MULTILINE)
_UV_MISMATCH = re.compile(r"Hash mismatch for `([A-Za-z0-9._-]+)==([^`\s]+)`")
_PIP_MISSING = re.compile(r"satisfies the requirement ([A-Za-z0-9._-]+)==(\S+)")
_UV_MISSING = re.compile(r"([A-Za-z0-9._-]+)==([^\s`]+)`? was not found in the provided package locations")


def installer_failure(output: str, name: str, wheels: Path | None) -> str:
    """The one line that says why the install failed, from the installer's output."""
    where = f"{wheels}" if wheels else "the package index"
    if "DO NOT MATCH THE HASHES" in output or "Hash mismatch" in output:
        found = _UV_MISMATCH.search(output) or _PIP_MISMATCH.search(output.split("DO NOT MATCH THE HASHES", 1)[-1])
        package = f"{found[1]} {found[2]}" if found else "a package"
        file = f"{Path(found[3]).name} in {wheels}" if found and wheels and found.re is _PIP_MISMATCH else f"its file from {where}"
        return (f"{package}: {file} is not the file requirements.txt locks (its sha256 differs): it was changed or "
                "substituted, so nothing was installed; get the file again from a source you trust (offline: delete it "
                "and run azs-scaffold wheelhouse again)")
    missing = _UV_MISSING.search(output) or _PIP_MISSING.search(output)
    if missing and wheels:
        return (f"{wheels} holds no file of {missing[1]} {missing[2]} for this Python ({sys.version.split()[0]}) and "
                "platform; on a machine with an index run azs-scaffold wheelhouse --python "
                f"{sys.version_info[0]}.{sys.version_info[1]} (and --platform for this system), and carry wheels/ here")
    if "--require-hashes" in output or "require-hashes" in output or "Hashes are required" in output:
        return ("requirements.txt names a package without its hashes, and hash-checking mode installs only locked files; "
                "put the team's packages in requirements.in (bootstrap locks them), then run python scripts/lock.py")
    refused = lock.refused_in(output)
    if refused:
        return f"installing the locked packages into {VENV} failed: {refused[0]}; {refused[1]}"
    if wheels:
        return f"installing the locked packages from {wheels} failed (see {name}'s message above)"
    return (f"installing the locked packages failed (see {name}'s message above); check the connection to the "
            "package index (or set PIP_INDEX_URL / PIP_FIND_LINKS for a mirror, or install --offline from a "
            "wheelhouse), then run bootstrap again")


_SOURCE_SETTINGS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX", "UV_INDEX_URL",
                    "UV_EXTRA_INDEX_URL", "UV_INDEX", "UV_DEFAULT_INDEX", "UV_FIND_LINKS")


def installer_environment(wheels: Path | None, uv: str | None = None) -> dict[str, str]:
    """The installer's environment: as this one (with pip's index settings said for uv), but offline with no other
    source than ``wheels`` (no mirror setting, no pip.conf, which may name find-links folders of its own)."""
    if not wheels:
        return lock.uv_environment() if uv else dict(os.environ)
    return {**{k: v for k, v in os.environ.items() if k not in _SOURCE_SETTINGS}, "PIP_CONFIG_FILE": os.devnull}


def refuse_installer_options() -> None:
    """A lock holds packages and their hashes only: a line that is an installer option (``--find-links URL``,
    ``--index-url``, ``-e``, ``-r``: say, added by hand) would send the installer elsewhere, offline too; refused."""
    try:
        text = lock.read_text(lock.LOCK)
    except lock.LockFailure as exc:
        fail(str(exc))
    options = [line for line in lock.meaningful_lines(text) if line.startswith("-") and not line.startswith("--hash")]
    if options:
        fail(f"requirements.txt holds an installer option ({options[0].split()[0]}), which a lock never holds, so nothing "
             "was installed: remove that line (package sources belong in pip's or uv's settings, or use --offline with "
             "wheels/); the team's packages go in requirements.in")


def install_requirements(uv: str | None, verbose: bool, wheels: Path | None) -> None:
    name = "uv" if uv else "pip"
    source = f" from {wheels.name}/ only" if wheels else ""
    step(f"Installing the locked packages (requirements.txt, hashes checked){source} with {name}")
    if verbose:  # the installer's own output as it comes (a long install is not silent)
        streamed = subprocess.run(install_command(uv, wheels), cwd=ROOT, env=installer_environment(wheels, uv))
        if streamed.returncode != 0:
            fail(f"installing the locked packages with {name} failed (see its message above); run bootstrap again, or "
                 "without --verbose for the reason in one line")
        return
    result = subprocess.run(install_command(uv, wheels), cwd=ROOT, env=installer_environment(wheels, uv), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        reason = installer_failure(result.stdout, name, wheels)
        if "message above" in reason:
            # The installer's own words, indented under the step; the one error line follows.
            print("".join("    " + line for line in result.stdout.splitlines(keepends=True)), end="", file=sys.stderr)
        fail(reason)


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


# The user's CA variables (a corporate workstation's bundle, which the package index needs): honoured by the installs,
# and added to the project's own bundle, never refused.
USER_CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "PIP_CERT")
MAX_BUNDLE_BYTES = 16 * 1024 * 1024
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----", re.DOTALL)


def project_bundle() -> Path:
    """The project's own CA bundle, which its clients are handed explicitly (no variable replaces it): the venv's
    certifi (the Stack's root CA added by :func:`trust_ca`) plus the bundles the user's CA variables name."""
    return VENV / "azs-ca-bundle.pem"


def _user_bundle(name: str) -> str:
    """The certificates of the bundle ``name`` names: a regular file of sane size, else nothing (said once)."""
    path = Path(os.environ[name]).expanduser()
    try:
        with path.open("rb") as handle:
            if not path.is_file():
                raise OSError("not a regular file")
            data = handle.read(MAX_BUNDLE_BYTES + 1)
        if len(data) > MAX_BUNDLE_BYTES:
            raise OSError(f"over {MAX_BUNDLE_BYTES // 1024 // 1024} MB")
    except OSError as exc:
        step(f"{name}={path}: not added to {project_bundle().name} ({getattr(exc, 'strerror', None) or exc})")
        return ""
    return data.decode("ascii", errors="replace")


def write_project_bundle() -> Path:
    import certifi

    text = Path(certifi.where()).read_text(encoding="utf-8")
    seen = {"".join(pem.split()) for pem in _PEM.findall(text)}
    added = []
    for name in dict.fromkeys(n for n in USER_CA_VARIABLES if os.environ.get(n)):
        fresh = [pem for pem in _PEM.findall(_user_bundle(name)) if "".join(pem.split()) not in seen]
        seen.update("".join(pem.split()) for pem in fresh)
        text += "".join(f"\n# From {name} ({os.environ[name]})\n{pem}\n" for pem in fresh)
        added.append(name)
    bundle = project_bundle()
    partial = bundle.with_name(f".{bundle.name}.{os.getpid()}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, bundle)
    except OSError as exc:
        fail(f"cannot write {bundle} ({exc.strerror}); make {VENV.name} writable for you")
    finally:
        partial.unlink(missing_ok=True)
    step(f"The project's CA bundle {VENV.name}/{bundle.name}: certifi{' with the Stack root' if CA_FILE.exists() else ''}"
         + (f", plus the bundle of {', '.join(added)}" if added else ""))
    return bundle


def check_tls(bundle: Path) -> None:
    """One request to the Stack's Resource Manager, verified with the project's bundle only (the standard library's
    urllib: no variable of the user's replaces the bundle; HTTPS_PROXY and NO_PROXY apply as to any client)."""
    import ssl
    import urllib.error
    import urllib.request

    stack = json.loads(Path(OVERLAY or ROOT / "stack.json").read_text(encoding="utf-8"))
    url = stack["resourceManagerEndpointUrl"].rstrip("/") + "/metadata/endpoints?api-version=2015-01-01"
    step(f"Checking TLS to {stack['resourceManagerEndpointUrl']}")
    handlers: list = [urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=str(bundle)))]
    if OVERLAY and stack.get("httpsProxy"):  # an emulator's names, through its proxy (this request only; never the installs)
        handlers.append(urllib.request.ProxyHandler({"https": stack["httpsProxy"]}))
    try:
        with urllib.request.build_opener(*handlers).open(url, timeout=20) as answer:
            answer.read(1024 * 1024)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ssl.SSLCertVerificationError):
            if CA_FILE.exists():
                fail(f"TLS verification failed: the Stack's certificate does not chain to {CA_FILE.name} (nor to a CA of "
                     f"{VENV.name}/{bundle.name}); put the root CA the Stack's certificates are issued under there, then "
                     "run bootstrap again")
            fail("TLS verification failed: the Stack's certificate is not trusted; put its root CA in "
                 "certs/azure-stack-root.pem and run bootstrap again")
        said = f"it answered {exc.code} to {url}" if isinstance(exc, urllib.error.HTTPError) else type(reason).__name__
        fail(f"cannot reach the Stack's Resource Manager {stack['resourceManagerEndpointUrl']} ({said}): "
             "check the endpoint in stack.json, that the Stack is reachable from here, and HTTPS_PROXY/NO_PROXY; then run "
             "bootstrap again")


def main() -> None:
    if sys.version_info < (3, 10):
        fail(f"Python {sys.version.split()[0]} is too old: the locked packages need Python 3.10 or later")
    if "--inside-venv" in sys.argv:
        trust_ca()
        check_tls(write_project_bundle())
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--installer", choices=("auto", "uv", "pip"), default="auto",
                        help="what installs the packages (default: uv when it is there, else pip)")
    parser.add_argument("--verbose", action="store_true", help="show the installer's own output")
    parser.add_argument("--offline", action="store_true",
                        help="install from wheels/ only (azs-scaffold wheelhouse makes it), never from an index")
    parser.add_argument("--wheels", metavar="DIR", help="with --offline: the folder of wheels (default: wheels/)")
    args = parser.parse_args()
    if args.wheels and not args.offline:
        parser.error("--wheels names the folder --offline installs from: give --offline too")
    wheels = Path(args.wheels).resolve() if args.wheels else WHEELS if args.offline else None
    uv = choose_uv(args.installer)
    relock_if_stale(uv, args.offline)
    refuse_installer_options()
    if wheels and not any(wheels.glob("*.whl")):
        fail(f"--offline: {wheels} holds no wheels; on a machine with an index run azs-scaffold wheelhouse "
             f"{'' if wheels == WHEELS else '(into this folder) '}and carry the folder here")
    create_venv(uv)
    install_requirements(uv, args.verbose, wheels)
    if subprocess.run([str(venv_python()), str(Path(__file__).resolve()), "--inside-venv"], cwd=ROOT).returncode != 0:
        sys.exit(1)
    python = f"{VENV.name}\\Scripts\\python" if os.name == "nt" else f"{VENV.name}/bin/python"
    if not OVERLAY and not any(os.path.lexists(ROOT / name) for name in ("azureSecretSpConfig.json", "azureCertSpConfig.json")):
        step("No service principal file here (it is git-ignored: a clone has none); make it first, as README.md's "
             "\"A teammate's clone\" says")
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
