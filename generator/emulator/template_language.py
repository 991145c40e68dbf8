"""The part of the ARM template language that samples and Azure CLI use, evaluated as ARM does.

An expression is a JSON string in brackets: ``"[concat('a', parameters('p'))]"``; ``"[[..."`` is a
literal string starting with ``[``. Supported: string, number and boolean literals, function calls,
property access (``.name``) and indexing (``[0]``, ``['key']``), and the functions in ``FUNCTIONS``.
Anything else raises :class:`TemplateError`, answered as ``InvalidTemplate``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from typing import Any, Callable, Protocol


class TemplateError(ValueError):
    """The template cannot be evaluated; the message says where and why."""


class Scope(Protocol):
    """What functions need from the deployment being evaluated."""

    def parameter(self, name: str) -> Any: ...
    def variable(self, name: str) -> Any: ...
    def resource_group(self) -> dict[str, Any]: ...
    def subscription(self) -> dict[str, Any]: ...
    def deployment(self) -> dict[str, Any]: ...
    def resource_id(self, args: list[Any]) -> str: ...
    def reference(self, target: str, api_version: str | None, full: bool) -> Any: ...
    def providers(self, namespace: str, resource_type: str) -> dict[str, Any]: ...


_TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][\w]*)|(?P<punct>[(),.\[\]]))")


def _tokens(text: str) -> list[tuple[str, Any]]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        found = _TOKEN.match(text, position)
        if not found:
            raise TemplateError(f"unexpected character {text[position:].strip()[:1]!r} in expression '[{text}]'")
        kind = found.lastgroup
        value = found.group(kind)
        if kind == "string":
            value = value[1:-1].replace("''", "'")
        elif kind == "number":
            value = float(value) if "." in value else int(value)
        tokens.append((kind, value))
        position = found.end()
    return tokens


class _Parser:
    def __init__(self, text: str, scope: Scope) -> None:
        self.text, self.scope = text, scope
        self.tokens = _tokens(text)
        self.position = 0

    def _peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self, punct: str | None = None) -> tuple[str, Any]:
        token = self._peek()
        if token is None or (punct is not None and token != ("punct", punct)):
            raise TemplateError(f"expected {punct or 'more'} in expression '[{self.text}]'")
        self.position += 1
        return token

    def parse(self) -> Any:
        value = self._expression()
        if self._peek() is not None:
            raise TemplateError(f"unexpected {self._peek()[1]!r} in expression '[{self.text}]'")
        return value

    def _expression(self) -> Any:
        kind, value = self._take()
        if kind == "string" or kind == "number":
            result = value
        elif kind == "name":
            self._take("(")
            args: list[Any] = []
            if self._peek() != ("punct", ")"):
                args.append(self._expression())
                while self._peek() == ("punct", ","):
                    self._take(",")
                    args.append(self._expression())
            self._take(")")
            result = call(value, args, self.scope)
        else:
            raise TemplateError(f"unexpected {value!r} in expression '[{self.text}]'")
        while self._peek() in (("punct", "."), ("punct", "[")):
            if self._take()[1] == ".":
                result = _member(result, self._take()[1], self.text)
            else:
                result = _member(result, self._expression(), self.text)
                self._take("]")
        return result


def _member(value: Any, key: Any, text: str) -> Any:
    if isinstance(value, dict):
        for candidate in value:
            if str(candidate).lower() == str(key).lower():
                return value[candidate]
        raise TemplateError(f"the object has no property '{key}' (expression '[{text}]')")
    if isinstance(value, list) and isinstance(key, int):
        if not 0 <= key < len(value):
            raise TemplateError(f"index {key} is out of range (expression '[{text}]')")
        return value[key]
    raise TemplateError(f"cannot take '{key}' of {type(value).__name__} (expression '[{text}]')")


def evaluate(value: Any, scope: Scope) -> Any:
    """``value`` (any JSON) with every expression string replaced by its value."""
    if isinstance(value, str):
        if value.startswith("[[") :
            return value[1:]
        if value.startswith("[") and value.endswith("]"):
            return _Parser(value[1:-1], scope).parse()
        return value
    if isinstance(value, list):
        return [evaluate(v, scope) for v in value]
    if isinstance(value, dict):
        return {k: evaluate(v, scope) for k, v in value.items()}
    return value


def unique_string(*parts: str) -> str:
    """13 lower-case characters, the same for the same inputs (ARM's own hash differs; only stability matters)."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return base64.b32encode(digest).decode().lower()[:13]


def _format(template: str, *args: Any) -> str:
    def one(found: re.Match[str]) -> str:
        index = int(found.group(1))
        if index >= len(args):
            raise TemplateError(f"format('{template}') names argument {index} but has {len(args)}")
        return _text(args[index])
    return re.sub(r"\{(\d+)(?::[^}]*)?\}", one, template)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _concat(*args: Any) -> Any:
    if args and all(isinstance(a, list) for a in args):
        return [item for a in args for item in a]
    return "".join(_text(a) for a in args)


def _need(name: str, args: list[Any], low: int, high: int | None = None) -> None:
    high = low if high is None else high
    if not low <= len(args) <= high:
        expected = str(low) if low == high else f"{low} to {high}" if high < 99 else f"at least {low}"
        raise TemplateError(f"the function '{name}' takes {expected} argument(s), not {len(args)}")


FUNCTIONS: dict[str, tuple[int, int, Callable[..., Any]]] = {
    # name: (fewest arguments, most arguments, implementation(scope, *args))
    "parameters": (1, 1, lambda s, n: s.parameter(n)),
    "variables": (1, 1, lambda s, n: s.variable(n)),
    "resourcegroup": (0, 0, lambda s: s.resource_group()),
    "subscription": (0, 0, lambda s: s.subscription()),
    "deployment": (0, 0, lambda s: s.deployment()),
    "resourceid": (2, 99, lambda s, *a: s.resource_id(list(a))),
    "providers": (2, 2, lambda s, namespace, resource_type: s.providers(namespace, resource_type)),
    "reference": (1, 3, lambda s, target, version=None, full=None: s.reference(target, version, str(full).lower() == "full")),
    "concat": (1, 99, lambda s, *a: _concat(*a)),
    "format": (1, 99, lambda s, f, *a: _format(f, *a)),
    "uniquestring": (1, 99, lambda s, *a: unique_string(*map(_text, a))),
    "guid": (1, 99, lambda s, *a: str(uuid.UUID(hashlib.md5("|".join(map(_text, a)).encode()).hexdigest()))),
    "tolower": (1, 1, lambda s, v: _text(v).lower()),
    "toupper": (1, 1, lambda s, v: _text(v).upper()),
    "string": (1, 1, lambda s, v: _text(v)),
    "int": (1, 1, lambda s, v: int(v)),
    "bool": (1, 1, lambda s, v: v if isinstance(v, bool) else str(v).lower() == "true"),
    "length": (1, 1, lambda s, v: len(v)),
    "empty": (1, 1, lambda s, v: v is None or len(v) == 0),
    "equals": (2, 2, lambda s, a, b: a == b),
    "not": (1, 1, lambda s, v: not v),
    "and": (2, 99, lambda s, *a: all(a)),
    "or": (2, 99, lambda s, *a: any(a)),
    "if": (3, 3, lambda s, c, a, b: a if c else b),
    "true": (0, 0, lambda s: True),
    "false": (0, 0, lambda s: False),
    "null": (0, 0, lambda s: None),
    "add": (2, 2, lambda s, a, b: a + b),
    "sub": (2, 2, lambda s, a, b: a - b),
    "mul": (2, 2, lambda s, a, b: a * b),
    "div": (2, 2, lambda s, a, b: a // b),
    "replace": (3, 3, lambda s, v, old, new: _text(v).replace(old, new)),
    "substring": (2, 3, lambda s, v, start, length=None: _text(v)[start:None if length is None else start + length]),
    "split": (2, 2, lambda s, v, sep: _text(v).split(sep) if isinstance(sep, str) else re.split("|".join(map(re.escape, sep)), _text(v))),
    "last": (1, 1, lambda s, v: v[-1]),
    "first": (1, 1, lambda s, v: v[0]),
    "contains": (2, 2, lambda s, c, v: v in c),
    "createarray": (0, 99, lambda s, *a: list(a)),
    "union": (1, 99, lambda s, *a: {k: v for d in a for k, v in d.items()} if isinstance(a[0], dict) else list(dict.fromkeys(x for l in a for x in l))),
    "base64": (1, 1, lambda s, v: base64.b64encode(_text(v).encode()).decode()),
}


def call(name: str, args: list[Any], scope: Scope) -> Any:
    entry = FUNCTIONS.get(name.lower())
    if entry is None:
        raise TemplateError(f"the template function '{name}' is not valid (the emulator evaluates: "
                            f"{', '.join(sorted(FUNCTIONS))})")
    low, high, implementation = entry
    _need(name, args, low, high)
    try:
        return implementation(scope, *args)
    except TemplateError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError) as exc:
        raise TemplateError(f"the function '{name}' cannot take these arguments: {exc}") from None
