"""`make compare`: a submission beside the reference, as source and as behaviour.

Behaviour is compared through the checks themselves: each check is a scripted
session, so the same script runs against both servers and the two transcripts are
shown side by side, frame by frame, up to and including the first divergence.
"""

from __future__ import annotations

import difflib

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from grader.report import MARKS, plain
from grader.results import CheckResult, ExerciseResult


def source_diff(reference: str, submission: str) -> Table:
    """The two files side by side, aligned, with changed lines coloured."""
    table = Table(title="source: reference ◀▶ submission", show_lines=False, expand=True)
    for title in ("", "reference", "", "submission"):
        table.add_column(
            title,
            no_wrap=title == "",
            style="dim" if not title else None,
            ratio=None if not title else 1,
        )
    left, right = reference.splitlines(), submission.splitlines()
    matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" and i2 - i1 > 6:  # fold long unchanged stretches
            for i, j in ((i1, j1), (i1 + 1, j1 + 1)):
                table.add_row(str(i + 1), plain(left[i]), str(j + 1), plain(right[j]))
            table.add_row("", Text(f"… {i2 - i1 - 4} identical lines", "dim"), "", "")
            for i, j in ((i2 - 2, j2 - 2), (i2 - 1, j2 - 1)):
                table.add_row(str(i + 1), plain(left[i]), str(j + 1), plain(right[j]))
            continue
        style = {"equal": "", "replace": "yellow", "delete": "red", "insert": "green"}[tag]
        for k in range(max(i2 - i1, j2 - j1)):
            i, j = i1 + k, j1 + k
            table.add_row(
                str(i + 1) if i < i2 else "",
                plain(left[i], style) if i < i2 else "",
                str(j + 1) if j < j2 else "",
                plain(right[j], style) if j < j2 else "",
            )
    return table


def behaviour(reference: ExerciseResult, submission: ExerciseResult) -> RenderableType:
    """Each check's outcome on both, then the first diverging script side by side."""
    outcomes = Table(title="behaviour: the same checks against both servers")
    for column in ("check", "reference", "submission"):
        outcomes.add_column(column)
    theirs = {c.name: c for c in submission.checks}
    first: tuple[CheckResult, CheckResult] | None = None
    for ours in reference.checks:
        other = theirs.get(ours.name)
        outcomes.add_row(Text(ours.description), _mark(ours), _mark(other) if other else "–")
        if first is None and other and ours.outcome != other.outcome:
            first = (ours, other)
    parts: list[RenderableType] = [outcomes]
    if submission.error:
        parts.append(plain(f"The submission could not run: {submission.error}", "red"))
    if first:
        parts.append(transcripts(*first))
    elif not submission.error:
        parts.append(Text("Both behave the same in every check.", "green"))
    return Group(*parts)


def transcripts(ours: CheckResult, theirs: CheckResult) -> Table:
    """Two scripts side by side; the first line where they differ is highlighted."""
    table = Table(title=f"first divergence: {ours.description}", expand=True)
    table.add_column("step", style="dim", no_wrap=True)
    table.add_column("reference", ratio=1)
    table.add_column("submission", ratio=1)
    steps = list(theirs.steps)
    if theirs.expected is not None:
        steps.append(f"expected {theirs.expected}, arrived {theirs.actual}")
    elif theirs.rationale:
        steps.append(theirs.rationale)
    diverged = False
    for n in range(max(len(ours.steps), len(steps))):
        left = ours.steps[n] if n < len(ours.steps) else ""
        right = steps[n] if n < len(steps) else ""
        if not diverged and left != right:
            diverged = True
            table.add_row(f"{n + 1} ▶", plain(left, "bold green"), plain(right, "bold red"))
            continue
        table.add_row(
            str(n + 1),
            plain(left, "dim" if diverged else ""),
            plain(right, "dim" if diverged else ""),
        )
    return table


def _mark(result: CheckResult) -> Text:
    mark, style = MARKS[result.outcome]
    return Text(f"{mark} {result.outcome.value}", style)
