"""Prints without end while being imported.

expect: error printed more than
"""
while True:
    print("spam " * 1000)
