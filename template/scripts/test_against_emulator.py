"""Prove this project against an emulated Azure Stack Hub of its own release and identity system:
no Stack and no credentials needed. The project's CI definitions run exactly this.

    python scripts/test_against_emulator.py

Needs azs-scaffold (the `azs-scaffold` command on PATH, or AZS_SCAFFOLD naming it). It starts
`azs-scaffold emulator --for-project .`, which emulates the release and identity system this project
was generated for and writes a settings overlay (.azs-emulator/overlay.json, git-ignored); then, with
AZS_EMULATOR_OVERLAY naming it, runs every step in STEPS (in a venv of its own, .venv-emulator), and
stops the emulator. The project's service principal file and certs/ are never read in this mode.
Where the packages come from follows the CI variables (scripts/install_azs_scaffold.py says which):
AZS_WHEELS, a folder of wheels, makes bootstrap install --offline from it; AZS_INDEX_URL names an
internal index for it. Standard library only.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OVERLAY = ROOT / ".azs-emulator" / "overlay.json"
VENV_PYTHON = str(ROOT / (".venv-emulator/Scripts/python.exe" if os.name == "nt" else ".venv-emulator/bin/python"))


def steps() -> list[list[str]]:
    """What is proven, in order: bootstrap, provider registration, every sample, the project's own tests."""
    samples = sorted((ROOT / "samples").glob("*.py"))  # the helper they share is a package: samples/azure_stack/
    return [
        [sys.executable, "scripts/bootstrap.py", *bootstrap_source()],
        [VENV_PYTHON, "register_providers.py"],
        *([VENV_PYTHON, f"samples/{p.name}"] for p in samples),
        [VENV_PYTHON, "-m", "unittest", "discover", "-s", "tests", "-t", "."],
    ]


def bootstrap_source() -> list[str]:
    """bootstrap's options for the CI variable AZS_WHEELS (a folder of wheels: install from it only)."""
    wheels = os.environ.get("AZS_WHEELS", "").strip()
    return ["--offline", "--wheels", wheels] if wheels else []


def package_environment() -> dict[str, str]:
    """The CI variable AZS_INDEX_URL (an internal index) as pip's setting, which bootstrap hands to uv too."""
    index = os.environ.get("AZS_INDEX_URL", "").strip()
    return {"PIP_INDEX_URL": index} if index else {}


def azs_scaffold() -> list[str]:
    command = os.environ.get("AZS_SCAFFOLD") or shutil.which("azs-scaffold")
    if not command:
        sys.exit("error: azs-scaffold is not installed; install the release that generated this project "
                 "(see its CI definitions), or set AZS_SCAFFOLD to the command")
    return shlex.split(command)


def main() -> int:
    OVERLAY.unlink(missing_ok=True)
    emulator = subprocess.Popen([*azs_scaffold(), "emulator", "--for-project", str(ROOT), "--overlay-file", str(OVERLAY)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not OVERLAY.exists():
            if emulator.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"error: the emulator did not start: {(emulator.stdout.read() if emulator.stdout else '').strip()[-500:]}")
            time.sleep(0.2)
        print(f"==> Emulator for this project started; overlay {OVERLAY.relative_to(ROOT)}", flush=True)
        env = {**os.environ, **package_environment(), "AZS_EMULATOR_OVERLAY": str(OVERLAY)}
        for command in steps():
            print(f"==> {' '.join(Path(c).name if i == 0 else c for i, c in enumerate(command))}", flush=True)
            result = subprocess.run(command, cwd=ROOT, env=env)
            if result.returncode != 0:
                print(f"error: `{' '.join(command[1:])}` failed against the emulator (exit {result.returncode})", file=sys.stderr)
                return 1
        print("==> Every step passed against the emulated Stack.", flush=True)
        return 0
    finally:
        emulator.send_signal(signal.SIGTERM)
        try:
            emulator.wait(timeout=30)
        except subprocess.TimeoutExpired:
            emulator.kill()
        OVERLAY.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
