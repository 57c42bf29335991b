"""Raises at import with a message hidden in Unicode tag characters (U+E0000 block,
invisible in most fonts), variation selectors and Hangul fillers: shown raw, the
failure reason reads as "xy" while it carries a whole sentence a reader never sees.

Guarantee: the terminal, gradebook.csv, report.html and feedback.html show each of
those characters as its escape (\\U000e0049, \\u3164), never raw
(tests/test_text_safety.py).
"""

HIDDEN = "".join(chr(0xE0000 + ord(c)) for c in "INVISIBLE TAG TEXT")
raise RuntimeError("x" + HIDDEN + "\ufe0f\u3164\u034f\U0001d173y")
