"""Imports a module that does not exist.

expect: error ModuleNotFoundError
"""
import fastapi_websocket_manager  # noqa: F401

from fastapi import FastAPI

app = FastAPI()
