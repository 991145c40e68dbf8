"""The emulator's store under growth: writes per second and resident memory as resource groups pile up.

    .venv/bin/python bench/run.py --store [--store-from CHECKOUT] [--groups 10000]

An emulator (``azs-scaffold emulator``, loopback layout, a kept ``--state-dir``) runs as its own process from
CHECKOUT (default: this one; give another checkout to measure its code the same way); one client creates resource
groups through the real SDK, one after the other, and the emulator's resident memory is read from ``/proc``. It prints
writes per second over the first 100 and 150 groups and over the last of 1,500 and of ``--groups``, with the
memory there, and the ratio the issue sets (writes/s after 1,500 groups within 2x of the first 150).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _start(checkout: Path, work: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    info_file = work / "info.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "generator", "emulator", "--layout", "loopback", "--single-host", "--state-dir",
         str(work / "state"), "--info-file", str(info_file)],
        cwd=work, env={**os.environ, "PYTHONPATH": str(checkout)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not info_file.exists():
        if process.poll() is not None or time.time() > deadline:
            process.kill()
            raise SystemExit(f"bench: the emulator of {checkout} did not start: {process.communicate()[1][-2000:]!r}")
        time.sleep(0.1)
    time.sleep(0.2)  # written whole
    return process, json.loads(info_file.read_text())


def store_table(checkout: Path = ROOT, groups: int = 10_000) -> str:
    """The markdown table of writes per second and resident memory at growing numbers of resource groups."""
    from azure.mgmt.resource import ResourceManagementClient
    from azure.profiles import KnownProfiles

    from tests import sdk

    work = Path(tempfile.mkdtemp(prefix="azs-bench-store-"))
    process, info = _start(checkout, work)
    try:
        client = sdk.client(ResourceManagementClient, info, KnownProfiles.v2020_09_01_hybrid)
        windows = {(0, 100), (0, 150), (1_350, 1_500), (groups - 100, groups)}
        started: dict[int, float] = {}
        rows = []
        for index in range(groups):
            if any(start == index for start, _ in windows):
                started[index] = time.perf_counter()
            client.resource_groups.create_or_update(f"group-{index:06d}", {"location": "local", "tags": {"n": str(index)}})
            for start, end in sorted(windows):
                if end == index + 1:
                    rate = (end - start) / (time.perf_counter() - started[start])
                    rows.append((start, end, rate, _resident_mb(process.pid)))
    finally:
        process.terminate()
        process.wait(timeout=60)
        subprocess.run(["rm", "-rf", str(work)], check=False)
    rate = {(start, end): r for start, end, r, _ in rows}
    ratio = rate[(0, 150)] / rate[(1_350, 1_500)]
    lines = [f"Emulator store ({checkout}): resource groups created one after the other through the SDK",
             "", "| groups | writes/s | resident memory (MB) |", "|---|---|---|"]
    lines += [f"| {start + 1:,}-{end:,} | {r:.0f} | {mb:.0f} |" for start, end, r, mb in sorted(rows)]
    lines.append(f"\nwrites/s over the first 150 / over 1,351-1,500: {ratio:.2f}x (target <= 2x)")
    return "\n".join(lines)
