"""Grades in the formats other tools read; pure functions of finished results."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from typing import Any

from grader.results import CheckResult, ExerciseResult, Outcome

VISIBLE, AFTER_PUBLISHED = "visible", "after_published"


def gradescope(results: list[ExerciseResult]) -> dict[str, Any]:
    """Gradescope's autograder `results.json` shape: one test per check."""
    tests: list[dict[str, Any]] = []
    for exercise in results:
        if exercise.error:
            tests.append(
                {
                    "name": f"{exercise.exercise}: the app starts",
                    "score": 0,
                    "max_score": 0,
                    "status": "failed",
                    "output": exercise.error,
                    "visibility": VISIBLE,
                }
            )
        tests.extend(_gradescope_test(exercise, c) for c in exercise.checks)
    return {
        "score": sum(r.score for r in results),
        "max_score": sum(r.max_score for r in results),
        "execution_time": round(sum(r.duration for r in results), 3),
        "tests": tests,
    }


def _gradescope_test(exercise: ExerciseResult, check: CheckResult) -> dict[str, Any]:
    return {
        "name": f"{exercise.exercise}: {check.description}",
        "score": check.score,
        "max_score": check.points,
        "status": "passed" if check.passed else "failed",
        "output": failure_text(check),
        "visibility": AFTER_PUBLISHED if check.hidden else VISIBLE,
    }


def failure_text(check: CheckResult) -> str:
    """A failure as plain text: the same facts the terminal report shows."""
    if check.passed:
        return ""
    lines = [f"{check.outcome.value}: {check.rationale}"]
    if check.steps:
        lines += ["what happened:", *(f"  {s}" for s in check.steps)]
    if check.expected is not None:
        lines.append(f"expected: {check.expected}")
    if check.actual is not None:
        lines.append(f"arrived:  {check.actual}")
    if check.server_output:
        lines += ["server said:", *(f"  {s}" for s in check.server_output.splitlines())]
    if check.help:
        lines.append(f"hint: {check.help}")
    return "\n".join(lines)


def junit_xml(student: str, results: list[ExerciseResult]) -> str:
    """JUnit XML: a testsuite per exercise, a testcase per check, that CI systems read."""
    root = ET.Element("testsuites", name=student)
    for exercise in results:
        failures = sum(c.outcome in (Outcome.FAILED, Outcome.TIMED_OUT) for c in exercise.checks)
        errors = sum(c.outcome is Outcome.ERRORED for c in exercise.checks) + bool(exercise.error)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=exercise.exercise,
            tests=str(len(exercise.checks)),
            failures=str(failures),
            errors=str(errors),
            skipped=str(sum(c.outcome is Outcome.SKIPPED for c in exercise.checks)),
            time=f"{exercise.duration:.3f}",
        )
        if exercise.error:
            case = ET.SubElement(suite, "testcase", classname=exercise.exercise, name="app starts")
            ET.SubElement(case, "error", message=_xml_safe(exercise.error)).text = _xml_safe(
                exercise.error_detail
            )
        for check in exercise.checks:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=exercise.exercise,
                name=check.name,
                time=f"{check.duration:.3f}",
            )
            tag = _JUNIT_TAGS.get(check.outcome)
            if tag:
                element = ET.SubElement(case, tag, message=_xml_safe(check.rationale))
                element.text = _xml_safe(failure_text(check))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


_JUNIT_TAGS = {
    Outcome.FAILED: "failure",
    Outcome.TIMED_OUT: "failure",
    Outcome.ERRORED: "error",
    Outcome.SKIPPED: "skipped",
}
# Control characters are not allowed in XML 1.0, and student output will contain them.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _xml_safe(text: str) -> str:
    return _ILLEGAL_XML.sub(lambda m: f"#x{ord(m.group()):02X}", text)


def gradebook_csv(grades: dict[str, list[ExerciseResult]], exercises: list[str]) -> str:
    """One row per student: a score column per exercise, then the total and max."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", *exercises, "total", "max"])
    for student, results in sorted(grades.items()):
        by_id = {r.exercise: r for r in results}
        scores = [_number(by_id[e].score) if e in by_id else "" for e in exercises]
        writer.writerow(
            [
                student,
                *scores,
                _number(sum(r.score for r in results)),
                _number(sum(r.max_score for r in results)),
            ]
        )
    return out.getvalue()


def _number(value: float) -> str:
    return f"{value:g}"
