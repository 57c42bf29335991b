"""Allocates memory without bound while being imported.

expect: error more than 1 GiB
"""
hog = []
while True:
    hog.append(bytearray(64 << 20))
