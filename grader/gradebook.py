"""A class's grades on disk, in OUT/: a folder per student, and what is made of all of them.

    OUT/students/<name>/grade.json      each exercise's result, as the grader keeps it,
                                        with what it was graded from (to merge, resume
                                        and rebuild everything else from)
    OUT/students/<name>/results.json    Gradescope's format
    OUT/students/<name>/junit.xml       JUnit XML
    OUT/students/<name>/feedback.html   the report, as the terminal shows it
    OUT/gradebook.csv                   one row per student
    OUT/report.html                     what the class gets wrong

Grades are kept per student and per exercise: grading some exercises, or some students,
replaces those results and no other. Each result keeps its fingerprint (the student's
file and everything the grade depends on: the exercise's checks, its manifest entry, the
grader) and its scheme (the same without the student's file), so a result graded under
other checks or points is told apart: graded again when its exercise is graded, marked
stale in the exports until then. Students are saved as they are graded, so a batch cut
short keeps what it did; the gradebook and the class report are rebuilt from every
student in OUT.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import hashlib
import io
import json
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from grader import exports, report, submission, untrusted, uploads
from grader.manifest import Exercise, Kit
from grader.results import ExerciseResult

GRADE = "grade.json"
VERSION = 2  # grade.json's layout: 1 kept one fingerprint for all of a student's results


@dataclass(frozen=True)
class Stored:
    """One exercise's result for one student, and what it was graded from."""

    result: ExerciseResult
    fingerprint: str = ""
    """The student's file and the scheme; "" is graded again on the next run."""
    scheme: str = ""
    """The exercise's checks, manifest entry and grader: what its points mean."""
    graded_at: float = 0.0
    """When (seconds since the epoch): a FORCE run cut short resumes from it."""


class Gradebook:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.students = out / "students"

    def folder(self, student: str) -> Path:
        return self.students / folder_name(student)

    def save(
        self,
        student: str,
        results: Sequence[ExerciseResult],
        fingerprints: Mapping[str, str] | str,
        hidden: str = "after_published",
        *,
        schemes: Mapping[str, str] | None = None,
        order: Sequence[str] = (),
    ) -> None:
        """Keep `results` (each with its exercise's fingerprint and scheme) beside the
        student's other exercises, and write every format of all of them (exercises in
        `order`). If they cannot be written, what is saved is that: the student's
        verdict, graded again on the next run; one student never stops the batch."""
        if isinstance(fingerprints, str):
            fingerprints = dict.fromkeys((r.exercise for r in results), fingerprints)
        schemes = schemes or {}
        stored = self.stored(student)
        for r in results:
            stored[r.exercise] = Stored(
                r, fingerprints.get(r.exercise, ""), schemes.get(r.exercise, ""), time.time()
            )
        try:
            self._save(student, stored, hidden, order)
        except Exception:  # noqa: BLE001 - whatever it was, it is this student's verdict
            detail = traceback.format_exc()
            failed = {
                exercise: Stored(  # no fingerprint: graded again next run
                    ExerciseResult(
                        exercise=exercise,
                        title=kept.result.title,
                        error="the grader could not save this submission's results (a bug "
                        "in the kit)",
                        error_detail=detail,
                    )
                )
                for exercise, kept in stored.items()
            }
            self._save(student, failed, hidden, order)

    def restamp(
        self, student: str, results: Sequence[ExerciseResult], hidden: str, order: Sequence[str]
    ) -> None:
        """Replace kept results by `results` (the same grades, newer flags), keeping what
        they were graded from and when."""
        stored = self.stored(student)
        changed = False
        for r in results:
            kept = stored.get(r.exercise)
            if kept is not None and kept.result != r:
                stored[r.exercise] = dataclasses.replace(kept, result=r)
                changed = True
        if changed:
            self._save(student, stored, hidden, order)

    def _save(
        self, student: str, stored: Mapping[str, Stored], hidden: str, order: Sequence[str]
    ) -> None:
        folder = self.folder(student)
        folder.mkdir(parents=True, exist_ok=True)
        data = {
            "student": student,  # the folder's name may be shortened: see folder_name
            "version": VERSION,
            "exercises": {
                exercise: {
                    "fingerprint": kept.fingerprint,
                    "scheme": kept.scheme,
                    "graded_at": kept.graded_at,
                    "result": kept.result.to_dict(),
                }
                for exercise, kept in stored.items()
            },
        }
        write(folder / GRADE, json.dumps(data, indent=2))
        self._write_student(student, [k.result for k in _ordered(stored, order)], hidden)

    def _write_student(self, student: str, results: list[ExerciseResult], hidden: str) -> None:
        folder = self.folder(student)
        for name, render in STUDENT_FILES.items():
            write(folder / name, render(student, results, hidden))

    def stored(self, student: str) -> dict[str, Stored]:
        """What is kept for `student`, by exercise (nothing if nothing can be read)."""
        return self._read(self.folder(student) / GRADE)[1]

    def fingerprint(self, student: str, exercise: str | None = None) -> str | None:
        """What the saved result of `exercise` (or, without one, of every exercise, if
        they share it) was graded from; None if nothing is saved."""
        stored = self.stored(student)
        if exercise is not None:
            kept = stored.get(exercise)
            return kept.fingerprint if kept else None
        prints = {k.fingerprint for k in stored.values()}
        return prints.pop() if len(prints) == 1 else None

    def graded_before(self, student: str, exercise: str, since: float) -> bool:
        """Whether the kept result of `exercise` is older than `since` (or absent)."""
        kept = self.stored(student).get(exercise)
        return kept is None or kept.graded_at < since

    def all(self) -> dict[str, list[ExerciseResult]]:
        """Every student saved in OUT, whenever they were graded."""
        return {s: [k.result for k in kept.values()] for s, kept in self.everything().items()}

    def everything(self) -> dict[str, dict[str, Stored]]:
        grades = {}
        for file in sorted(self.students.glob(f"*/{GRADE}")):
            student, stored = self._read(file)
            if student is not None:
                grades[student] = stored
        return grades

    def _read(self, file: Path) -> tuple[str | None, dict[str, Stored]]:
        try:
            # Saved by an older kit, text from a submission may hold lone surrogates.
            data = untrusted.without_surrogates(json.loads(file.read_bytes()))
            student = str(data.get("student", file.parent.name))
            if "exercises" not in data:  # layout 1: one fingerprint, graded again
                results = [ExerciseResult.from_dict(r) for r in data["results"]]
                return student, {r.exercise: Stored(r) for r in results}
            return student, {
                exercise: Stored(
                    ExerciseResult.from_dict(kept["result"]),
                    str(kept.get("fingerprint", "")),
                    str(kept.get("scheme", "")),
                    float(kept.get("graded_at", 0.0)),
                )
                for exercise, kept in data["exercises"].items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None, {}  # a half-written file from a batch that was killed

    def write_summary(
        self,
        exercises: Sequence[str],
        title: str,
        roster: Mapping[str, Mapping[str, str]] | None = None,
        *,
        schemes: Mapping[str, str] | None = None,
        hidden: str | None = None,
    ) -> dict[str, list[ExerciseResult]]:
        """Rebuild gradebook.csv and report.html from every student in OUT, for
        `exercises` and every other exercise a student has a grade for (in that order).
        A result whose scheme is not the exercise's in `schemes` is marked stale. With
        `hidden`, every student's own files are rebuilt too (make export)."""
        everything = self.everything()
        order = list(dict.fromkeys([*exercises, *(e for s in everything.values() for e in s)]))
        stale = {
            student: {
                e
                for e, kept in stored.items()
                if schemes and schemes.get(e, kept.scheme) != kept.scheme
            }
            for student, stored in everything.items()
        }
        grades = {
            s: [k.result for k in _ordered(stored, order)] for s, stored in everything.items()
        }
        if hidden is not None:
            for student, results in grades.items():
                self._write_student(student, results, hidden)
        self.out.mkdir(parents=True, exist_ok=True)
        grading = Class(grades, order, roster or {}, {s: e for s, e in stale.items() if e}, title)
        for name, render in CLASS_FILES.items():
            write(self.out / name, render(grading))
        return grades

    def stale(self, schemes: Mapping[str, str]) -> dict[str, list[str]]:
        """The results graded under another scheme than `schemes`, by student."""
        found = {}
        for student, stored in self.everything().items():
            old = [e for e, k in stored.items() if e in schemes and schemes[e] != k.scheme]
            if old:
                found[student] = old
        return found


@dataclass(frozen=True)
class Class:
    """A class's grades, as every class-wide export is made from them."""

    grades: Mapping[str, list[ExerciseResult]]
    """Each student's results, exercises in `order`."""
    order: Sequence[str]
    roster: Mapping[str, Mapping[str, str]]
    stale: Mapping[str, set[str]]
    """The exercises each student was graded for under other checks or points."""
    title: str


def _report_html(grading: Class) -> str:
    from grader import classreport  # jinja2: only when a class is written

    summary = classreport.summarize(grading.grades, grading.order, grading.roster or ())
    links = {s: f"students/{_url(folder_name(s))}/feedback.html" for s in grading.grades}
    return classreport.html(summary, grading.title, links)


def feedback_html(student: str, results: Sequence[ExerciseResult]) -> str:
    """What the terminal shows for a student, as a page of its own."""
    console = Console(record=True, width=110, file=io.StringIO())
    console.print(report.plain(f"Feedback for {student}", "bold"))
    for result in results:
        console.print(report.exercise_report(result, reader=report.Reader(instructor=True)))
    return console.export_html(inline_styles=True)


# The exports, by file name: each student's (from their results and the visibility of
# hidden checks), then the class's. A new format is one entry here.
STUDENT_FILES: dict[str, Callable[[str, list[ExerciseResult], str], str]] = {
    "results.json": lambda _, results, hidden: json.dumps(
        exports.gradescope(results, hidden), indent=2
    ),
    "junit.xml": lambda student, results, _: exports.junit_xml(student, results),
    # Looked up when called: a test replaces it to see a failing export.
    "feedback.html": lambda student, results, _: feedback_html(student, results),
}
CLASS_FILES: dict[str, Callable[[Class], str]] = {
    "gradebook.csv": lambda c: exports.gradebook_csv(c.grades, c.order, c.roster, stale=c.stale),
    "report.html": _report_html,
}


def written() -> str:
    """What a class's folder holds, for a message: "gradebook.csv, report.html, and …"."""
    return (
        f"{', '.join(CLASS_FILES)}, and students/<name>/ (grade.json, {', '.join(STUDENT_FILES)})"
    )


def _ordered(stored: Mapping[str, Stored], order: Sequence[str]) -> list[Stored]:
    first = [stored[e] for e in order if e in stored]
    return first + [kept for e, kept in stored.items() if e not in order]


def write(path: Path, text: str) -> None:
    """`text` into `path` as UTF-8; a lone surrogate that got this far (text from a
    submission is escaped before, see untrusted) is written as its escape, not raised."""
    path.write_text(text, encoding="utf-8", errors="backslashreplace")


# A student's folder in OUT/students/ is named after them up to this many bytes; a longer
# name (a folder named with a hundred escaped control characters is 400 bytes, past
# the 255 a file name may have) is cut and told apart by a hash of the whole name.
NAME_BYTES = 120
KEPT_BYTES = 200


def folder_name(student: str) -> str:
    """The name of `student`'s folder in OUT/students/: their name when it is short
    enough, else its start, "…" and a hash of it. A cut name is longer than NAME_BYTES,
    so it can never be the name of another student whose name was not cut."""
    whole = student.encode("utf-8", "surrogatepass")
    if len(whole) <= NAME_BYTES:
        return student
    kept = ""
    for char in student:
        if len((kept + char).encode("utf-8", "surrogatepass")) > KEPT_BYTES:
            break
        kept += char
    return f"{kept}…{hashlib.sha256(whole).hexdigest()[:16]}"


@functools.cache
def grader_version() -> str:
    """The grader's own code: a change to it may change any grade."""
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()


def scheme(kit: Kit, exercise: Exercise) -> str:
    """What an exercise's grades mean: its checks, its manifest entry (points, weight,
    timeout, env, hidden checks…; not its hints or lesson) and the grader."""
    digest = hashlib.sha256(grader_version().encode())
    for check_file in sorted(kit.check_files(exercise)):
        digest.update(check_file.name.encode() + b"\0" + check_file.read_bytes())
    for source in kit.extension_sources():  # the course's own part of the checks
        digest.update(str(source.relative_to(kit.root)).encode() + b"\0" + source.read_bytes())
    entry = dataclasses.asdict(exercise)
    for words in ("hints", "lesson"):
        entry.pop(words, None)
    digest.update(json.dumps(entry, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def fingerprint(kit: Kit, exercise: Exercise, file: Path | None, problem: object = None) -> str:
    """What one exercise's result for a student depends on: the scheme, and the student's
    file (read as the grader reads it: never followed, bounded) and why it may not run."""
    digest = hashlib.sha256(scheme(kit, exercise).encode())
    if file is not None:
        contents = submission.read(file)
        digest.update(hashlib.sha256(contents.data).digest() if contents.ok else b"")
        digest.update(str((contents.problem, contents.missing)).encode() + b"\0")
    digest.update(str(problem).encode())
    return digest.hexdigest()


def read_roster(path: Path) -> dict[str, dict[str, str]]:
    """A roster CSV: a `student` column (the submission's name), then any others."""
    with path.open(newline="", encoding="utf-8-sig") as file:
        rows = list(csv.DictReader(file))
    if rows and "student" not in rows[0]:
        raise ValueError(f"{path} needs a 'student' column (the name of each submission)")
    return {
        uploads.nfc(row["student"]): {k: v for k, v in row.items() if k != "student"}
        for row in rows
    }


def _url(name: str) -> str:
    from urllib.parse import quote

    return quote(name)
