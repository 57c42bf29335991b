"""`app` is bound to a string.

expect: error not an ASGI app
"""
app = "FastAPI()"
