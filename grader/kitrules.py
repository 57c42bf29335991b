"""What a kit's files must meet before grading them means anything: the rules `verify`
runs first. Each rule is a function of the kit and one exercise that reads files only
(it grades nothing) and returns the problems it found, each a sentence naming the file
and line to fix.

The corpus rules apply to a kit that has `tests/corpus/`: one folder per exercise id,
with `wrong/` (mistakes) and `right/` (alternative correct solutions), each file
labelled in its docstring (see grader.corpus). A kit without that folder opts out of
them; its other rules still apply. The edition rules apply where `edition/Makefile`
and `edition/README.md` exist (the student edition `dist` builds).
"""

from __future__ import annotations

import ast
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markdown import Markdown

from grader import report, runwide
from grader.corpus import Label, LabelError, read_label
from grader.manifest import MANIFEST, Exercise, Kit

LESSON_WIDTH = 100
"""A lesson's lines: a reader's terminal, or an editor beside the code."""
TERMINAL = 80
"""The narrowest terminal a student reads a lesson's code or a hint in."""
CODE_WIDTH = TERMINAL - 4
"""A lesson's code block is drawn with a margin: 76 characters fit 80 columns."""
MIN_WRONG, MIN_RIGHT = 10, 3
"""A corpus's least size per exercise: mistakes, and correct alternatives."""
CORPUS = Path("tests") / "corpus"
EDITION_MAKEFILE = Path("edition") / "Makefile"
EDITION_README = Path("edition") / "README.md"


@dataclass(frozen=True)
class Problem:
    """One broken rule: where to fix it (relative to the kit) and what is wrong."""

    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.message}"


Rule = Callable[[Kit, Exercise], list[Problem]]


def _manifest_line(kit: Kit, text: str) -> int | None:
    """The manifest's first line that holds `text` (a hint's line, a check's name)."""
    lines = (kit.root / MANIFEST).read_text(encoding="utf-8").splitlines()
    return next((n for n, line in enumerate(lines, 1) if text.strip() in line), None)


def _problem(kit: Kit, path: Path, line: int | None, message: str) -> Problem:
    return Problem(path.relative_to(kit.root) if path.is_absolute() else path, line, message)


def files_exist(kit: Kit, exercise: Exercise) -> list[Problem]:
    """The starter, the solution, the lesson and the visible checks are all there."""
    wanted = {
        "starter": kit.starter(exercise),
        "solution": kit.solution(exercise),
        "lesson": kit.lesson(exercise),
        "checks": kit.root / "checks" / exercise.checks,
    }
    return [
        _problem(kit, path, None, f"{exercise.id}'s {role} is missing: write it")
        for role, path in wanted.items()
        if not path.is_file()
    ]


def _functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, ast.AST]]:
    """(qualified name, node) for every class and function, methods included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.ClassDef):
            yield prefix + node.name, node
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield prefix + node.name, node


def _shape(node: ast.AST) -> tuple[object, ...]:
    """What a starter keeps of the solution's definition: all but a function's body."""
    if isinstance(node, ast.ClassDef):
        return ("class", ast.get_docstring(node))
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    return (
        type(node).__name__,
        ast.unparse(node.args),
        ast.unparse(node.returns) if node.returns else None,
        [ast.unparse(d) for d in node.decorator_list],
        ast.get_docstring(node),
    )


def is_stub(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A docstring, then `raise NotImplementedError("TODO: …")`."""
    body = node.body[1:] if ast.get_docstring(node) else node.body
    return (
        len(body) == 1
        and isinstance(body[0], ast.Raise)
        and "NotImplementedError" in ast.unparse(body[0])
        and "TODO" in ast.unparse(body[0])
    )


def _differs(ours: ast.AST, theirs: ast.AST) -> bool:
    return ast.dump(ours) != ast.dump(theirs)  # line numbers aside


def _parsed(kit: Kit, path: Path) -> tuple[ast.Module | None, list[Problem]]:
    if not path.is_file():
        return None, []  # files_exist says so
    try:
        return ast.parse(path.read_text(encoding="utf-8")), []
    except SyntaxError as exc:
        return None, [_problem(kit, path, exc.lineno, f"is not valid Python: {exc.msg}")]


def starter_mirrors_solution(kit: Kit, exercise: Exercise) -> list[Problem]:
    """The starter is the solution with function bodies replaced by TODO stubs: the
    same classes and functions, signatures, decorators, docstrings and imports."""
    starter_path, solution_path = kit.starter(exercise), kit.solution(exercise)
    starter, problems = _parsed(kit, starter_path)
    solution, more = _parsed(kit, solution_path)
    if starter is None or solution is None:
        return problems + more
    theirs = dict(_functions(solution))
    ours = dict(_functions(starter))
    solution_name = solution_path.relative_to(kit.root)

    def at(node: ast.AST, message: str) -> Problem:
        return _problem(kit, starter_path, getattr(node, "lineno", None), message)

    stubs = 0
    for name, node in ours.items():
        stub = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and is_stub(node)
        stubs += stub
        if name not in theirs:
            problems.append(at(node, f"{name} is not in {solution_name}: remove it"))
        elif _shape(node) != _shape(theirs[name]):
            problems.append(
                at(node, f"{name}'s signature, decorators or docstring differ from {solution_name}")
            )
        elif not stub and not isinstance(node, ast.ClassDef) and _differs(node, theirs[name]):
            problems.append(
                at(
                    node,
                    f"{name} differs from {solution_name} but is not a TODO stub "
                    '(a docstring, then raise NotImplementedError("TODO: …"))',
                )
            )
    for name in theirs.keys() - ours.keys():
        problems.append(at(starter, f"{name} (in {solution_name}) is missing: stub it"))
    if not stubs:
        problems.append(
            at(
                starter,
                'leaves nothing to write: replace a body with raise NotImplementedError("TODO: …")',
            )
        )
    imports = [
        sorted(ast.unparse(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom))
        for tree in (starter, solution)
    ]
    if imports[0] != imports[1]:
        problems.append(at(starter, f"imports differ from {solution_name}'s: import the same"))
    return problems


@dataclass(frozen=True)
class CheckDef:
    """A @check function as its file defines it."""

    name: str
    path: Path
    line: int
    docstring: str | None


def _is_check(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return (isinstance(target, ast.Name) and target.id == "check") or (
        isinstance(target, ast.Attribute) and target.attr == "check"
    )


def checks_of(kit: Kit, exercise: Exercise) -> list[CheckDef]:
    """The checks an exercise's files define (visible, then hidden), read, not run."""
    found = []
    for path in kit.check_files(exercise):
        tree, _ = _parsed(kit, path)
        for node in tree.body if tree else []:
            if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef) and any(
                _is_check(d) for d in node.decorator_list
            ):
                found.append(CheckDef(node.name, path, node.lineno, ast.get_docstring(node)))
    return found


def check_names(kit: Kit, exercise: Exercise) -> list[str]:
    """Every check an exercise is graded on: its files', then the run-wide ones (the
    engine's own, and those of the kit's extensions)."""
    kit.load_extensions()
    run_wide = [entry.check.name for entry in runwide.registered(kit.extensions)]
    return [c.name for c in checks_of(kit, exercise)] + run_wide


def checks_are_described(kit: Kit, exercise: Exercise) -> list[Problem]:
    """Every check has a docstring (the sentence students read) and a name of its own."""
    problems, seen = [], set()
    for c in checks_of(kit, exercise):
        if not (c.docstring or "").strip():
            problems.append(
                _problem(
                    kit,
                    c.path,
                    c.line,
                    f"check {c.name} has no docstring: "
                    "write the sentence students read when it fails",
                )
            )
        if c.name in seen:
            problems.append(
                _problem(
                    kit,
                    c.path,
                    c.line,
                    f"check {c.name} is defined twice for {exercise.id}: rename one",
                )
            )
        seen.add(c.name)
    return problems


def points_name_checks(kit: Kit, exercise: Exercise) -> list[Problem]:
    """A `points` table in the manifest names only checks the exercise has."""
    known = set(check_names(kit, exercise))
    return [
        Problem(
            MANIFEST,
            _manifest_line(kit, name),
            f"{exercise.id}'s points name {name}, "
            f"which is not one of its checks ({', '.join(sorted(known))})",
        )
        for name, _ in exercise.points
        if name not in known
    ]


def _rendered(markdown: str, width: int) -> str:
    console = Console(file=io.StringIO(), width=width)
    console.print(Markdown(markdown, code_theme="monokai"))
    return console.file.getvalue()  # type: ignore[attr-defined, no-any-return]


def code_lines(markdown: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of every line inside a ``` fence."""
    inside = False
    for number, line in enumerate(markdown.splitlines(), 1):
        if line.startswith("```"):
            inside = not inside
        elif inside:
            yield number, line


def lesson_fits_a_terminal(kit: Kit, exercise: Exercise) -> list[Problem]:
    """A lesson renders, its lines are at most 100 characters (LESSON_WIDTH), and its
    code blocks' lines at most 76 (CODE_WIDTH): whole statements in 80 columns."""
    path = kit.lesson(exercise)
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8")
    problems = [
        _problem(kit, path, n, f"line is {len(line)} characters: keep it to {LESSON_WIDTH}")
        for n, line in enumerate(text.splitlines(), 1)
        if len(line) > LESSON_WIDTH
    ]
    if not _rendered(text, LESSON_WIDTH).strip():
        problems.append(_problem(kit, path, None, "renders as nothing: write the lesson"))
    shown = _rendered(text, TERMINAL)
    for n, line in code_lines(text):
        if len(line) > CODE_WIDTH:
            problems.append(
                _problem(
                    kit,
                    path,
                    n,
                    f"code line is {len(line)} characters: keep it to "
                    f"{CODE_WIDTH}, so it is not wrapped in an {TERMINAL}-column terminal",
                )
            )
        elif line.strip() and line.strip() not in shown:
            problems.append(_problem(kit, path, n, f"code line is wrapped at {TERMINAL} columns"))
    return problems


def hints_fit_a_terminal(kit: Kit, exercise: Exercise) -> list[Problem]:
    """`make hint` shows a hint's lines whole, never wrapped: each fits 80 columns."""
    problems = []
    for number, hint in enumerate(exercise.hints, 1):
        console = Console(file=io.StringIO(), width=TERMINAL)
        console.print(report.hint(exercise, number, hint))
        shown = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
        for line in hint.strip("\n").splitlines():
            if not any(line.rstrip() in row for row in shown):
                problems.append(
                    Problem(
                        MANIFEST,
                        _manifest_line(kit, line),
                        f"hint {number} of {exercise.id} is cut short in "
                        f"an {TERMINAL}-column terminal at {line.strip()[:40]!r}…: "
                        f"keep its lines to {CODE_WIDTH} characters",
                    )
                )
    return problems


# A command as a lesson writes it: `make check EX=<id>` in the text, or a code block's
# line (prose that starts with "make" is not one).
_MAKE_COMMAND = re.compile(r"`make ([a-z][a-z-]*)")
_MAKE_LINE = re.compile(r"^\s*make ([a-z][a-z-]*)")


def make_targets(markdown: str) -> set[str]:
    """The make targets a text tells its reader to run."""
    in_code = [m[1] for _, line in code_lines(markdown) if (m := _MAKE_LINE.match(line))]
    return set(_MAKE_COMMAND.findall(markdown) + in_code)


def edition_targets(kit: Kit) -> set[str]:
    """What a student can run: the targets edition/Makefile documents (`name: … ## …`)."""
    makefile = (kit.root / EDITION_MAKEFILE).read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][a-z-]*):.*## ", makefile, re.MULTILINE))


def commands_exist_in_the_edition(kit: Kit, exercise: Exercise) -> list[Problem]:
    """A lesson or hint that says `make x` promises a command the student edition's
    Makefile (edition/Makefile) has. Applies where the kit has edition/Makefile."""
    if not (kit.root / EDITION_MAKEFILE).is_file():
        return []
    targets = edition_targets(kit)
    problems = []
    path = kit.lesson(exercise)
    if path.is_file():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for name in sorted(set(_MAKE_COMMAND.findall(line)) - targets):
                problems.append(
                    _problem(
                        kit, path, n, f"names make {name}, which {EDITION_MAKEFILE} does not have"
                    )
                )
        for n, line in code_lines(path.read_text(encoding="utf-8")):
            if (m := _MAKE_LINE.match(line)) and m[1] not in targets:
                problems.append(
                    _problem(
                        kit, path, n, f"names make {m[1]}, which {EDITION_MAKEFILE} does not have"
                    )
                )
    for number, hint in enumerate(exercise.hints, 1):
        for name in sorted(make_targets(hint) - targets):
            problems.append(
                Problem(
                    MANIFEST,
                    _manifest_line(kit, f"make {name}"),
                    f"hint {number} of {exercise.id} names "
                    f"make {name}, which {EDITION_MAKEFILE} does not have",
                )
            )
    return problems


def handing_in_names_the_file(kit: Kit, exercise: Exercise) -> list[Problem]:
    """The student edition's README says which files to hand in, this one among them.
    Applies where the kit has edition/README.md."""
    readme = kit.root / EDITION_README
    if not readme.is_file():
        return []
    text = readme.read_text(encoding="utf-8")
    if "## Handing in" not in text:
        return [
            Problem(
                EDITION_README,
                None,
                "has no '## Handing in' section: say there which files students hand in",
            )
        ]
    section = text.split("## Handing in", 1)[1].split("\n## ", 1)[0]
    if f"`{exercise.file}`" in section:
        return []
    line = text[: text.index("## Handing in")].count("\n") + 1
    return [
        Problem(
            EDITION_README,
            line,
            f"'Handing in' does not name `{exercise.file}` ({exercise.id}): add it",
        )
    ]


def corpus_files(kit: Kit, exercise: Exercise, folder: str) -> list[Path]:
    """The files of tests/corpus/<exercise>/<folder>/ (folder: wrong or right)."""
    return sorted((kit.root / CORPUS / exercise.id / folder).glob("*.py"))


def _labels(kit: Kit, exercise: Exercise) -> tuple[dict[str, list[Label]], list[Problem]]:
    found: dict[str, list[Label]] = {"wrong": [], "right": []}
    problems = []
    for folder, labels in found.items():
        for path in corpus_files(kit, exercise, folder):
            try:
                labels.append(read_label(path))
            except LabelError as exc:
                problems.append(_problem(kit, exc.path, exc.line, exc.message))
    return found, problems


def corpus_is_labelled(kit: Kit, exercise: Exercise) -> list[Problem]:
    """Every corpus file has one readable label, a right/ one `pass`, a wrong/ one a
    mistake's, naming only the exercise's checks. Applies where tests/corpus/ exists."""
    if not (kit.root / CORPUS).is_dir():
        return []
    found, problems = _labels(kit, exercise)
    known = check_names(kit, exercise)
    for label in found["right"]:
        if label.kind != "pass":
            problems.append(
                _problem(
                    kit, label.path, label.line, "is in right/, so its label is 'expect: pass'"
                )
            )
    for label in found["wrong"]:
        if label.kind == "pass":
            problems.append(
                _problem(
                    kit,
                    label.path,
                    label.line,
                    "is in wrong/, so its label names the checks it fails",
                )
            )
        for name in label.checks:
            if name not in known:
                problems.append(
                    _problem(
                        kit,
                        label.path,
                        label.line,
                        f"names {name}, not a check of {exercise.id} ({', '.join(known)})",
                    )
                )
    return problems


def corpus_is_big_enough(kit: Kit, exercise: Exercise) -> list[Problem]:
    """An exercise's corpus has at least 10 mistakes and 3 correct alternatives
    (MIN_WRONG, MIN_RIGHT). Applies where tests/corpus/ exists."""
    if not (kit.root / CORPUS).is_dir():
        return []
    problems = []
    for folder, least in (("wrong", MIN_WRONG), ("right", MIN_RIGHT)):
        have = len(corpus_files(kit, exercise, folder))
        if have < least:
            problems.append(
                Problem(
                    CORPUS / exercise.id / folder,
                    None,
                    f"has {have} files: {exercise.id} needs at least {least}",
                )
            )
    return problems


def every_check_is_targeted(kit: Kit, exercise: Exercise) -> list[Problem]:
    """A check no mistake in the corpus fails is a check nobody proved can fail: each is
    named by at least one wrong/ label. Applies where tests/corpus/ exists."""
    if not (kit.root / CORPUS).is_dir():
        return []
    found, _ = _labels(kit, exercise)
    targeted = {name for label in found["wrong"] for name in label.checks}
    defined = {c.name: c for c in checks_of(kit, exercise)}
    problems = []
    for name in check_names(kit, exercise):
        if name not in targeted:
            where = defined.get(name)
            problems.append(
                _problem(
                    kit,
                    where.path if where else CORPUS / exercise.id / "wrong",
                    where.line if where else None,
                    f"no file in {CORPUS / exercise.id / 'wrong'} fails check {name}: "
                    "add a mistake labelled with it",
                )
            )
    return problems


def services_are_registered(kit: Kit, exercise: Exercise) -> list[Problem]:
    """The course's extensions import, and register every service the exercise names."""
    from grader import services  # imports the sandbox: only when asked

    try:
        kit.load_extensions()
    except Exception as exc:  # noqa: BLE001 - whatever it is, the kit's author must see it
        line = _manifest_line(kit, "extensions")
        return [_problem(kit, MANIFEST, line, f"an extension could not be imported: {exc!r}")]
    registered = {kind.name for kind in services.known()}
    return [
        _problem(
            kit,
            MANIFEST,
            _manifest_line(kit, "services"),
            f"{exercise.id} names the service {name!r}, which no extension registers "
            f"(registered: {', '.join(sorted(registered)) or 'none'})",
        )
        for name in exercise.services
        if name not in registered
    ]


RULES: tuple[Rule, ...] = (
    files_exist,
    services_are_registered,
    starter_mirrors_solution,
    checks_are_described,
    points_name_checks,
    lesson_fits_a_terminal,
    hints_fit_a_terminal,
    commands_exist_in_the_edition,
    handing_in_names_the_file,
    corpus_is_labelled,
    corpus_is_big_enough,
    every_check_is_targeted,
)
"""Every rule, in the order a new exercise meets them."""


def problems(kit: Kit, exercises: tuple[Exercise, ...] | None = None) -> list[Problem]:
    """Every rule broken by these exercises (default: all of them), in order, each problem
    once (a kit-wide file, such as the edition's README, may break a rule for each)."""
    found = [p for e in exercises or kit.exercises for rule in RULES for p in rule(kit, e)]
    return list(dict.fromkeys(found))
