"""Faults on demand: latency, transient 429/503, dropped connections, broken bodies.

A plan is set at start (command-line options) or at run time through ``/_emulator/faults``; counted
faults are consumed one request at a time, and only by requests whose path matches ``path``.
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

# What a counted fault does to the next matching request.
TRANSIENT = "transient"  # answer transient_status with Retry-After
DROP = "drop"  # close the connection without an answer
TRUNCATE = "truncate"  # send half of the body, then close
NON_JSON = "non_json"  # answer an HTML page instead of JSON
REDIRECT = "redirect"  # answer 307 to another host
REPLACE = "replace"  # answer replace_status with replace_body, whatever was asked
FAULT_KINDS = (TRANSIENT, DROP, TRUNCATE, NON_JSON, REDIRECT, REPLACE)
REDIRECT_TARGET = "https://elsewhere.example.invalid/"


@dataclass
class FaultPlan:
    """What to break, and how often."""

    latency: float = 0.0  # seconds added to every matching request
    drip: float = 0.0  # seconds between the bytes of every matching answer (status line, headers, body)
    transient: int = 0
    transient_status: int = 503
    retry_after: int = 0
    retry_after_header: str = ""  # sent verbatim instead of retry_after: a malformed one, e.g. "soon" or "-5"
    drop: int = 0
    truncate: int = 0
    non_json: int = 0
    redirect: int = 0
    replace: int = 0
    replace_status: int = 200
    replace_body: str = ""
    replace_content_type: str = "application/json; charset=utf-8"
    registration_stuck: bool = False  # providers stay 'Registering' for ever
    path: str = ""  # a regular expression searched in the request path; empty matches all

    @classmethod
    def from_json(cls, body: Any) -> FaultPlan:
        """Build a plan from a JSON object, refusing unknown keys and wrong types."""
        if not isinstance(body, dict):
            raise ValueError("a fault plan is a JSON object")
        known = {f.name: f.type for f in fields(cls)}
        unknown = set(body) - set(known)
        if unknown:
            raise ValueError(f"unknown fault option(s): {', '.join(sorted(unknown))}")
        for name, value in body.items():
            wanted = _JSON_TYPES[str(known[name])]
            if isinstance(value, bool) != (wanted is bool) or not isinstance(value, wanted):
                raise ValueError(f"{name} must be {_TYPE_WORDS[str(known[name])]}, not {json.dumps(value)}")
            if wanted is not str and wanted is not bool and not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number")
            if wanted is not str and wanted is not bool and value < 0:
                raise ValueError(f"{name} must not be negative")
        plan = cls(**body)
        if plan.transient_status not in (429, 500, 502, 503, 504):
            raise ValueError("transient_status must be 429, 500, 502, 503 or 504")
        if not 100 <= plan.replace_status <= 599:
            raise ValueError("replace_status must be an HTTP status, 100 to 599")
        if plan.latency > 600:
            raise ValueError("latency must be at most 600 seconds")
        if plan.drip > 10:
            raise ValueError("drip must be at most 10 seconds a byte")
        try:
            re.compile(plan.path)
        except re.error as exc:
            raise ValueError(f"path is not a regular expression: {exc}") from None
        return plan


_JSON_TYPES: dict[str, Any] = {"float": (int, float), "int": int, "str": str, "bool": bool}
_TYPE_WORDS = {"float": "a number", "int": "a whole number", "str": "a string", "bool": "true or false"}


class FaultInjector:
    """Applies a :class:`FaultPlan`; thread-safe."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self._lock = threading.Lock()
        self._plan = plan or FaultPlan()

    def set_plan(self, plan: FaultPlan) -> None:
        with self._lock:
            self._plan = plan

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return asdict(self._plan)

    def latency_for(self, path: str) -> float:
        with self._lock:
            return self._plan.latency if self._matches(path) else 0.0

    def drip_for(self, path: str) -> float:
        with self._lock:
            return self._plan.drip if self._matches(path) else 0.0

    def take(self, path: str) -> str | None:
        """Consume and return the next counted fault for ``path``, if any."""
        with self._lock:
            if not self._matches(path):
                return None
            for kind in FAULT_KINDS:
                remaining = getattr(self._plan, kind)
                if remaining > 0:
                    setattr(self._plan, kind, remaining - 1)
                    return kind
            return None

    def registration_stuck(self) -> bool:
        with self._lock:
            return self._plan.registration_stuck

    def replacement(self) -> tuple[int, bytes, str]:
        with self._lock:
            return self._plan.replace_status, self._plan.replace_body.encode(), self._plan.replace_content_type

    def transient_answer(self) -> tuple[int, str]:
        """The status of a transient answer and its Retry-After header."""
        with self._lock:
            return self._plan.transient_status, self._plan.retry_after_header or str(self._plan.retry_after)

    def _matches(self, path: str) -> bool:
        return not self._plan.path or re.search(self._plan.path, path) is not None
