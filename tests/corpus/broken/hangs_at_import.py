"""Loops forever at the top level, so the module never finishes importing.

expect: error did not finish importing
"""
from fastapi import FastAPI

app = FastAPI()
while True:
    pass
