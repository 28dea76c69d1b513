"""Drivers for external EDA tools: cocotb simulation (Icarus, Verilator) and yowasp synthesis."""


from ..errors import UserError


class EdaMissing(UserError, OSError):
    """A simulator, synthesis tool or Python package the command needs is not installed."""
