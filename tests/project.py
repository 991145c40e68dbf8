"""Running a generated project's own steps, as its README tells a user to."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path


def venv_python(project: Path) -> str:
    return str(project / (".venv/Scripts/python.exe" if sys.platform == "win32" else ".venv/bin/python"))


def run(project: Path, env: dict[str, str], *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=600)


def bootstrap(project: Path, env: dict[str, str], *options: str) -> subprocess.CompletedProcess:
    """The project's bootstrap; then, when it succeeded, what a user of the emulator runs next: ``azs-scaffold emulator
    trust`` of the emulators' stand-in public CA (a real certifi trusts login.microsoftonline.com's; the installed
    files stay the index's own, which hash-checking mode insists on)."""
    result = run(project, env, sys.executable, "scripts/bootstrap.py", *options)
    if result.returncode == 0:
        trust_the_public_stand_in(project)
    return result


def trust_the_public_stand_in(project: Path) -> None:
    """Make the project's venv trust the emulators' stand-in for the public CA, as every real certifi trusts the CA
    behind login.microsoftonline.com."""
    from azs_emulator.venv_trust import trust_in_venv
    from tests.helpers import PUBLIC_CA_CERT

    trust_in_venv(venv_python(project), Path(PUBLIC_CA_CERT))


def run_all_steps(project: Path, env: dict[str, str]) -> list[subprocess.CompletedProcess]:
    """bootstrap, provider registration, every sample, the offline tests; each must exit 0."""
    results = [bootstrap(project, env)]
    commands = [["register_providers.py"]]
    commands += [[f"samples/{p.name}"] for p in sorted((project / "samples").glob("*.py"))]
    commands += [["-m", "unittest", "discover", "-s", "tests", "-t", "."]]
    for command in commands:
        if results[-1].returncode != 0:
            break
        results.append(run(project, env, venv_python(project), *command))
    for result in results:
        assert result.returncode == 0, f"{result.args} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return results


def bundle_path(project: Path, env: dict[str, str]) -> Path:
    return Path(run(project, env, venv_python(project), "-c", "import certifi; print(certifi.where())").stdout.strip())


@contextlib.contextmanager
def watch_process_list(secret: str, interval: float = 0.02) -> Iterator[list[str]]:
    """Collect, while the block runs, every process command line that shows ``secret``."""
    seen: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    text = cmdline.read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
                except OSError:
                    continue
                if secret in text:
                    seen.append(text)
            stop.wait(interval)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()
