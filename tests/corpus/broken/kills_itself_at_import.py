"""Ends the process with os._exit() while being imported.

expect: error exited with code 4
"""
import os

os._exit(4)
