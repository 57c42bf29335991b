"""Grades in the formats other tools read; pure functions of finished results.

    gradescope    Gradescope's results.json, as its autograder specification defines it
    junit_xml     JUnit XML, as Jenkins and GitLab read it (tests/data/junit.xsd)
    gradebook_csv one row per student, safe to open in a spreadsheet

In all three a check skipped because one it builds on failed reads differently from a
check that could not run at all, and the "app starts" test that stands for a submission
that cannot start counts like any other.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from grader import uploads
from grader.results import CheckResult, ExerciseResult, Outcome
from grader.untrusted import escape_controls, invisible

# Gradescope's visibilities, from most to least visible.
VISIBILITIES = ("visible", "after_published", "after_due_date", "hidden")
APP_STARTS = "the app starts"


def gradescope(results: list[ExerciseResult], hidden: str = "after_published") -> dict[str, Any]:
    """Gradescope's autograder `results.json`: one test per check, hidden checks with the
    `hidden` visibility. (While any test is not visible, Gradescope shows students no
    total until the instructor publishes the grades.)"""
    tests: list[dict[str, Any]] = []
    for exercise in results:
        if exercise.error:
            tests.append(
                {
                    "name": f"{exercise.exercise}: {APP_STARTS}",
                    "score": 0,
                    "max_score": 0,
                    "status": "failed",
                    "output": exercise.error,
                    "visibility": "visible",
                    "extra_data": {"outcome": Outcome.ERRORED.value},
                }
            )
        tests.extend(_gradescope_test(exercise, c, hidden) for c in exercise.checks)
    return {
        "score": sum(r.score for r in results),
        "execution_time": round(sum(r.duration for r in results), 3),
        "tests": tests,
    }


def _gradescope_test(exercise: ExerciseResult, check: CheckResult, hidden: str) -> dict[str, Any]:
    return {
        "name": f"{exercise.exercise}: {check.description}",
        "score": check.score,
        "max_score": check.points,
        "status": "passed" if check.passed else "failed",
        "output": failure_text(check),
        "visibility": hidden if check.hidden else "visible",
        "extra_data": {"outcome": check.outcome.value, "check": check.name},
    }


def not_run(check: CheckResult) -> str:
    """Why a skipped check did not run: it builds on one that failed, or nothing could."""
    if check.waited_for:
        return f"skipped: it builds on {check.waited_for}, which did not pass"
    return f"not run: {check.rationale}"


def failure_text(check: CheckResult) -> str:
    """A failure as plain text: the same facts the terminal report shows."""
    if check.passed:
        return ""
    if check.outcome is Outcome.SKIPPED:
        return not_run(check)
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
    root = ET.Element("testsuites", name=_xml_safe(student))
    for exercise in results:
        cases = [_junit_case(exercise.exercise, c) for c in exercise.checks]
        if exercise.error:  # a test of its own, counted like the others
            case = ET.Element("testcase", classname=exercise.exercise, name=APP_STARTS, time="0")
            error = ET.SubElement(case, "error", message=_xml_safe(exercise.error))
            error.text = _xml_safe(exercise.error_detail)
            cases.insert(0, case)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=exercise.exercise,
            tests=str(len(cases)),
            failures=str(sum(c.find("failure") is not None for c in cases)),
            errors=str(sum(c.find("error") is not None for c in cases)),
            skipped=str(sum(c.find("skipped") is not None for c in cases)),
            time=f"{exercise.duration:.3f}",
        )
        properties = ET.SubElement(suite, "properties")
        for name, value in (("score", exercise.score), ("max_score", exercise.max_score)):
            ET.SubElement(properties, "property", name=name, value=f"{value:g}")
        suite.extend(cases)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _junit_case(classname: str, check: CheckResult) -> ET.Element:
    case = ET.Element(
        "testcase", classname=classname, name=check.name, time=f"{check.duration:.3f}"
    )
    if check.outcome is Outcome.SKIPPED:
        ET.SubElement(case, "skipped", message=_xml_safe(not_run(check)))
    elif check.outcome is not Outcome.PASSED:
        tag = "error" if check.outcome is Outcome.ERRORED else "failure"
        element = ET.SubElement(
            case, tag, message=_xml_safe(check.rationale), type=check.outcome.value
        )
        element.text = _xml_safe(failure_text(check))
    return case


# Control characters are not allowed in XML 1.0, and student output will contain them.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    return _ILLEGAL_XML.sub(lambda m: f"#x{ord(m.group()):02X}", text)


def gradebook_csv(
    grades: Mapping[str, Sequence[ExerciseResult]],
    exercises: Sequence[str],
    roster: Mapping[str, Mapping[str, str]] | None = None,
    *,
    stale: Mapping[str, Collection[str]] | None = None,
) -> str:
    """One row per student: each exercise's score and status, the total, the most, the
    percentage, why what did not pass did not, and what was flagged for a look. With a
    `roster` (student → columns), its columns follow the student's name, and everyone
    on it gets a row. Every row has the same most: an exercise a student has no result
    for counts its full points (as anyone else's result for it has them). A result in
    `stale` (student → exercises) was graded under other checks or points: its status
    says so."""
    # A roster typed on one system names "José" composed, a folder made on another
    # decomposed: both are matched as NFC (the form discovery names students in).
    roster = {uploads.nfc(k): v for k, v in (roster or {}).items()}
    named = {uploads.nfc(s) for s in grades}
    stale = stale or {}
    extra = list(dict.fromkeys(k for columns in roster.values() for k in columns))
    most_of = {
        exercise: max(
            (r.max_score for rs in grades.values() for r in rs if r.exercise == exercise),
            default=0.0,
        )
        for exercise in exercises
    }
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["student", *extra]
    for exercise in exercises:
        header += [exercise, f"{exercise} status"]
    writer.writerow(header + ["total", "max", "percent", "reason", "flags"])
    for student in sorted({*grades, *(k for k in roster if k not in named)}):
        results = {r.exercise: r for r in grades.get(student, ())}
        row = [student, *(roster.get(uploads.nfc(student), {}).get(k, "") for k in extra)]
        for exercise in exercises:
            result = results.get(exercise)
            status = result.status if result else "no submission"
            if result and exercise in stale.get(student, ()):
                status += " (stale: graded before the checks or points changed)"
            row += [_number(result.score) if result else "0", status]
        total = sum(r.score for e, r in results.items() if e in most_of)
        most = sum(most_of.values())
        reasons = [f"{r.exercise}: {r.reason}" for r in results.values() if r.reason]
        if student not in grades:
            reasons = ["no submission"]
        percent = f"{100 * total / most:.1f}" if most else "0.0"
        flags = [f"{r.exercise}: {f}" for r in results.values() for f in r.flags]
        row += [_number(total), _number(most), percent, " | ".join(reasons), " | ".join(flags)]
        writer.writerow([spreadsheet_safe(escape_controls(cell)) for cell in row])
    return out.getvalue()


FORMULA = ("=", "+", "-", "@")


def spreadsheet_safe(cell: str) -> str:
    """A cell a spreadsheet shows as text: one that starts like a formula gets a quote
    (a student folder named `=HYPERLINK(…)` must not run). Spreadsheets skip leading
    spaces and invisible characters before a formula, so the test does too:
    ` =1+1` and `<U+200B>=1+1` are formulas as much as `=1+1` is."""
    bare = cell.lstrip()
    while bare and invisible(bare[0]):
        bare = bare[1:]
    starts_a_formula = bare[:1] in FORMULA and not _is_number(bare)
    if starts_a_formula or cell[:1] in ("\t", "\r"):
        return "'" + cell
    return cell


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(value: float) -> str:
    return f"{value:g}"
