"""Many SDK clients at once against one emulator: each lists resource groups while the others create and
delete theirs. Used by the test of R82 and by bench/run.py (which reports its time)."""

from __future__ import annotations

import threading
import time
from typing import Any

from tests import sdk


def list_while_churning(info: dict[str, Any], clients: int = 20, rounds: int = 4) -> tuple[list[str], list[BaseException], float]:
    """(groups a client kept but missed in one of its own lists, errors, seconds). Bounded: ``clients`` x ``rounds``."""
    from azure.mgmt.resource import ResourceManagementClient

    misses: list[str] = []
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            groups = sdk.client(ResourceManagementClient, info, sdk.PROFILE_OF_RELEASE["2108"]).resource_groups
            groups.create_or_update(f"keep-{n:02d}", {"location": "local"})
            for round_ in range(rounds):
                groups.create_or_update(f"churn-{n:02d}-{round_}", {"location": "local"})
                if f"keep-{n:02d}" not in {g.name for g in groups.list()}:
                    misses.append(f"keep-{n:02d}")
                groups.begin_delete(f"churn-{n:02d}-{round_}").result()
        except BaseException as exc:  # noqa: BLE001 - reported to the caller
            errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return misses, errors, time.monotonic() - started
