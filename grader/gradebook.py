"""A class's grades on disk, in OUT/: a folder per student, and what is made of all of them.

    OUT/students/<name>/grade.json      the results, as the grader keeps them (to merge,
                                        resume and rebuild everything else from)
    OUT/students/<name>/results.json    Gradescope's format
    OUT/students/<name>/junit.xml       JUnit XML
    OUT/students/<name>/feedback.html   the report, as the terminal shows it
    OUT/gradebook.csv                   one row per student
    OUT/report.html                     what the class gets wrong

Students are saved one by one as they are graded, so a batch cut short keeps what it
did; the gradebook and the class report are rebuilt from every student in OUT, so
grading one student again changes that student's row and nothing else.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.console import Console

from grader import exports, report, submission, untrusted
from grader.manifest import Kit
from grader.results import ExerciseResult

GRADE = "grade.json"


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
        fingerprint: str,
        hidden: str = "after_published",
    ) -> None:
        """Write one student's results in every format. If they cannot be written, what is
        saved is that: the student's verdict, graded again on the next run; one student
        never stops the batch."""
        try:
            self._save(student, results, fingerprint, hidden)
        except Exception:  # noqa: BLE001 - whatever it was, it is this student's verdict
            detail = traceback.format_exc()
            failed = [
                ExerciseResult(
                    exercise=r.exercise,
                    title=r.title,
                    error="the grader could not save this submission's results (a bug in the kit)",
                    error_detail=detail,
                )
                for r in results
            ]
            self._save(student, failed, "", hidden)  # no fingerprint: graded again next run

    def _save(
        self, student: str, results: Sequence[ExerciseResult], fingerprint: str, hidden: str
    ) -> None:
        folder = self.folder(student)
        folder.mkdir(parents=True, exist_ok=True)
        data = {
            "student": student,  # the folder's name may be shortened: see folder_name
            "fingerprint": fingerprint,
            "results": [r.to_dict() for r in results],
        }
        write(folder / GRADE, json.dumps(data, indent=2))
        gradescope = exports.gradescope(list(results), hidden)
        write(folder / "results.json", json.dumps(gradescope, indent=2))
        write(folder / "junit.xml", exports.junit_xml(student, list(results)))
        write(folder / "feedback.html", feedback_html(student, results))

    def fingerprint(self, student: str) -> str | None:
        """What the saved results were graded from (see `fingerprint`), if any."""
        try:
            return str(json.loads((self.folder(student) / GRADE).read_bytes())["fingerprint"])
        except (OSError, ValueError, KeyError):
            return None

    def all(self) -> dict[str, list[ExerciseResult]]:
        """Every student saved in OUT, whenever they were graded."""
        grades = {}
        for file in sorted(self.students.glob(f"*/{GRADE}")):
            try:
                # Saved by an older kit, text from a submission may hold lone surrogates.
                data = untrusted.without_surrogates(json.loads(file.read_bytes()))
                student = str(data.get("student", file.parent.name))
                grades[student] = [ExerciseResult.from_dict(r) for r in data["results"]]
            except (OSError, ValueError, KeyError):
                continue  # a half-written file from a batch that was killed
        return grades

    def write_summary(
        self,
        exercises: Sequence[str],
        title: str,
        roster: Mapping[str, Mapping[str, str]] | None = None,
    ) -> dict[str, list[ExerciseResult]]:
        """Rebuild gradebook.csv and report.html from every student in OUT."""
        from grader import classreport

        grades = self.all()
        self.out.mkdir(parents=True, exist_ok=True)
        write(self.out / "gradebook.csv", exports.gradebook_csv(grades, exercises, roster))
        summary = classreport.summarize(grades, exercises)
        links = {s: f"students/{_url(folder_name(s))}/feedback.html" for s in grades}
        write(self.out / "report.html", classreport.html(summary, title, links))
        return grades


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


def fingerprint(kit: Kit, exercises: Sequence[str], files: Mapping[str, Path]) -> str:
    """What a student's results depend on: the exercises graded and their checks, and the
    student's files. Saved results with the same fingerprint need no grading again."""
    digest = hashlib.sha256()
    for check_file in sorted(f for e in exercises for f in kit.check_files(kit.get(e))):
        digest.update(check_file.read_bytes())
    for exercise in exercises:
        digest.update(exercise.encode() + b"\0")
        file = files.get(exercise)
        if file is not None:  # read as the grader reads it: never followed, bounded
            contents = submission.read(file)
            digest.update(hashlib.sha256(contents.data).digest() if contents.ok else b"")
            digest.update(str((contents.problem, contents.missing)).encode() + b"\0")
    return digest.hexdigest()


def read_roster(path: Path) -> dict[str, dict[str, str]]:
    """A roster CSV: a `student` column (the submission's name), then any others."""
    with path.open(newline="", encoding="utf-8-sig") as file:
        rows = list(csv.DictReader(file))
    if rows and "student" not in rows[0]:
        raise ValueError(f"{path} needs a 'student' column (the name of each submission)")
    return {row["student"]: {k: v for k, v in row.items() if k != "student"} for row in rows}


def feedback_html(student: str, results: Sequence[ExerciseResult]) -> str:
    """What the terminal shows for a student, as a page of its own."""
    console = Console(record=True, width=110, file=io.StringIO())
    console.print(report.plain(f"Feedback for {student}", "bold"))
    for result in results:
        console.print(report.exercise_report(result, reader=report.Reader(instructor=True)))
    return console.export_html(inline_styles=True)


def _url(name: str) -> str:
    from urllib.parse import quote

    return quote(name)
