"""Drivers for external EDA tools: cocotb simulation (Icarus, Verilator) and yowasp synthesis."""


class EdaMissing(OSError):
    """A simulator, synthesis tool or Python package the command needs is not installed."""
