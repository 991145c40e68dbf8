"""Resource Manager's documented limits on what a template's functions may make, checked before a function runs
(so that ``padLeft('a', 2000000000)`` or ``range(0, 1000000000)`` never holds gigabytes) and on what it returned.

- A template is at most 4 MB "after it has been expanded with iterative resource definitions, and values for
  variables and parameters" (ARM template best practices, "Template limits"): no string or array in it is longer.
- ``range``'s count "must be a non-negative integer up to 10000", and start plus count at most 2147483647 (ARM
  template functions for arrays, "range").

Each is answered as Resource Manager answers a template it cannot evaluate: 400 InvalidTemplate (TemplateError).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azs_emulator.template_language import TemplateError

MAX_VALUE_LENGTH = 4 * 1024 * 1024  # characters of a string, items of an array
MAX_RANGE_COUNT = 10000
MAX_INT32 = 2147483647


def _error(message: str) -> TemplateError:
    from azs_emulator.template_language import TemplateError  # which calls these checks

    return TemplateError(message)


def _too_long(name: str, length: int) -> TemplateError:
    return _error(f"The template function '{name}' would make a value of {length} characters or items, beyond the "
                         f"{MAX_VALUE_LENGTH} a template of at most 4 MB can hold once expanded.")


def check_arguments(name: str, args: list[Any] | tuple[Any, ...]) -> None:
    """Refuse a call whose result would pass the limits, before it is computed."""
    lowered = name.lower()
    numbers = [arg for arg in args if isinstance(arg, int) and not isinstance(arg, bool)]
    if lowered == "padleft" and len(args) >= 2 and args[1] in numbers and args[1] > MAX_VALUE_LENGTH:
        raise _too_long(name, args[1])
    if lowered == "range" and len(numbers) == 2 == len(args):
        start, count = args
        if not 0 <= count <= MAX_RANGE_COUNT or start + count > MAX_INT32:
            raise _error(f"The template function 'range' has count {count}: it must be a non-negative integer up to "
                                f"{MAX_RANGE_COUNT}, and start plus count at most {MAX_INT32}.")
    if lowered == "replace" and len(args) == 3 and all(isinstance(arg, str) for arg in args):
        text, old, new = args
        grown = len(text) + (text.count(old) if old else len(text) + 1) * (len(new) - len(old))
        if grown > MAX_VALUE_LENGTH:
            raise _too_long(name, grown)
    if lowered == "mul" and any(isinstance(arg, (str, list)) for arg in args):
        raise _error("The template function 'mul' takes integers.")


def check_result(name: str, value: Any) -> Any:
    """``value``, unless it is a string or an array longer than a template can hold."""
    if isinstance(value, (str, list)) and len(value) > MAX_VALUE_LENGTH:
        raise _too_long(name, len(value))
    return value
