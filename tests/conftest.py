"""Shared pytest set-up: Hypothesis profiles, the plain-Python reference, shared model graphs.

CI (any non-empty ``CI`` environment variable) runs a derandomised, modest
profile so every run explores the same examples; local runs keep Hypothesis'
random exploration; ``--hypothesis-profile=thorough`` runs many more
examples on demand. None has a deadline: the first call of a numpy kernel
can be slow and must not count as a flaky failure.
"""

import importlib.util
import os
import sys
from pathlib import Path

from hypothesis import settings

# ``tests/ops/reference.py`` (the independent plain-Python reference) is importable as ``ivit_ops_reference``
# from every test folder. The tests tree has no ``__init__.py`` files, so a plain ``import reference``
# could clash with a same-named module elsewhere; loading it by path under a unique name avoids that.
_REF = "ivit_ops_reference"
if _REF not in sys.modules:
    _spec = importlib.util.spec_from_file_location(_REF, Path(__file__).parent / "ops" / "reference.py")
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_REF] = _module
    _spec.loader.exec_module(_module)

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=60, print_blob=True)
settings.register_profile("default", deadline=None)
# opt-in deep run: pytest --hypothesis-profile=thorough
settings.register_profile("thorough", deadline=None, max_examples=2000)
settings.load_profile("ci" if os.environ.get("CI") else "default")


# ----------------------------------------------------------------------------- shared model graphs
import pytest  # noqa: E402

# digits_graph (the quickly trained digits model) lives in the repository's conftest.py: rtl_tests use it too


@pytest.fixture(scope="session")
def deit_tiny_graph():
    """DeiT-tiny with random weights (seed 0) and 4 synthetic calibration images (needs torch)."""
    from ivit_hw.frontend.synthetic import synthetic_graph

    return synthetic_graph("deit_tiny")


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """One torch thread for every test: the test models are small, and on a busy 2-core machine two
    threads spin against each other (many times slower). No-op where torch is not installed."""
    try:
        import torch
    except ImportError:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
