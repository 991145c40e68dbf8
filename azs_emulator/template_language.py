"""The ARM template language as Azure Stack Hub's Resource Manager evaluates it: what Microsoft's Stack
quickstart templates, samples and Azure CLI use.

An expression is a JSON string in brackets: ``"[concat('a', parameters('p'))]"``; ``"[[..."`` is a
literal string starting with ``[``. Supported: string, number and boolean literals, function calls,
property access (``.name``) and indexing (``[0]``, ``['key']``), and the functions in ``FUNCTIONS``;
``if()`` evaluates only the branch it takes, as ARM does. Property and variable loops (a ``copy`` array
of ``{name, count, input}``) expand here; resource loops are the deployment's (``copyIndex()`` reads the
scope's loops either way). A function a Stack does not offer (``STACK_REFUSED``) is refused there with
ARM's own message. Anything else raises :class:`TemplateError`, answered as ``InvalidTemplate``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import math
import re
import uuid
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote, unquote, urljoin

from azs_emulator.template_limits import check_arguments, check_result


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
    def list_keys(self, target: str, api_version: str) -> Any: ...

    # The loops being expanded, innermost last: (loop name, index); and the resource loop, if any.
    loops: list[tuple[str, int]]
    resource_loop: str | None
    # A Stack's Resource Manager (True) lacks the functions in STACK_REFUSED; global Azure's has them.
    is_stack: bool


_TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][\w]*)|(?P<punct>[(),.\[\]]))")


def _tokens(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        found = _TOKEN.match(text, position)
        if not found:
            raise TemplateError(f"unexpected character {text[position:].strip()[:1]!r} in expression '[{text}]'")
        kind = found.lastgroup or ""  # every alternative of _TOKEN is a named group
        value: Any = found.group(kind)
        if kind == "string":
            value = value[1:-1].replace("''", "'")
        elif kind == "number":
            value = float(value) if "." in value else int(value)
        tokens.append((kind, value))
        position = found.end()
    return tokens


class _Parser:
    """Parses one expression into a tree: ``("value", v)``, ``("call", name, [args])``, ``("member", node, key)``."""

    def __init__(self, text: str) -> None:
        self.text = text
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

    def parse(self) -> tuple[Any, ...]:
        tree = self._expression()
        extra = self._peek()
        if extra is not None:
            raise TemplateError(f"unexpected {extra[1]!r} in expression '[{self.text}]'")
        return tree

    def _expression(self) -> tuple[Any, ...]:
        kind, value = self._take()
        if kind == "string" or kind == "number":
            tree: tuple[Any, ...] = ("value", value)
        elif kind == "name":
            self._take("(")
            args: list[tuple[Any, ...]] = []
            if self._peek() != ("punct", ")"):
                args.append(self._expression())
                while self._peek() == ("punct", ","):
                    self._take(",")
                    args.append(self._expression())
            self._take(")")
            tree = ("call", value, args)
        else:
            raise TemplateError(f"unexpected {value!r} in expression '[{self.text}]'")
        while self._peek() in (("punct", "."), ("punct", "[")):
            if self._take()[1] == ".":
                tree = ("member", tree, ("value", self._take()[1]))
            else:
                tree = ("member", tree, self._expression())
                self._take("]")
        return tree


def _run(tree: tuple[Any, ...], scope: Scope, text: str) -> Any:
    kind = tree[0]
    if kind == "value":
        return tree[1]
    if kind == "member":
        return _member(_run(tree[1], scope, text), _run(tree[2], scope, text), text)
    name, args = tree[1], tree[2]
    if name.lower() == "if":  # ARM evaluates only the branch the condition takes
        _need(name, args, 3)
        return _run(args[1] if _run(args[0], scope, text) else args[2], scope, text)
    return call(name, [_run(a, scope, text) for a in args], scope)


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
            return _run(_Parser(value[1:-1]).parse(), scope, value[1:-1])
        return value
    if isinstance(value, list):
        return [evaluate(v, scope) for v in value]
    if isinstance(value, dict):
        loops = value.get("copy")
        if isinstance(loops, list) and loops and all(isinstance(loop, dict) and "input" in loop for loop in loops):
            result = {k: evaluate(v, scope) for k, v in value.items() if k != "copy"}
            for loop in loops:
                result[str(evaluate(loop.get("name"), scope))] = expand_loop(loop, scope)
            return result
        return {k: evaluate(v, scope) for k, v in value.items()}
    return value


MAX_COPY_COUNT = 800  # ARM's limit on the iterations of one loop


def loop_count(loop: dict[str, Any], scope: Scope, what: str) -> int:
    """The iterations a ``copy`` asks for, checked as ARM checks them."""
    name = loop.get("name")
    if not isinstance(name, str) or not name:
        raise TemplateError(f"the copy of {what} needs a 'name'")
    count = evaluate(loop.get("count"), scope)
    if isinstance(count, bool) or not isinstance(count, int):
        raise TemplateError(f"the copy '{name}' of {what} has count {count!r}; it must be an integer")
    if not 0 <= count <= MAX_COPY_COUNT:
        raise TemplateError(f"the copy '{name}' of {what} has count {count}; it must be between 0 and {MAX_COPY_COUNT}")
    return count


def expand_loop(loop: dict[str, Any], scope: Scope) -> list[Any]:
    """A property or variable loop: ``input`` evaluated once per iteration, ``copyIndex('name')`` its index."""
    name = str(loop.get("name"))
    values = []
    for index in range(loop_count(loop, scope, f"'{name}'")):
        scope.loops.append((name, index))
        try:
            values.append(evaluate(copy.deepcopy(loop["input"]), scope))
        finally:
            scope.loops.pop()
    return values


def _copy_index(scope: Scope, *args: Any) -> int:
    if args and isinstance(args[0], str):
        name, offset = args[0], (args[1] if len(args) > 1 else 0)
        index = next((i for loop, i in reversed(scope.loops) if loop.lower() == name.lower()), None)
        if index is None:
            raise TemplateError(f"the copy loop '{name}' named by copyIndex is not found")
    else:
        offset = args[0] if args else 0
        wanted = scope.resource_loop
        found = [i for loop, i in scope.loops if wanted is None or loop == wanted]
        if not found:
            raise TemplateError("The template function 'copyIndex' is not expected at this location")
        index = found[-1] if wanted is None else found[0]
    if isinstance(offset, bool) or not isinstance(offset, int):
        raise TemplateError(f"copyIndex: the offset {offset!r} is not an integer")
    return index + offset


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
    "div": (2, 2, lambda s, a, b: _divide(_integer(a), _integer(b))),
    "replace": (3, 3, lambda s, v, old, new: _text(v).replace(old, new)),
    "substring": (2, 3, lambda s, v, start, length=None: _text(v)[start:None if length is None else start + length]),
    "split": (2, 2, lambda s, v, sep: _text(v).split(sep) if isinstance(sep, str) else re.split("|".join(map(re.escape, sep)), _text(v))),
    "last": (1, 1, lambda s, v: v[-1]),
    "first": (1, 1, lambda s, v: v[0]),
    "contains": (2, 2, lambda s, c, v: v in c),
    "createarray": (0, 99, lambda s, *a: list(a)),
    "union": (1, 99, lambda s, *a: {k: v for d in a for k, v in d.items()} if isinstance(a[0], dict)
              else list(dict.fromkeys(x for part in a for x in part))),
    "base64": (1, 1, lambda s, v: base64.b64encode(_text(v).encode()).decode()),
    "base64tostring": (1, 1, lambda s, v: base64.b64decode(_text(v)).decode()),
    "base64tojson": (1, 1, lambda s, v: json.loads(base64.b64decode(_text(v)).decode())),
    "copyindex": (0, 2, _copy_index),
    "listkeys": (2, 2, lambda s, target, version: s.list_keys(str(target), str(version))),
    "mod": (2, 2, lambda s, a, b: int(math.fmod(_integer(a), _integer(b)))),
    "min": (1, 99, lambda s, *a: min(_numbers(a))),
    "max": (1, 99, lambda s, *a: max(_numbers(a))),
    "range": (2, 2, lambda s, start, count: list(range(_integer(start), _integer(start) + _integer(count)))),
    "uri": (2, 2, lambda s, base, relative: urljoin(_text(base), _text(relative))),
    "uricomponent": (1, 1, lambda s, v: quote(_text(v), safe="")),
    "uricomponenttostring": (1, 1, lambda s, v: unquote(_text(v))),
    "datauri": (1, 1, lambda s, v: "data:text/plain;charset=utf8;base64," + base64.b64encode(_text(v).encode()).decode()),
    "take": (2, 2, lambda s, v, n: _slice(v, 0, _integer(n))),
    "skip": (2, 2, lambda s, v, n: _slice(v, _integer(n), None)),
    "trim": (1, 1, lambda s, v: _text(v).strip()),
    "padleft": (2, 3, lambda s, v, width, char=" ": _text(v).rjust(_integer(width), _text(char)[:1] or " ")),
    "indexof": (2, 2, lambda s, v, part: _text(v).lower().find(_text(part).lower())),
    "lastindexof": (2, 2, lambda s, v, part: _text(v).lower().rfind(_text(part).lower())),
    "startswith": (2, 2, lambda s, v, part: _text(v).lower().startswith(_text(part).lower())),
    "endswith": (2, 2, lambda s, v, part: _text(v).lower().endswith(_text(part).lower())),
    "json": (1, 1, lambda s, v: json.loads(_text(v))),
    "array": (1, 1, lambda s, v: v if isinstance(v, list) else [v]),
    "coalesce": (1, 99, lambda s, *a: next((v for v in a if v is not None), None)),
    "intersection": (2, 99, lambda s, *a: _intersection(a)),
    "less": (2, 2, lambda s, a, b: a < b),
    "lessorequals": (2, 2, lambda s, a, b: a <= b),
    "greater": (2, 2, lambda s, a, b: a > b),
    "greaterorequals": (2, 2, lambda s, a, b: a >= b),
}
# Functions Azure Stack Hub's Resource Manager does not offer ("Resource Manager template considerations":
# "The following functions aren't available in Azure Stack Hub: Skip").
STACK_REFUSED = frozenset({"skip"})
ARM_FUNCTIONS_HELP = "https://aka.ms/arm-template-expressions"


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TemplateError(f"the value {value!r} is not an integer")
    return value


def _divide(a: int, b: int) -> int:
    """Integer division as ARM's (.NET's): toward zero, so div(-7, 2) is -3."""
    quotient = abs(a) // abs(b)
    return quotient if (a < 0) == (b < 0) else -quotient


def _numbers(values: tuple[Any, ...]) -> list[int]:
    flat = list(values[0]) if len(values) == 1 and isinstance(values[0], list) else list(values)
    return [_integer(v) for v in flat]


def _slice(value: Any, start: int, end: int | None) -> Any:
    if not isinstance(value, (str, list)):
        raise TemplateError(f"the value {value!r} is neither a string nor an array")
    return value[max(start, 0):None if end is None else max(end, 0)]


def _intersection(values: tuple[Any, ...]) -> Any:
    if all(isinstance(v, dict) for v in values):
        return {k: v for k, v in values[0].items() if all(k in o and o[k] == v for o in values[1:])}
    return [item for item in dict.fromkeys(values[0]) if all(item in other for other in values[1:])]


def check_functions(value: Any, is_stack: bool) -> None:
    """Every expression in ``value`` parses and names only functions the Resource Manager offers; Resource Manager
    checks this when it validates a template, before anything is deployed."""
    if isinstance(value, str):
        if value.startswith("[") and value.endswith("]") and not value.startswith("[["):
            pending = [_Parser(value[1:-1]).parse()]
            while pending:
                tree = pending.pop()
                if tree[0] == "member":
                    pending += [tree[1], tree[2]]
                elif tree[0] == "call":
                    name = tree[1].lower()
                    if name not in FUNCTIONS or (is_stack and name in STACK_REFUSED):
                        raise TemplateError(f"The template function '{tree[1]}' is not valid. Please see "
                                            f"{ARM_FUNCTIONS_HELP} for usage details")
                    pending += tree[2]
    elif isinstance(value, list):
        for item in value:
            check_functions(item, is_stack)
    elif isinstance(value, dict):
        for item in value.values():
            check_functions(item, is_stack)


def call(name: str, args: list[Any], scope: Scope) -> Any:
    """The value of the function ``name`` with these (evaluated) arguments."""
    entry = FUNCTIONS.get(name.lower())
    if entry is None or (name.lower() in STACK_REFUSED and getattr(scope, "is_stack", True)):
        raise TemplateError(f"The template function '{name}' is not valid. Please see {ARM_FUNCTIONS_HELP} for usage details")
    low, high, implementation = entry
    _need(name, args, low, high)
    check_arguments(name, args)
    try:
        return check_result(name, implementation(scope, *args))
    except TemplateError:
        raise
    except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError) as exc:
        raise TemplateError(f"the function '{name}' cannot take these arguments: {exc}") from None
