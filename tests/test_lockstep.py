"""Starters are solutions with bodies replaced by TODO stubs, and nothing else."""

from __future__ import annotations

import ast

import pytest

from grader.manifest import Kit
from tests.conftest import ROOT


def exercises() -> list:
    return list(Kit.load(ROOT).exercises)


def is_stub(body: list[ast.stmt]) -> bool:
    """A docstring, then `raise NotImplementedError("TODO: …")`."""
    statements = body[1:] if ast.get_docstring(ast.Module(body=body, type_ignores=[])) else body
    return (
        len(statements) == 1
        and isinstance(statements[0], ast.Raise)
        and "NotImplementedError" in ast.unparse(statements[0])
        and "TODO" in ast.unparse(statements[0])
    )


def shape(tree: ast.AST) -> dict[str, tuple]:
    """Every function and class by qualified name, with what must stay the same."""
    found: dict[str, tuple] = {}

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                found[prefix + child.name] = ("class", ast.get_docstring(child))
                walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                found[prefix + child.name] = (
                    type(child).__name__,
                    ast.unparse(child.args),
                    ast.unparse(child.returns) if child.returns else None,
                    [ast.unparse(d) for d in child.decorator_list],
                    ast.get_docstring(child),
                )

    walk(tree, "")
    return found


@pytest.mark.parametrize("exercise", exercises(), ids=lambda e: e.id)
def test_starter_has_the_solutions_names_signatures_and_docstrings(kit: Kit, exercise) -> None:
    starter = ast.parse(kit.starter(exercise).read_text())
    solution = ast.parse(kit.solution(exercise).read_text())
    assert shape(starter) == shape(solution)


@pytest.mark.parametrize("exercise", exercises(), ids=lambda e: e.id)
def test_starter_differs_only_by_todo_stubs(kit: Kit, exercise) -> None:
    starter = dict(_functions(ast.parse(kit.starter(exercise).read_text())))
    solution = dict(_functions(ast.parse(kit.solution(exercise).read_text())))
    stubs = 0
    for name, node in starter.items():
        if is_stub(node.body):
            stubs += 1
        else:
            assert ast.dump(node) == ast.dump(solution[name]), f"{name} differs from the solution"
    assert stubs, "a starter must leave something for the student to write"
    assert "TODO" in kit.starter(exercise).read_text()


def _functions(tree: ast.AST, prefix: str = ""):
    """(qualified name, node) for every function, methods included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield prefix + node.name, node


@pytest.mark.parametrize("exercise", exercises(), ids=lambda e: e.id)
def test_starter_and_solution_import_the_same_modules(kit: Kit, exercise) -> None:
    def imports(path):
        tree = ast.parse(path.read_text())
        return sorted(
            ast.unparse(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)
        )

    assert imports(kit.starter(exercise)) == imports(kit.solution(exercise))


def test_solutions_mirror_starter_file_for_file() -> None:
    def files(folder: str) -> set[str]:
        return {str(p.relative_to(ROOT / folder)) for p in (ROOT / folder).rglob("*.py")}

    assert files("starter") == files("solutions")
