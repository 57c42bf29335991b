"""A missing colon after the method signature.

expect: error syntax error at line 8
"""
from fastapi import FastAPI

class ConnectionManager:
    def __init__(self)
        self.active_connections = []

app = FastAPI()
