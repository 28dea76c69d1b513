"""Shared fixtures of the frontend tests."""

import pytest
import torch


@pytest.fixture(scope="package", autouse=True)
def _one_torch_thread():
    """The frontend models are tiny: one torch thread is faster, and much faster on a busy 2-core machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
