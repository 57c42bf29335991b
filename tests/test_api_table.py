"""README's API table for check authors is the code's: each row's signature, coroutine-ness
and return type are those of the real object, and every public name a check can reach has a
row (a method added without one fails here until the row is written)."""

from __future__ import annotations

import ast
import inspect
import re
from typing import Any

import pytest

import checks._chat as lesson
import grader
from grader.client import Transcript
from tests.conftest import ROOT

# What a row's first word stands for: the fixtures' names and the objects they hand out.
RECEIVERS: dict[str, type] = {
    "server": grader.LiveServer,
    "client": grader.Client,
    "chat": lesson.Chat,
    "launch": grader.Launcher,
    "redis_server": lesson.RedisServer,
    "submission": grader.Submission,
    "server.transcript": Transcript,
    "stream": grader.EventStream,
    "response": grader.Response,
}
HEADER = "| signature | returns | what it does |"
CODE = re.compile(r"`([^`]+)`")


def rows() -> list[tuple[str, str]]:
    """(signature, returns) of every row of the table, `\\|` read as `|`."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split(HEADER, 1)[1].split("\n\n", 1)[0]
    found = []
    for line in table.strip().splitlines()[1:]:  # after the | --- | line
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        [signature] = CODE.findall(cells[0])
        found.append((signature, cells[1]))
    return found


def resolve(name: str, called: bool) -> tuple[Any, type | None, str]:
    """The object a row names, the class it belongs to (None for the module's own), and
    what it is: "class", "function", "property" or "attribute"."""
    if name in RECEIVERS and called:  # `launch(...)`: the fixture is called
        return RECEIVERS[name].__call__, RECEIVERS[name], "function"
    if "." not in name:
        # The engine's names, and those of this course's extension (Chat).
        value = getattr(grader, name) if hasattr(grader, name) else getattr(lesson, name)
        return value, None, "class" if inspect.isclass(value) else "function"
    owner, attribute = name.rsplit(".", 1)
    cls = RECEIVERS[owner]
    try:
        value = inspect.getattr_static(cls, attribute)
    except AttributeError:
        return None, cls, "attribute"
    return value, cls, "property" if isinstance(value, property) else "function"


def documented_parameters(text: str) -> list[tuple[str, str, str | None]]:
    """(kind, name, default's repr) of each parameter a row writes, read as Python does."""
    args = ast.parse(f"def f({text}): pass").body[0].args  # type: ignore[attr-defined]
    defaults = [None] * (len(args.args) - len(args.defaults)) + args.defaults
    found = [("POSITIONAL_OR_KEYWORD", a.arg, d) for a, d in zip(args.args, defaults, strict=True)]
    if args.vararg:
        found.append(("VAR_POSITIONAL", args.vararg.arg, None))
    found += [
        ("KEYWORD_ONLY", a.arg, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    ]
    if args.kwarg:
        found.append(("VAR_KEYWORD", args.kwarg.arg, None))
    return [
        (kind, name, None if d is None else repr(ast.literal_eval(d))) for kind, name, d in found
    ]


def real_parameters(
    signature: inspect.Signature, method: bool
) -> list[tuple[str, str, str | None]]:
    parameters = list(signature.parameters.values())[1 if method else 0 :]
    return [
        (p.kind.name, p.name, None if p.default is p.empty else repr(p.default)) for p in parameters
    ]


def annotation(value: object) -> str:
    return value if isinstance(value, str) else inspect.formatannotation(value)


def disagreements(signature: str, returns: str) -> list[str]:
    """What the code says that the row does not."""
    awaited = signature.startswith("await ")
    call = signature.removeprefix("await ").removeprefix("@")
    name, _, rest = call.partition("(")
    value, cls, kind = resolve(name, called=bool(rest))
    said = CODE.findall(returns)
    wrong = []
    if kind == "attribute":
        assert cls is not None
        if f"self.{name.rsplit('.', 1)[1]} =" not in inspect.getsource(cls.__init__):
            wrong.append(f"{cls.__name__} has no attribute {name.rsplit('.', 1)[1]}")
        return wrong
    if kind == "property":
        real = annotation(inspect.signature(value.fget).return_annotation)
        if rest:
            wrong.append(f"{name} is a property: no parentheses")
        if not said or said[0] != real:
            wrong.append(f"returns {real}")
        return wrong
    if kind == "class":
        real_signature, real = inspect.signature(value), value.__name__
        params = real_parameters(real_signature, method=False)
    else:
        function = value.__func__ if isinstance(value, staticmethod | classmethod) else value
        real_signature = inspect.signature(function)
        params = real_parameters(real_signature, method=cls is not None)
        real = annotation(real_signature.return_annotation)
        if awaited != inspect.iscoroutinefunction(function):
            wrong.append("is a coroutine: write await" if not awaited else "is not a coroutine")
    if not rest.endswith(")"):
        return [*wrong, f"call it with parentheses: {name}{real_signature}"]
    if documented_parameters(rest[:-1]) != params:
        wrong.append(f"the code's parameters: {real_signature}")
    if not said or said[0] != real:
        wrong.append(f"returns {real}")
    return wrong


@pytest.mark.parametrize(("signature", "returns"), rows(), ids=[s for s, _ in rows()])
def test_each_row_says_what_the_code_does(signature: str, returns: str) -> None:
    wrong = disagreements(signature, returns)
    assert not wrong, f"README's row `{signature}`: " + "; ".join(wrong)


def public_names() -> set[str]:
    """How a check author reaches each public name: `server.connect`, `Chat`, …"""
    names = {n for n in grader.__all__ if n not in {c.__name__ for c in RECEIVERS.values()}}
    names |= {"Chat"}  # a class the check file builds, beside its methods
    for receiver, cls in RECEIVERS.items():
        for klass in cls.__mro__:
            if not klass.__module__.startswith(("grader", "checks._chat")):
                continue
            for attribute in vars(klass):
                if attribute == "__call__":
                    names.add(receiver)
                elif not attribute.startswith("_") and (
                    callable(vars(klass)[attribute]) or isinstance(vars(klass)[attribute], property)
                ):
                    names.add(f"{receiver}.{attribute}")
    return names


def test_every_public_name_a_check_can_reach_has_a_row() -> None:
    documented = {s.removeprefix("await ").removeprefix("@").split("(")[0] for s, _ in rows()}
    assert sorted(public_names() - documented) == [], "add a row to README's API table"
    assert len(rows()) == len(documented), "a name has two rows"
