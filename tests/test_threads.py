"""The thread count of the neural paths: min(4, idle cores) by default, or as asked."""

from __future__ import annotations

import os

import pytest
import torch

from bandgen import threads


@pytest.mark.parametrize(
    ("cores", "load", "expected"), [(16, 0.0, 4), (2, 0.2, 2), (2, 4.3, 1), (8, 5.0, 3)]
)
def test_default_follows_idle_cores(
    monkeypatch: pytest.MonkeyPatch, cores: int, load: float, expected: int
) -> None:
    """On 2 busy cores, 2 threads made an n-SBG encode 8x slower than 1 (42 s vs 5 s)."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert threads.default_threads() == expected


def test_set_threads_caps_torch_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads()
    for var in ("MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(var, "")  # restored after the test
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    try:
        assert threads.set_threads(1) == 1
        assert torch.get_num_threads() == 1 and os.environ["MKL_NUM_THREADS"] == "1"
        monkeypatch.setenv("OMP_NUM_THREADS", "3")
        assert threads.set_threads() == 3  # an explicit environment is kept
        with pytest.raises(ValueError, match="at least 1"):
            threads.set_threads(0)
    finally:
        torch.set_num_threads(before)
