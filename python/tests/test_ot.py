"""reglab.ot against POT on the same inputs.

Both solvers run the same Sinkhorn iteration to a stopping threshold on a marginal violation
(ours: ‖T1 − a‖₁, POT's: ‖Tᵀ1 − b‖₂); two plans that both meet their marginals to δ differ from
the exact entropic plan by O(δ) in total mass. With stopThr = 1e-13 (reached well within
numItermax here) the plans agree to 1e-12 in each entry; at POT's default 1e-9, to 1e-8 in ℓ1.
"""

import threading
import time

import numpy as np
import ot
import pytest

import reglab.ot
from _helpers import ot_problem as problem


@pytest.mark.parametrize("n, m, reg", [(20, 30, 0.05), (60, 45, 0.02), (7, 7, 0.5)])
def test_sinkhorn_matches_pot(n, m, reg):
    a, b, M = problem(n, m, n + m)
    ours = reglab.ot.sinkhorn(a, b, M, reg, numItermax=100_000, stopThr=1e-13)
    theirs = ot.sinkhorn(a, b, M, reg, numItermax=100_000, stopThr=1e-13)
    assert ours.shape == (n, m) and ours.dtype == np.float64
    assert np.abs(ours - theirs).max() < 1e-12
    # POT's defaults
    ours, theirs = reglab.ot.sinkhorn(a, b, M, reg), ot.sinkhorn(a, b, M, reg)
    assert np.abs(ours - theirs).sum() < 1e-8


@pytest.mark.parametrize("reg", [0.05, 1e-3])
def test_sinkhorn_log_matches_pot(reg):
    # reg = 1e-3: exp(−M/reg) underflows, so only the log-domain solvers work
    a, b, M = problem(25, 20, 3)
    ours, log = reglab.ot.sinkhorn_log(a, b, M, reg, numItermax=200_000, stopThr=1e-12, log=True)
    with np.errstate(divide="ignore"):
        theirs, their_log = ot.bregman.sinkhorn_log(a, b, M, reg, numItermax=200_000, stopThr=1e-12, log=True)
    assert np.abs(ours - theirs).sum() < 1e-10
    assert log["converged"]
    assert set(their_log) <= set(log), f"POT's keys {set(their_log)}, ours {set(log)}"
    # the plan from the log-scalings, as POT's: T = exp(log_u + (−M/reg) + log_v)
    assert np.allclose(np.exp(log["log_u"][:, None] - M / reg + log["log_v"][None, :]), ours, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(log["u"], np.exp(log["log_u"]))
    same = reglab.ot.sinkhorn(a, b, M, reg, method="sinkhorn_log", numItermax=200_000, stopThr=1e-12)
    assert np.array_equal(same, ours)


def test_log_dict_like_pots():
    a, b, M = problem(10, 12, 5)
    reg = 0.1
    plan, log = reglab.ot.sinkhorn(a, b, M, reg, log=True)
    _, their_log = ot.sinkhorn(a, b, M, reg, log=True)
    assert set(their_log) <= set(log)
    assert isinstance(log["err"], list) and log["err"][0] < 1e-9
    assert isinstance(log["niter"], int) and 0 < log["niter"] <= 1000
    K = np.exp(-M / reg)
    np.testing.assert_allclose(log["u"][:, None] * K * log["v"][None, :], plan, rtol=1e-12)
    # scalings are POT's up to a constant factor (c·u, v/c)
    ratio = log["u"] / their_log["u"]
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-7)


def test_uniform_defaults_float32_and_lists():
    _, _, M = problem(9, 6, 7)
    ours = reglab.ot.sinkhorn([], [], M, 0.1)
    theirs = ot.sinkhorn([], [], M, 0.1)
    assert np.abs(ours - theirs).sum() < 1e-8
    M32 = M.astype(np.float32)
    p32 = reglab.ot.sinkhorn(np.full(9, 1 / 9), np.full(6, 1 / 6), M32, 0.1)
    assert p32.dtype == np.float32
    assert np.abs(p32 - ours).max() < 1e-6
    plist = reglab.ot.sinkhorn(list(np.full(9, 1 / 9)), list(np.full(6, 1 / 6)), M.tolist(), 0.1)
    assert np.array_equal(plist, ours)


def test_zero_weights_give_zero_rows():
    a, b, M = problem(6, 5, 8)
    a[2] = 0.0
    a /= a.sum()
    plan = reglab.ot.sinkhorn(a, b, M, 0.1)
    assert np.all(plan[2] == 0.0)
    np.testing.assert_allclose(plan.sum(axis=1), a, atol=1e-9)
    np.testing.assert_allclose(plan.sum(axis=0), b, atol=1e-9)


def test_not_converged_warns_like_pot():
    a, b, M = problem(30, 30, 9)
    with pytest.warns(UserWarning, match="did not converge"):
        reglab.ot.sinkhorn(a, b, M, 1e-3, method="sinkhorn_log", numItermax=10)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reglab.ot.sinkhorn(a, b, M, 1e-3, method="sinkhorn_log", numItermax=10, warn=False)


def test_the_gil_is_released():
    # A Python thread takes timestamps while the main thread is inside a long Rust call: with the
    # GIL held it could not run in the middle of the call at all.
    a, b, M = problem(600, 600, 10)
    stamps, stop = [], threading.Event()

    def spin():
        while not stop.is_set():
            stamps.append(time.perf_counter())

    t = threading.Thread(target=spin)
    t.start()
    time.sleep(0.05)
    start = time.perf_counter()
    reglab.ot.sinkhorn_log(a, b, M, 1e-3, numItermax=300, stopThr=0.0, warn=False)
    end = time.perf_counter()
    stop.set()
    t.join()
    assert end - start > 0.05, "the call was too short to tell"
    quarter = (end - start) / 4
    inside = sum(start + quarter < s < end - quarter for s in stamps)
    assert inside > 100, f"the other thread ran {inside} times in the middle half of a {end - start:.2f} s call"
