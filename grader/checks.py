"""What a check file imports: the `@check` decorator and the ways a check fails.

    Failure          the behaviour is wrong; `rationale` says how, `help` how to fix it
    ├── Mismatch     something arrived, but not what was expected
    │   └── Missing  nothing arrived where something was expected
    ├── Closed       the server closed the connection a client was using (`code`)
    └── ServerErrors the server logged an unhandled exception

A check is an async function whose docstring is the sentence the student reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from grader.results import Check

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class CheckSpec:
    """How the grader treats one check: what it is, and how to run it."""

    check: Check
    """Its name, sentence, points and visibility: what every result of it says."""
    depends: tuple[str, ...] = ()
    timeout: float = 20.0
    settings: dict[str, Any] = field(default_factory=dict)
    """Module-level names to override in the student's module, e.g. small limits."""


def check(
    *,
    depends: Callable[..., Any] | tuple[Callable[..., Any], ...] = (),
    points: float = 1.0,
    hidden: bool = False,
    timeout: float = 20.0,
    settings: dict[str, Any] | None = None,
) -> Callable[[F], F]:
    """Mark an async function as a check.

    `depends` names checks that must pass first; `settings` overrides module-level
    names of the student's module (say `MAX_CONNECTIONS=2`) on this check's server.
    """
    parents = depends if isinstance(depends, tuple) else (depends,)
    for parent in parents:
        # A dependency that is not a check would never pass: its dependents would be
        # skipped for good, whatever the student does.
        if not hasattr(parent, "__grader_check__"):
            name = getattr(parent, "__name__", repr(parent))
            raise TypeError(f"depends= names {name}, which is not a @check")

    def mark(fn: F) -> F:
        doc = " ".join((fn.__doc__ or fn.__name__).split())
        fn.__grader_check__ = CheckSpec(  # type: ignore[attr-defined]
            Check(fn.__name__, doc, points=points, hidden=hidden),
            depends=tuple(p.__name__ for p in parents),
            timeout=timeout,
            settings=dict(settings or {}),
        )
        return fn

    return mark


class Failure(Exception):
    """The student's server did not behave as the check requires."""

    def __init__(self, rationale: str, *, help: str | None = None) -> None:
        super().__init__(rationale)
        self.rationale = rationale
        self.help = help
        self.expected: str | None = None
        self.actual: str | None = None
        self.frames: tuple[str, str | bytes] | None = None
        """The frame expected and the one that arrived, as they are (for the diagnosis)."""
        self.path: str | None = None
        """The path of the connection that failed, if one did (for the diagnosis)."""


class Closed(Failure):
    """A client tried to use its connection, but the server had closed it: with `code`,
    or None when it dropped the connection without a close frame."""

    def __init__(self, rationale: str, code: int | None, *, help: str | None = None) -> None:
        super().__init__(rationale, help=help)
        self.code = code


class ServerErrors(Failure):
    """The server logged an unhandled exception: a failure about the error itself."""

    def __init__(self, rationale: str, *, help: str | None = None) -> None:
        # Where the witness saw the exception, the diagnosis says more than this.
        super().__init__(rationale, help=help)
        self.fallback = "What the server said shows the line of your file where it failed."


class Mismatch(Failure):
    """`expected` should have arrived, `actual` did."""

    def __init__(
        self, rationale: str, expected: str, actual: str, *, help: str | None = None
    ) -> None:
        super().__init__(rationale, help=help)
        self.expected = expected
        self.actual = actual


class Missing(Mismatch):
    """`expected` should have arrived, and nothing did (`actual` says for how long)."""
