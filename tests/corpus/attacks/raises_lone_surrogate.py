"""Raises at import with a lone surrogate (U+D800) in its message. The message travels
to the grader as JSON (`"\\ud800"`), which parses to a string no encoder will write:
printed, or saved in feedback.html, it made the grader crash with a traceback,
and in a class batch it stopped every student after this one from being saved.

Guarantee: the submission gets an ordinary verdict, 0 points, its message shown with
`\\ud800` as text; `--json` is written, the exit status is 1; in a class every other
student still gets their row, gradebook.csv and report.html (tests/test_text_safety.py).
"""

raise RuntimeError("oops \ud800 lone surrogate")
