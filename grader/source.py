"""What the grader reads in its own copy of the student's file.

The diagnosis asks it where a frame's text was made, which function a line belongs to,
and where a name that held a coroutine got it; checks ask it for what no behaviour
shows (a task whose reference is dropped, a secret compared with `==`). Everything
here reads the grader's copy (quoting.source_lines), never what the student's process
says, and a file that does not parse simply has no answers.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from grader.checks import Failure

MIN_FIXED = 3  # characters of fixed text a template needs to be told from any other
MAX_FRAME = 300  # characters of a frame matched against templates (each hole backtracks)
NEAR = 0.6  # how alike a template and the contract's text are, for one to be a typo of the other


@dataclass(frozen=True)
class Finding:
    """A place in the student's file, and what is at it."""

    line: int
    code: str
    name: str = ""
    """What the finding is about: a function's name, a variable's."""


@lru_cache(maxsize=8)
def _parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def tree(source: Sequence[str]) -> ast.Module | None:
    return _parse("\n".join(source))


def _quote(source: Sequence[str], line: int) -> str:
    return source[line - 1].strip() if 0 < line <= len(source) else ""


# Where a frame's text was made ---------------------------------------------------------


def templates(source: Sequence[str]) -> list[tuple[Finding, tuple[str | None, ...]]]:
    """Every string the file builds with fixed text around values (an f-string, a
    `"…" + x + "…"` or a literal with `{}`/`%s` placeholders): its fixed parts, with
    None for each value."""
    module = tree(source)
    if module is None:
        return []
    found = []
    for node in ast.walk(module):
        parts = _parts(node)
        if parts is None or sum(len(p) for p in parts if p is not None) < MIN_FIXED:
            continue
        if all(p is not None for p in parts) and not _placeholder(node):
            continue  # fixed text alone: a constant, not a template
        line = getattr(node, "lineno", 0)
        found.append((Finding(line, _quote(source, line)), _shape(parts)))
    return found


def _shape(parts: Sequence[str | None]) -> tuple[str | None, ...]:
    """Fixed parts joined, values run together, empty texts gone: one spelling each."""
    out: list[str | None] = []
    for part in parts:
        if part == "":
            continue
        if out and part is not None and out[-1] is not None:
            out[-1] = (out[-1] or "") + part
        elif not (out and part is None and out[-1] is None):
            out.append(part)
    return tuple(out)


def _pattern(shape: Sequence[str | None]) -> re.Pattern[str]:
    return re.compile("".join(".*" if p is None else re.escape(p) for p in shape), re.DOTALL)


def shown(shape: Sequence[str | None]) -> str:
    """A template as a student reads it: "Hello, …!"."""
    return "".join("…" if p is None else p for p in shape)


def contract_shape(wanted: str, values: Iterable[str]) -> tuple[str | None, ...]:
    """The expected text with the values the clients chose (ids, texts) as holes: the
    fixed text the contract asks for."""
    parts: list[str | None] = [wanted]
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        split: list[str | None] = []
        for part in parts:
            if part is None:
                split.append(None)
                continue
            for i, piece in enumerate(part.split(value)):
                if i:
                    split.append(None)
                split.append(piece)
        parts = split
    return _shape(parts)


_PLACEHOLDER = re.compile(r"\{[^{}]*\}|%[sdrf]")


def _placeholder(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and bool(_PLACEHOLDER.search(node.value))
    )


def _parts(node: ast.AST) -> list[str | None] | None:
    """The fixed texts of a string-building expression, None for each value."""
    if isinstance(node, ast.JoinedStr):
        return [
            v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else None
            for v in node.values
        ]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        pieces: list[str | None] = []
        for i, text in enumerate(_PLACEHOLDER.split(node.value)):
            if i:
                pieces.append(None)
            pieces.append(text)
        return pieces
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _parts(node.left), _parts(node.right)
        if left is None and right is None:
            return None
        return (left or [None]) + (right or [None])
    return None


def made_by(
    source: Sequence[str], got: str, wanted: str, values: Iterable[str]
) -> tuple[Finding, tuple[str | None, ...], tuple[str | None, ...]] | None:
    """The template in the file that made `got`, a near miss of `wanted` whose fixed
    text is wrong: the line to fix, its shape and the contract's (`wanted` with
    `values`, what the clients chose, as holes). None unless exactly one line fits, or
    if some template of the file could make `wanted` from those values (then the
    fixed text is right, and the cause is elsewhere: order, values, a missing call)."""
    values = [v for v in values if v]
    found = templates(source)
    if len(wanted) > MAX_FRAME or any(can_make(shape, wanted, values) for _, shape in found):
        return None
    contract = contract_shape(wanted, values)
    fits = {
        finding.line: (finding, shape, contract)
        for finding, shape in found
        if _pattern(shape).fullmatch(got)
        and difflib.SequenceMatcher(None, shown(shape), shown(contract)).ratio() >= NEAR
    }
    # Nested parts of one expression share a line; two lines is a guess.
    return next(iter(fits.values())) if len(fits) == 1 else None


def can_make(shape: Sequence[str | None], text: str, values: Sequence[str]) -> bool:
    """Whether `shape` makes `text` with each value a part of what the clients chose."""
    parts = tuple(shape)

    @cache
    def fits(part: int, at: int) -> bool:  # parts[part:] make text[at:]
        if part == len(parts):
            return at == len(text)
        fixed = parts[part]
        if fixed is not None:
            return text.startswith(fixed, at) and fits(part + 1, at + len(fixed))
        return any(
            fits(part + 1, end) and any(text[at:end] in value for value in values)
            for end in range(len(text), at - 1, -1)
        )

    return fits(0, 0)


# Functions and names ---------------------------------------------------------------------


def function_at(source: Sequence[str], line: int) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The innermost function whose body holds `line`."""
    module = tree(source)
    if module is None:
        return None
    best = None
    for node in ast.walk(module):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            end = getattr(node, "end_lineno", None) or node.lineno
            if node.lineno <= line <= end and (best is None or node.lineno >= best.lineno):
                best = node
    return best


def assigned_from_call(source: Sequence[str], line: int) -> Finding | None:
    """Of the names used on `line`, the one last assigned (before it, in the same
    function) the result of a call that was not awaited: where a coroutine object a
    later line tripped over was made."""
    function = function_at(source, line)
    if function is None:
        return None
    used = {
        n.id
        for n in ast.walk(function)
        if isinstance(n, ast.Name) and getattr(n, "lineno", 0) == line
    }
    best: Finding | None = None
    for node in ast.walk(function):
        if not isinstance(node, ast.Assign | ast.AnnAssign) or node.lineno >= line:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = [t.id for t in targets if isinstance(t, ast.Name) and t.id in used]
        if names and isinstance(node.value, ast.Call):
            if best is None or node.lineno > best.line:
                best = Finding(node.lineno, _quote(source, node.lineno), names[0])
    return best


def try_around(source: Sequence[str], line: int) -> tuple[Finding, list[str]] | None:
    """The innermost `try:` whose body holds `line`, and what its handlers catch, as
    written ("ValueError", "(OSError, KeyError)"; "" for a bare except)."""
    module = tree(source)
    if module is None:
        return None
    best = None
    for node in ast.walk(module):
        if isinstance(node, ast.Try | ast.TryStar) and node.body:
            first, last = node.body[0].lineno, getattr(node.body[-1], "end_lineno", 0) or 0
            if first <= line <= last and (best is None or node.lineno >= best.lineno):
                best = node
    if best is None:
        return None
    caught = [ast.unparse(h.type) if h.type is not None else "" for h in best.handlers]
    return Finding(best.lineno, _quote(source, best.lineno)), caught


# The lesson's rules that behaviour cannot show ------------------------------------------

_STARTERS = ("create_task", "ensure_future")


def dropped_tasks(source: Sequence[str]) -> list[Finding]:
    """Tasks started whose reference nothing keeps: `asyncio.create_task(…)` as a
    statement of its own, or assigned to a local name that is never used again.
    asyncio holds tasks weakly, so such a task can vanish mid-flight."""
    module = tree(source)
    if module is None:
        return []
    found = []
    for function in ast.walk(module):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in _own_statements(function):
            call = _started(node)
            if call is None:
                continue
            if isinstance(node, ast.Expr):
                found.append(Finding(node.lineno, _quote(source, node.lineno)))
            elif isinstance(node, ast.Assign) and all(
                isinstance(t, ast.Name) and not _used_after(function, t.id, node)
                for t in node.targets
            ):
                found.append(Finding(node.lineno, _quote(source, node.lineno)))
    return found


def _own_statements(function: ast.AST) -> Iterator[ast.stmt]:
    """The statements of a function, not those of the functions inside it."""
    for node in ast.iter_child_nodes(function):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        if isinstance(node, ast.stmt):
            yield node
        yield from _own_statements(node)


def _started(node: ast.stmt) -> ast.Call | None:
    value = node.value if isinstance(node, ast.Expr | ast.Assign) else None
    if isinstance(value, ast.Call):
        func = value.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in _STARTERS:
            return value
    return None


def _used_after(function: ast.AST, name: str, assignment: ast.stmt) -> bool:
    return any(
        isinstance(n, ast.Name)
        and n.id == name
        and isinstance(n.ctx, ast.Load)
        and (n.lineno, n.col_offset) > (assignment.lineno, assignment.col_offset)
        for n in ast.walk(function)
    )


_STORES = ("append", "add", "insert", "appendleft", "setdefault")


def stored_before_accept(source: Sequence[str]) -> list[Finding]:
    """A connection stored (`.append(websocket)`, `d[id] = websocket`…) before the same
    function has awaited `websocket.accept()`: until then a send to every stored
    connection that finds it there sends on one that cannot carry messages yet."""
    module = tree(source)
    if module is None:
        return []
    found = []
    for function in ast.walk(module):
        if not isinstance(function, ast.AsyncFunctionDef):
            continue
        accepts = {
            (node.lineno, node.value.func.value.id)
            for node in ast.walk(function)
            if isinstance(node, ast.Await)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute)
            and node.value.func.attr == "accept"
            and isinstance(node.value.func.value, ast.Name)
        }
        for line, name in accepts:
            for node in _own_statements(function):
                if node.lineno < line and _stores(node, name):
                    found.append(Finding(node.lineno, _quote(source, node.lineno), name))
    return found


def _stores(node: ast.stmt, name: str) -> bool:
    """Whether the statement puts `name` into a collection."""
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
        return node.value.id == name and any(isinstance(t, ast.Subscript) for t in node.targets)
    call = node.value if isinstance(node, ast.Expr) else None
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr in _STORES
        and any(isinstance(arg, ast.Name) and arg.id == name for arg in call.args)
    )


def compared_with_equals(source: Sequence[str], secrets: Sequence[str]) -> list[Finding]:
    """`==` or `!=` between two values, one of which comes from one of the module-level
    `secrets` (say KEYS): directly (`KEYS.get(id) == given`) or through a name
    assigned from it in the same function. A comparison with None or a constant is no
    secret's comparison."""
    module = tree(source)
    if module is None:
        return []
    found = []
    for function in ast.walk(module):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        tainted = _names_from(function, set(secrets))
        for node in ast.walk(function):
            if not isinstance(node, ast.Compare):
                continue
            operands = [node.left, *node.comparators]
            for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
                if not isinstance(op, ast.Eq | ast.NotEq):
                    continue
                if any(_constant(side) or _length(side) for side in (left, right)):
                    continue  # against None, a constant or a length: nothing secret
                if _mentions(left, tainted) or _mentions(right, tainted):
                    found.append(Finding(node.lineno, _quote(source, node.lineno)))
    return found


def _names_from(function: ast.AST, secrets: set[str]) -> set[str]:
    """`secrets`, and the names assigned from them (to a fixed point)."""
    names = set(secrets)
    for _ in range(5):
        before = len(names)
        for node in ast.walk(function):
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.NamedExpr) and node.value:
                if _mentions(node.value, names):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    names |= {t.id for t in targets if isinstance(t, ast.Name)}
        if len(names) == before:
            break
    return names


def _mentions(node: ast.AST, names: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def _constant(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant)


def _length(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and getattr(node.func, "id", "") == "len"


class Submission:
    """The student's file, as a check reads it (the `submission` fixture): the rules of
    the lesson that no behaviour shows, each failing with the student's line."""

    def __init__(self, lines: Sequence[str], file_name: str) -> None:
        self.lines = tuple(lines)
        self.file_name = file_name

    def expect_tasks_kept(self, *, help: str | None = None) -> None:
        """Every task started with create_task/ensure_future is kept somewhere."""
        self._expect_none(
            dropped_tasks(self.lines),
            "starts a task and keeps no reference to it",
            help
            or "asyncio keeps only a weak reference to a task, so one that nothing holds can "
            "be garbage-collected before it ends, and its work silently never happens. Keep "
            "it: `self.tasks.add(task)` with `task.add_done_callback(self.tasks.discard)`, "
            "or an attribute for a task that lives as long as the app. If nothing needs the "
            "work to run apart from the caller (a publish whose order matters, say), "
            "`await` it instead of starting a task.",
        )

    def expect_no_equality_on(self, *secrets: str, help: str | None = None) -> None:
        """No value that comes from one of `secrets` is compared with == or !=."""
        self._expect_none(
            compared_with_equals(self.lines, secrets),
            f"compares a secret from {', '.join(secrets)} with == or !=",
            help
            or "== stops at the first character that differs, so how long a refusal takes "
            "tells an attacker how much of a guess was right. Compare with "
            "`secrets.compare_digest(given.encode(), expected.encode())`.",
        )

    def expect_accepted_before_stored(self, *, help: str | None = None) -> None:
        """No connection is stored before its accept() has been awaited."""
        self._expect_none(
            stored_before_accept(self.lines),
            "stores a connection before accepting it",
            help
            or "Until `await websocket.accept()` has finished, the connection cannot carry "
            "messages, and a send to every stored connection that finds it there meanwhile "
            "fails. Accept first, then store it.",
        )

    def _expect_none(self, found: Sequence[Finding], what: str, help: str) -> None:
        if found:
            places = "; ".join(f"line {f.line} (`{f.code}`)" for f in found[:3])
            more = f" and {len(found) - 3} more places" if len(found) > 3 else ""
            raise Failure(f"{self.file_name} {what}: {places}{more}", help=help)
