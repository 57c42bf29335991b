"""Calls sys.exit() while being imported.

expect: error called exit(3)
"""
import sys

sys.exit(3)
