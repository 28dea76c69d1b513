"""Fixtures shared by ``tests/`` and ``rtl_tests/`` (one pytest session runs both)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def digits_graph():
    """The digits model (short training, calibration only): built once per session (needs torch)."""
    from ivit_hw.frontend.synthetic import quick_digits_graph

    return quick_digits_graph()
