"""Prints 15 MiB of 3-byte lines as it is imported (five million lines, just under the
16 MiB a server may print), then serves an app without routes, so every check fails
and the grader reads the output to explain why. Read whole and split into lines, that
output once grew the checks process to 565 MiB, outside the job's memory cap.

Guarantee: no process of the grading (the checks process above all) goes past 200 MiB;
the output the student is shown is its end, cut short. It scores 0.
"""

import sys

from fastapi import FastAPI

for _ in range(50):
    sys.stdout.write("ab\n" * 100_000)
sys.stdout.flush()

app = FastAPI()
