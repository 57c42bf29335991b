"""The FastAPI instance is called `application`, not `app`.

expect: error no variable named `app`
"""
from fastapi import FastAPI

application = FastAPI()
