"""The OData ``$filter`` of the table service's Query Entities and Query Tables (REST API "Querying tables and
entities"): comparisons (``eq ne gt ge lt le``) of a property with a literal (string, number, ``123L``, ``true``,
``datetime'...'``, ``guid'...'``, ``X'...'``), joined with ``and``, ``or``, ``not`` and parentheses. A comparison of
values of different types is false, as the service has it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from azs_emulator.services.storage_auth import StorageError

_TOKEN = re.compile(r"""\s*(?:
    (?P<open>\() | (?P<close>\)) |
    (?P<typed>(?:datetime|guid|X|binary)'(?:[^']|'')*') |
    (?P<string>'(?:[^']|'')*') |
    (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?[LlDdFfMm]?) |
    (?P<word>[A-Za-z_][A-Za-z0-9_]*)
)""", re.VERBOSE)
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
}
Entity = dict[str, Any]
Test = Callable[[Entity], bool]


def invalid_filter(text: str) -> StorageError:
    return StorageError(400, "InvalidInput", f"One of the request inputs is not valid: the filter {text!r} is not one "
                        "the emulator reads.")


def _date(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(re.sub(r"(\.\d{6})\d*", r"\1", text.replace("Z", "+00:00")))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def typed_value(entity: Entity, name: str) -> Any:
    """A property of a stored entity as a comparable value (Int64 and DateTime are strings in its JSON)."""
    if name not in entity:
        return None
    value, kind = entity[name], entity.get(f"{name}@odata.type", "")
    if kind == "Edm.Int64":
        return int(value)
    if kind == "Edm.DateTime":
        return _date(value)
    return value


def _literal(kind: str, text: str) -> Any:
    if kind == "string":
        return text[1:-1].replace("''", "'")
    if kind == "typed":
        prefix, _, quoted = text.partition("'")
        inner = quoted[:-1].replace("''", "'")
        return _date(inner) if prefix == "datetime" else inner
    if kind == "number":
        plain = text.rstrip("LlDdFfMm")
        return float(plain) if any(c in plain for c in ".eE") else int(plain)
    raise ValueError(text)


def parse_filter(text: str) -> Test:
    """The filter as a test of an entity (a stored one: its JSON with ``@odata.type`` annotations)."""
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text.rstrip()):
        found = _TOKEN.match(text, position)
        if not found or found.end() == position:
            raise invalid_filter(text)
        kind = found.lastgroup or ""
        tokens.append((kind, found.group(kind)))
        position = found.end()
    index = 0

    def peek() -> tuple[str, str]:
        return tokens[index] if index < len(tokens) else ("end", "")

    def take() -> tuple[str, str]:
        nonlocal index
        index += 1
        return tokens[index - 1] if index <= len(tokens) else ("end", "")

    def either() -> Test:
        left = both()
        while peek() == ("word", "or"):
            take()
            left = (lambda a, b: lambda e: a(e) or b(e))(left, both())
        return left

    def both() -> Test:
        left = negated()
        while peek() == ("word", "and"):
            take()
            left = (lambda a, b: lambda e: a(e) and b(e))(left, negated())
        return left

    def negated() -> Test:
        if peek() == ("word", "not"):
            take()
            inner = negated()
            return lambda e: not inner(e)
        return comparison()

    def operand() -> Callable[[Entity], Any]:
        kind, value = take()
        if kind == "word" and value in ("true", "false"):
            return lambda e: value == "true"
        if kind == "word":
            return lambda e: typed_value(e, value)
        try:
            constant = _literal(kind, value)
        except ValueError:
            raise invalid_filter(text) from None
        return lambda e: constant

    def comparison() -> Test:
        if peek()[0] == "open":
            take()
            inner = either()
            if take()[0] != "close":
                raise invalid_filter(text)
            return inner
        left = operand()
        kind, word = take()
        if kind != "word" or word not in _COMPARISONS:
            raise invalid_filter(text)
        right, compare = operand(), _COMPARISONS[word]

        def test(entity: Entity) -> bool:
            a, b = left(entity), right(entity)
            if a is None or b is None or (type(a) is not type(b) and not {type(a), type(b)} <= {int, float}):
                return word == "ne" and (a is None) != (b is None)
            return compare(a, b)

        return test

    result = either()
    if index != len(tokens):
        raise invalid_filter(text)
    return result
