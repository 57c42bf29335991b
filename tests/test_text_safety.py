"""Text from a submission never crashes the grader and never hides: a lone surrogate
(from a message or a file name that is not UTF-8) is shown and saved as its escape, and
what shows as nothing (tag characters, fillers, variation selectors) shows as its escape
in the terminal, gradebook.csv, report.html and feedback.html.

The attacks are in tests/corpus/attacks/ (raises_lone_surrogate.py, tags_its_error.py).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from grader import batch, gradebook, untrusted
from grader.results import ExerciseResult
from tests.conftest import ROOT, run_grader

ATTACKS = ROOT / "tests" / "corpus" / "attacks"
SURROGATE = ATTACKS / "raises_lone_surrogate.py"

# What shows as nothing, or is not a character at all.
HIDDEN = [
    "\U000e0041",  # tag characters
    "\U000e0001",
    "\U000e007f",
    "\U0001d173",  # musical symbol begin beam and its kin
    "\U0001d17a",
    "\u3164",  # Hangul fillers
    "\u115f",
    "\u1160",
    "\uffa0",
    "\u034f",  # combining grapheme joiner
    "\ufe00",  # variation selectors
    "\ufe0f",
    "\U000e0100",
    "\U000e01ef",
    "\u17b4",  # Khmer inherent vowels
    "\u17b5",
    "\u180b",  # Mongolian free variation selectors, vowel separator
    "\u180f",
    "\ud800",  # lone surrogates (Cs)
    "\udcff",
    "\ue000",  # private use (Co)
    "\U000f0000",
    "\U0010ffff",  # a noncharacter, unassigned (Cn)
    "\u0378",
    "\U000e0020",  # format (Cf)
    "\u2063",
]


def test_what_shows_as_nothing_is_escaped_in_text_and_names() -> None:
    for char in HIDDEN:
        code = ord(char)
        escape = f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
        assert untrusted.unsafe(char), escape
        assert untrusted.escape_controls(f"a{char}b") == f"a{escape}b"
        assert untrusted.escape_name(f"a{char}b") == f"a{escape}b"
        untrusted.escape_controls(f"a{char}b").encode("utf-8")  # never raises
    # Visible text stays itself: accents, combining ones too (José decomposed), emoji.
    for text in ("José", "Jose\u0301", "Zoë", "😀", "日本語", "a\tb\nc"):
        assert untrusted.escape_controls(text) == text
    assert untrusted.escape_name("a\tb\nc") == "a\\tb\\nc"


def test_names_that_differ_by_what_shows_as_nothing_stay_distinct(tmp_path: Path) -> None:
    names = ["bob", "bob\u034f", "bob\u3164", "bob\\u034f", "bob\U000e0062", "bob\ufe0f"]
    for name in names:
        (tmp_path / name).mkdir()
    os.mkdir(bytes(tmp_path) + b"/bob\xff")
    shown = batch.names(sorted(tmp_path.iterdir()))
    assert sorted(shown) == sorted(
        ["bob", "bob\\u034f", "bob\\u3164", "bob\\\\u034f", "bob\\U000e0062", "bob\\ufe0f"]
        + ["bob\\udcff"]
    )


def test_json_from_a_submission_holds_no_lone_surrogate() -> None:
    data = json.dumps({"a\ud800": ["x\udcff", {"k": "\ud83d\ude00 \udfff"}], "n": 1})
    assert untrusted.loads(data, 1 << 10) == {
        "a\\ud800": ["x\\udcff", {"k": "😀 \\udfff"}],  # a pair is a character: kept
        "n": 1,
    }
    deep = "[" * 32 + '"\\ud800"' + "]" * 32
    value = untrusted.loads(deep, 1 << 10)
    for _ in range(32):
        value = value[0]
    assert value == "\\ud800"


def test_a_submission_raising_with_a_lone_surrogate_gets_a_verdict(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    for command in ("check", "compare"):
        args = [command, "-e", "broadcast", "--submission", str(SURROGATE)]
        done = run_grader(*args, *(["--json", str(out)] if command == "check" else []))
        shown = done.stdout + done.stderr
        assert "bug in the grader" not in shown and "Traceback" not in shown, shown
        assert done.returncode == 1, shown
        assert "oops \\ud800 lone surrogate" in shown, shown
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["score"] == 0
    assert "oops \\\\ud800" in out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A class where one student raises with a lone surrogate, one folder holds only a
    file whose name is not UTF-8, three read "bob", and one hides text in its error."""
    classroom = tmp_path_factory.mktemp("text") / "class"
    classroom.mkdir()
    shutil.copy(ROOT / "solutions" / "broadcast.py", classroom / "alice.py")
    shutil.copy(SURROGATE, classroom / "mallory.py")
    os.mkdir(classroom / "eve")
    open(bytes(classroom) + b"/eve/notes\xff.txt", "wb").close()
    for name in ("bob", "bob\u034f", "bob\u3164"):
        shutil.copy(ROOT / "starter" / "broadcast.py", classroom / f"{name}.py")
    shutil.copy(ATTACKS / "tags_its_error.py", classroom / "tagger.py")
    shutil.copy(ROOT / "solutions" / "broadcast.py", classroom / "zed.py")
    out = classroom.parent / "grades"
    done = run_grader(
        "grade", "--submissions", str(classroom), "-e", "broadcast", "--out", str(out)
    )
    return out, done.stdout + done.stderr


def rows(out: Path) -> dict[str, dict[str, str]]:
    book = (out / "gradebook.csv").open(encoding="utf-8")
    return {r["student"]: r for r in csv.DictReader(book)}


def test_a_lone_surrogate_or_a_name_not_utf8_never_stops_the_batch(
    graded_class: tuple[Path, str],
) -> None:
    out, shown = graded_class
    assert "bug in the grader" not in shown and "Traceback" not in shown, shown
    students = rows(out)
    assert set(students) == {
        "alice", "bob", "bob\\u034f", "bob\\u3164", "eve", "mallory", "tagger", "zed"
    }  # fmt: skip
    assert students["alice"]["percent"] == students["zed"]["percent"] == "100.0"
    assert students["mallory"]["percent"] == "0.0"
    assert "oops \\ud800" in students["mallory"]["reason"]
    assert "notes\\udcff.txt" in students["eve"]["reason"]
    assert (out / "report.html").is_file()
    for student in students:
        folder = out / "students" / gradebook.folder_name(student)
        assert (folder / "feedback.html").is_file(), student
        assert (folder / "junit.xml").is_file(), student


def test_three_bobs_are_three_rows_and_hidden_text_shows_escaped(
    graded_class: tuple[Path, str],
) -> None:
    out, shown = graded_class
    pages = {"terminal": shown}
    for page in [out / "gradebook.csv", out / "report.html", *out.glob("students/*/feedback.html")]:
        pages[str(page)] = page.read_text(encoding="utf-8")
    for where, text in pages.items():
        raw = [f"U+{ord(c):04X}" for c in set(text) if untrusted.unsafe(c) and c not in "\n\t"]
        assert not raw, (where, raw)
    tagged = rows(out)["tagger"]["reason"]
    assert "x\\U000e0049\\U000e004e" in tagged and "\\u3164\\u034f\\U0001d173y" in tagged
    # The terminal cuts reasons to a line (the check above proves nothing raw shows).
    assert "\\U000e0049\\U000e004e" in pages[str(out / "report.html")]
    for name in ("bob\\u034f", "bob\\u3164"):
        assert name in shown and name in pages[str(out / "report.html")], name


def test_a_student_whose_results_cannot_be_saved_gets_that_as_their_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = gradebook.Gradebook(tmp_path)
    result = ExerciseResult(exercise="broadcast", title="Broadcast")

    def broken(student: str, results: Sequence[ExerciseResult]) -> str:
        if results[0].error:  # the verdict saved instead is the kit's own words
            return "<p>could not save</p>"
        raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")

    monkeypatch.setattr(gradebook, "feedback_html", broken)
    book.save("mallory", [result], "print")
    monkeypatch.undo()
    book.save("alice", [result], "print")
    saved = book.all()
    assert set(saved) == {"mallory", "alice"}
    assert "could not save" in (saved["mallory"][0].error or "")
    assert book.fingerprint("mallory") == ""  # graded again on the next run
    assert book.fingerprint("alice") == "print"


def test_grades_saved_with_lone_surrogates_are_read_without_them(tmp_path: Path) -> None:
    """An older kit saved the surrogate as JSON spells it: a rerun must not crash on it."""
    book = gradebook.Gradebook(tmp_path)
    result = ExerciseResult(exercise="broadcast", title="Broadcast", error="oops \ud800")
    folder = book.folder("mallory\udcff")
    folder.mkdir(parents=True)
    data = {"student": "mallory\udcff", "fingerprint": "", "results": [result.to_dict()]}
    (folder / gradebook.GRADE).write_text(json.dumps(data))
    book.write_summary(["broadcast"], "class")
    assert "oops \\ud800" in (tmp_path / "gradebook.csv").read_text(encoding="utf-8")
    assert "mallory\\udcff" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_the_terminal_never_raises_on_what_it_cannot_encode(tmp_path: Path) -> None:
    """Belt and braces: even a terminal that is not UTF-8 shows a verdict."""
    done = subprocess.run(
        [
            *(sys.executable, "-m", "grader", "check", "-e", "broadcast"),
            *("--submission", str(ATTACKS / "tags_its_error.py")),
        ],
        cwd=ROOT,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "ascii", "COLUMNS": "250"},
        timeout=300,
    )
    shown = (done.stdout + done.stderr).decode("ascii")
    assert done.returncode == 1 and "bug in the grader" not in shown, shown
