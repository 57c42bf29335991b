"""Typed JSON for the engine's own messages: the job file, the zygote's requests and replies.

`encode` turns a dataclass into data `json.dumps` takes; `decode` turns such data back
into the dataclass and refuses, with a WireError naming the field, one it does not know,
one that is missing and one of the wrong type. Both ends are the same grader: anything
else is a bug or a forgery, never something to guess at. Every field travels, so a
default in the dataclass is for its callers, never a reason to leave a field out.

A field may be: str, int, float, bool, Path, Any (any JSON: the caller looks), X | None,
tuple[X, ...] and dict[str, X] of those, and a dataclass of such fields.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, Union

T = TypeVar("T")


class WireError(ValueError):
    """A message that is not what its type says it is."""


def encode(value: object) -> dict[str, Any]:
    """`value`, a dataclass instance, as plain JSON data."""
    return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}  # type: ignore[arg-type]


def decode(kind: type[T], data: object) -> T:
    """`data` (parsed JSON) as a `kind`, or WireError."""
    name = kind.__name__
    if not isinstance(data, dict):
        raise WireError(f"{name}: expected a JSON object, not {type(data).__name__}")
    hints = _fields(kind)  # type: ignore[arg-type]  # a class is hashable
    unknown = sorted(set(data) - set(hints))
    if unknown:
        raise WireError(f"{name}: unknown field {', '.join(map(repr, unknown))}")
    missing = [field for field in hints if field not in data]
    if missing:
        raise WireError(f"{name}: missing field {', '.join(map(repr, missing))}")
    return kind(
        **{field: _value(hint, data[field], f"{name}.{field}") for field, hint in hints.items()}
    )


@functools.cache
def _fields(kind: type) -> dict[str, Any]:
    hints = typing.get_type_hints(kind)
    return {f.name: hints[f.name] for f in dataclasses.fields(kind)}


def _plain(value: object) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return encode(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


_WORDS: dict[Any, str] = {str: "a string", int: "a whole number", float: "a number", bool: "a bool"}


def _value(hint: Any, value: object, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [arg for arg in args if arg is not type(None)]
        return _value(inner, value, where)
    if origin is tuple:
        items = _expect(value, list, "a list", where)
        return tuple(_value(args[0], item, f"{where}[{i}]") for i, item in enumerate(items))
    if origin is dict:
        table = _expect(value, dict, "an object", where)
        return {key: _value(args[1], item, f"{where}[{key!r}]") for key, item in table.items()}
    if hint is Path:
        return Path(_expect(value, str, "a string", where))
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # JSON's integers have no bound; a float has
            raise WireError(f"{where}: {str(value)[:20]}… is too large for a number") from None
    if hint in _WORDS:
        return _expect(value, hint, _WORDS[hint], where)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return decode(hint, value)
    raise TypeError(f"{where}: the wire does not carry {hint!r}")  # a bug in a message type


def _expect(value: object, kind: type[T], words: str, where: str) -> T:
    # bool is an int to Python, but true is not a pid.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise WireError(f"{where} must be {words}, not {value!r:.80}")
    return value
