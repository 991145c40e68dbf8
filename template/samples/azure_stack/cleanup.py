"""Nothing a sample makes outlives it: each run works in a resource group of its own, deleted at the end."""

from __future__ import annotations

import sys
from typing import Any

from .settings import StackConfig
from .waiting import heartbeat


class temporary_resource_group:
    """A resource group for one sample run: a fresh name, created on entry, deleted on exit - also when a step
    fails - so that nothing a sample creates outlives it."""

    def __init__(self, resources: Any, config: StackConfig, purpose: str) -> None:
        import uuid

        self.resources, self.config = resources, config
        self.name = f"azs-sample-{purpose}-{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> str:
        self.resources.resource_groups.create_or_update(self.name, {"location": self.config.location,
                                                                    "tags": {"created-by": "azs-scaffold sample"}})
        print(f"Created resource group {self.name} in {self.config.location}")
        return self.name

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        print(f"Cleaning up: deleting resource group {self.name} and everything in it")
        try:
            with heartbeat(f"deleting {self.name}"):
                self.resources.resource_groups.begin_delete(self.name).result()
        except Exception as exc:  # the sample's own failure, if any, is the one to report
            print(f"warning: could not delete resource group {self.name} ({type(exc).__name__}); delete it by hand",
                  file=sys.stderr)
            if kind is None:
                raise
            return
        print(f"Deleted {self.name}")
