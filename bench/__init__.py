"""The fan-out benchmark and the kit's other measurements."""
