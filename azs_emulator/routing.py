"""One route table for every listener: sign-in, Resource Manager (tenant and ``/admin``), the Key Vault
data plane and the emulator's own fault control. Services declare routes; :class:`Router` finds one."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from azs_emulator.config import ADMIN_PREFIX
from azs_emulator.protocol import Request, Response

# Listeners (a real Stack's hosts): Resource Manager, sign-in, Key Vault's data plane, the directory (graph), and the
# storage data plane's blobs, queues and tables.
ARM, IDENTITY, KEYVAULT, GRAPH, BLOB, QUEUE, TABLE = "arm", "identity", "keyvault", "graph", "blob", "queue", "table"

# Who may call a route: a Resource Manager token (tenant, or operator under /admin), a vault token, a graph token,
# anyone.
ARM_TOKEN, VAULT_TOKEN, GRAPH_TOKEN, ANYONE = "arm-token", "vault-token", "graph-token", "anyone"

# The (namespace, resource type) whose api-versions apply: fixed, or read from the path's groups.
ApiOf = tuple[str, str] | Callable[[tuple[str, ...]], tuple[str, str]] | None
Handler = Callable[..., Response]


@dataclass(frozen=True)
class Route:
    methods: frozenset[str]
    pattern: re.Pattern[str]
    handler: Handler
    listener: str
    auth: str
    api: ApiOf
    # The first path group is a subscription id that must be the caller's.
    subscription: bool
    # Answered before fault injection and never logged: the emulator's own control surface.
    control: bool

    def api_of(self, groups: tuple[str, ...]) -> tuple[str, str] | None:
        return self.api(groups) if callable(self.api) else self.api


def route(methods: str, pattern: str, handler: Handler, *, api: ApiOf = None, listener: str = ARM,
          auth: str = ARM_TOKEN, subscription: bool | None = None, control: bool = False) -> Route:
    """A route: ``methods`` like ``"GET|PUT"``, ``pattern`` a case-insensitive regex of the whole path."""
    return Route(
        frozenset(methods.split("|")),
        re.compile(pattern + "$", re.IGNORECASE),
        handler,
        listener,
        auth,
        api,
        pattern.startswith("/subscriptions/") if subscription is None else subscription,
        control,
    )


class Service(Protocol):
    """A service of the emulator: it declares the routes it answers."""

    def routes(self) -> list[Route]: ...


@dataclass(frozen=True)
class Match:
    route: Route
    groups: tuple[str, ...]


class Router:
    """Finds the route of a request on a listener."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = list(routes)

    def find(self, request: Request, listeners: frozenset[str], admin_prefix: bool = False) -> Match | None:
        """The route for ``request`` on a listener serving ``listeners``; with ``admin_prefix`` (the loopback layout)
        a path under ``/admin`` is the operator's Resource Manager, and the prefix is taken off ``request.path``."""
        path = request.path.rstrip("/") or "/"
        if admin_prefix and (path.lower() == ADMIN_PREFIX or path.lower().startswith(ADMIN_PREFIX + "/")):
            path, request.admin = path[len(ADMIN_PREFIX):] or "/", True
            request.path = request.path[len(ADMIN_PREFIX):] or "/"
        for candidate in self.routes:
            if candidate.listener not in listeners or (request.admin and candidate.listener != ARM):
                continue
            found = candidate.pattern.match(path)
            if found and request.method in candidate.methods:
                return Match(candidate, found.groups())
        return None
