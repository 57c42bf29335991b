"""Grades are never lost or mixed: kept per student and per exercise, graded again when
anything they depend on changes, and exported again without grading."""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
import unicodedata
from pathlib import Path

import pytest

from grader import exports, gradebook, runner, uploads
from grader.gradebook import Gradebook
from grader.manifest import Kit
from grader.results import CheckResult, ExerciseResult, Outcome
from tests.conftest import ROOT
from tests.conftest import run_grader as grader


def result(exercise: str, passed: int, total: int) -> ExerciseResult:
    checks = tuple(
        CheckResult(
            name=f"c{n}",
            description=f"check {n}",
            outcome=Outcome.PASSED if n < passed else Outcome.FAILED,
        )
        for n in range(total)
    )
    return ExerciseResult(exercise=exercise, title=exercise, checks=checks)


def rows(out: Path) -> dict[str, dict[str, str]]:
    return {r["student"]: r for r in csv.DictReader((out / "gradebook.csv").open())}


def test_saving_some_exercises_keeps_the_others(tmp_path: Path) -> None:
    book = Gradebook(tmp_path)
    book.save("ada", [result("broadcast", 3, 3), result("direct", 2, 4)], "p1")
    book.save("ada", [result("broadcast", 1, 3)], {"broadcast": "p2"})
    kept = book.stored("ada")
    assert set(kept) == {"broadcast", "direct"}
    assert kept["broadcast"].result.score == 1 and kept["direct"].result.score == 2
    assert book.fingerprint("ada", "broadcast") == "p2"
    assert book.fingerprint("ada", "direct") == "p1"


def test_every_row_has_the_same_most_and_roster_only_students_get_it(tmp_path: Path) -> None:
    book = Gradebook(tmp_path)
    book.save("ada", [result("broadcast", 3, 3), result("direct", 4, 4)], "p")
    book.save("bob", [result("broadcast", 1, 3)], "p")  # graded for one exercise only
    roster = {"ada": {}, "frank": {}}
    book.write_summary(["broadcast", "direct"], "course", roster)
    table = rows(tmp_path)
    assert {r["max"] for r in table.values()} == {"7"}
    assert table["bob"]["direct status"] == "no submission" and table["bob"]["total"] == "1"
    assert table["frank"]["max"] == "7" and table["frank"]["reason"] == "no submission"


def test_an_export_format_is_one_entry_and_every_student_and_the_class_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def scores(student: str, results: list[ExerciseResult], hidden: str) -> str:
        return f"{student} {sum(r.score for r in results):g}"

    monkeypatch.setitem(gradebook.STUDENT_FILES, "score.txt", scores)
    monkeypatch.setitem(gradebook.CLASS_FILES, "count.txt", lambda c: str(len(c.grades)))
    book = Gradebook(tmp_path)
    book.save("ada", [result("broadcast", 3, 3)], "p")
    book.write_summary(["broadcast"], "course")
    assert (book.folder("ada") / "score.txt").read_text() == "ada 3"
    assert (tmp_path / "count.txt").read_text() == "1"
    assert "score.txt" in gradebook.written() and "count.txt" in gradebook.written()


def test_a_result_graded_under_another_scheme_is_marked_stale(tmp_path: Path) -> None:
    book = Gradebook(tmp_path)
    book.save("ada", [result("broadcast", 3, 3)], "p", schemes={"broadcast": "old"})
    book.write_summary(["broadcast"], "course", schemes={"broadcast": "new"})
    assert "stale" in rows(tmp_path)["ada"]["broadcast status"]
    assert book.stale({"broadcast": "new"}) == {"ada": ["broadcast"]}


def test_a_grade_kept_by_an_older_kit_is_read_and_graded_again(tmp_path: Path) -> None:
    folder = tmp_path / "students" / "ada"
    folder.mkdir(parents=True)
    old = {"student": "ada", "fingerprint": "x", "results": [result("rooms", 1, 2).to_dict()]}
    (folder / gradebook.GRADE).write_text(json.dumps(old))
    book = Gradebook(tmp_path)
    assert book.stored("ada")["rooms"].result.score == 1
    assert book.fingerprint("ada", "rooms") == ""  # nothing matches it: graded again


def test_the_scheme_covers_points_timeout_and_the_checks_but_not_the_hints(kit: Kit) -> None:
    broadcast = kit.get("broadcast")
    before = gradebook.scheme(kit, broadcast)
    for change in (
        {"points": (("greets_newcomer", 3.0),)},
        {"weight": 2.0},
        {"timeout": 99.0},
        {"env": (("X", "1"),)},
    ):
        assert gradebook.scheme(kit, dataclasses.replace(broadcast, **change)) != before, change
    assert gradebook.scheme(kit, dataclasses.replace(broadcast, hints=("another",))) == before
    # The course's own part of the checks counts too.
    assert kit.root / "checks" / "_chat" / "conversation.py" in kit.extension_sources()


def test_a_roster_in_nfc_matches_a_folder_in_nfd(tmp_path: Path) -> None:
    nfd = unicodedata.normalize("NFD", "José")
    roster = tmp_path / "roster.csv"
    roster.write_text("student,id\nJosé,7\n", encoding="utf-8")
    assert uploads.nfc(nfd) in gradebook.read_roster(roster)


def test_entries_with_nothing_to_run_cost_one_checks_process_per_exercise(
    kit: Kit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exercise = kit.get("broadcast")
    first = runner.grade(kit, exercise, tmp_path / "ada" / "broadcast.py", isolated=False)

    def no_process(*args: object) -> None:
        raise AssertionError("a checks process ran for an entry with nothing to run")

    monkeypatch.setattr(runner, "_run_checks", no_process)
    again = runner.grade(kit, exercise, tmp_path / "bob" / "broadcast.py", isolated=False)
    assert [c.name for c in again.checks] == [c.name for c in first.checks]
    assert again.status == "missing" and "bob" in (again.error or "")
    assert all("bob" in c.rationale for c in again.checks)


def test_a_partial_regrade_loses_no_grade_and_export_rebuilds_without_grading(
    tmp_path: Path,
) -> None:
    subs, out = tmp_path / "subs", tmp_path / "grades"
    for name in ("ada", "bob"):
        (subs / name).mkdir(parents=True)
        shutil.copy(ROOT / "solutions" / "broadcast.py", subs / name)
        shutil.copy(ROOT / "starter" / "direct.py", subs / name)
    done = grader("grade", "--submissions", str(subs), "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr  # completed, whatever the scores
    before = rows(out)
    assert before["ada"]["broadcast status"] == "passed"
    assert before["ada"]["direct status"] == "unchanged starter"
    # ada finishes direct; only her direct is graded again, and nothing else changes.
    shutil.copy(ROOT / "solutions" / "direct.py", subs / "ada")
    done = grader(
        "grade", "--submissions", str(subs), "--out", str(out), "-e", "direct", "--only", "ada"
    )
    assert "Graded 1 of 1" in done.stdout, done.stdout
    after = rows(out)
    assert after["ada"]["direct status"] == "passed"
    assert after["ada"]["broadcast"] == before["ada"]["broadcast"]
    assert after["bob"] == before["bob"]
    assert list(after["ada"]) == list(before["ada"])  # every exercise's columns are kept
    # Exports again with hidden checks shown: nothing graded, the results say visible.
    (out / "students" / "ada" / "results.json").unlink()
    done = grader("export", "--out", str(out), "--hidden-visibility", "visible")
    assert done.returncode == 0, done.stdout + done.stderr
    tests = json.loads((out / "students" / "ada" / "results.json").read_text())["tests"]
    assert {t["visibility"] for t in tests} == {"visible"}
    assert rows(out) == after
    assert exports.spreadsheet_safe("ada") in rows(out)
