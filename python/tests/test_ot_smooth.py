"""reglab.ot.smooth and reglab.ot.sparse against POT's ot.smooth on the same inputs.

Tolerances. Both maximize the same concave (semi-)dual by quasi-Newton from zero potentials, but
POT's scipy L-BFGS-B stops on the relative decrease of the dual (``factr``) long before its
gradient, the marginal violation, is small: at ``stopThr=1e-12`` its plans still miss the
marginals by ``e_pot`` = 1e-6 to 2e-4 in ℓ1 on these problems. Ours stop on the marginals
themselves (``‖∇‖_∞ ≤ stopThr``) and satisfy the optimality conditions ``T = [α + β − M]_+ / reg``
exactly, which make the plan the unique optimum of the l2 problem. So the plans can only agree
to POT's accuracy: we require ``max |T − T_pot| ≤ e_pot`` entrywise (measured: at most
0.32·e_pot, 1.2e-5 absolute). The dual value is flat at the optimum (its error is quadratic in
the plan's), so the two dual values agree to 1e-10 relative (measured ≤ 1e-11), and ours is never
below POT's by more than rounding since we maximize the same function further.

The sparsity-constrained cases compared with POT are ones whose optimum is a smooth point of the
dual (the constraint is active, the marginals are met, the plan is unique). Where the optimum is
on a kink (``max_nz=1`` with more rows than columns: no plan with one non-zero per column meets
the rows) neither solver converges and where each stops is path dependent; only the invariants
are checked there.
"""

import contextlib
import io

import numpy as np
import ot
import pytest

import reglab.ot
from _helpers import ot_problem as problem
from reglab.ot.smooth import smooth_ot_dual, smooth_ot_semi_dual


def marginal_error(T, a, b):
    return np.abs(T.sum(axis=1) - a).sum() + np.abs(T.sum(axis=0) - b).sum()


def pot(semi, *args, **kwargs):
    # POT 0.9.7 prints shapes from its sparse simplex projection
    with contextlib.redirect_stdout(io.StringIO()):
        f = ot.smooth.smooth_ot_semi_dual if semi else ot.smooth.smooth_ot_dual
        return f(*args, **kwargs)


# (n, m, reg, max_nz): l2 (max_nz None) and sparsity-constrained where the constraint is active
# (the l2 plan has more than max_nz non-zeros in some column) and the optimum is smooth.
CASES = [
    (12, 12, 1.0, None),
    (12, 12, 1.0, 5),
    (20, 30, 0.1, None),
    (20, 30, 0.1, 3),
    (40, 25, 0.1, None),
    (40, 25, 0.1, 5),
    (40, 25, 0.01, None),
]


@pytest.mark.parametrize("semi", [False, True], ids=["dual", "semi_dual"])
@pytest.mark.parametrize("n, m, reg, max_nz", CASES)
def test_matches_pot(semi, n, m, reg, max_nz):
    a, b, M = problem(n, m, n + m)
    reg_type = "l2" if max_nz is None else "sparsity_constrained"
    ours = smooth_ot_semi_dual if semi else smooth_ot_dual
    T, log = ours(a, b, M, reg, reg_type=reg_type, max_nz=max_nz, log=True)
    T_pot, log_pot = pot(semi, a, b, M, reg, reg_type=reg_type, max_nz=max_nz, stopThr=1e-12, numItermax=10_000, log=True)
    assert T.shape == (n, m) and T.dtype == np.float64
    assert log["converged"] and log["res"].success and log["res"].status == 0

    # the marginals to stopThr (largest violation), the columns of the semi-dual exactly
    assert np.abs(T.sum(axis=1) - a).max() <= 2e-9
    assert np.abs(T.sum(axis=0) - b).max() <= (1e-13 if semi else 2e-9)

    # the plan, to POT's own accuracy
    e_pot = marginal_error(T_pot, a, b)
    assert 0 < e_pot < 1e-3
    assert np.abs(T - T_pot).max() <= e_pot, f"max diff {np.abs(T - T_pot).max():.2e}, POT's marginal error {e_pot:.2e}"
    # exact zeros where POT has them, up to entries within POT's error
    assert np.all(((T == 0) == (T_pot == 0)) | (np.maximum(T, T_pot) <= e_pot))

    # the (semi-)dual value: the same to 1e-10, ours not below POT's
    d, d_pot = -log["res"].fun, -log_pot["res"].fun
    assert abs(d - d_pot) <= 1e-10 * max(1.0, abs(d))
    assert d >= d_pot - 1e-13
    # strong duality: the primal objective equals the dual value (smooth optimum)
    objective = float((M * T).sum() + 0.5 * reg * (T**2).sum())
    assert log["objective"] == pytest.approx(objective, rel=1e-12)
    assert log["cost"] == pytest.approx(float((M * T).sum()), rel=1e-12)
    assert abs(log["objective"] - d) <= 1e-8 * max(1.0, abs(d))

    # the sparsity constraint is active and met
    if max_nz is not None:
        l2 = ours(a, b, M, reg)
        assert (l2 > 0).sum(axis=0).max() > max_nz
        assert (T > 0).sum(axis=0).max() <= max_nz


@pytest.mark.parametrize("semi", [False, True], ids=["dual", "semi_dual"])
def test_log_like_pots(semi):
    n, m, reg = 15, 10, 0.2
    a, b, M = problem(n, m, 3)
    ours = smooth_ot_semi_dual if semi else smooth_ot_dual
    T, log = ours(a, b, M, reg, log=True)
    T_pot, log_pot = pot(semi, a, b, M, reg, log=True)
    assert set(log_pot) <= set(log), f"POT's keys {set(log_pot)}, ours {set(log)}"
    assert set(log) == {"alpha", "beta", "res", "cost", "objective", "converged"}
    assert log["alpha"].shape == log_pot["alpha"].shape == (n,)
    assert log["beta"].shape == (m,)
    if not semi:
        assert log_pot["beta"].shape == (m,)
    res, res_pot = log["res"], log_pot["res"]
    # scipy's OptimizeResult attributes, also as keys
    for key in ("x", "fun", "jac", "nit", "nfev", "njev", "success", "status", "message"):
        assert key in res_pot and key in res, key
        assert getattr(res, key) is res[key]
    assert res.x.shape == res_pot.x.shape == ((n,) if semi else (n + m,))
    assert res.jac.shape == res_pot.jac.shape
    assert isinstance(res.nit, int) and 0 < res.nit <= 500 and res.nfev >= res.nit
    assert isinstance(res.message, str) and res.message.startswith("CONVERGENCE")
    # x holds the potentials, jac the gradient of −(semi-)dual: the marginal violations
    np.testing.assert_array_equal(res.x[:n], log["alpha"])
    if not semi:
        np.testing.assert_array_equal(res.x[n:], log["beta"])
    np.testing.assert_allclose(res.jac[:n], T.sum(axis=1) - a, atol=1e-15)
    assert np.abs(res.jac).max() <= 2e-9
    # the optimality conditions, dual and semi-dual alike: T = [α_i + β_j − M_ij]_+ / reg
    np.testing.assert_allclose(T, np.maximum(log["alpha"][:, None] + log["beta"][None, :] - M, 0) / reg, rtol=1e-12, atol=1e-15)
    # at POT's defaults, the plans agree to POT's marginal error e_pot, and so do the potentials
    # once scaled by 1/reg (T = [α + β − M]_+ / reg; the l2 dual fixes them up to the shift
    # (α + c, β − c), which gradient steps from zero never take)
    e_pot = marginal_error(T_pot, a, b)
    assert np.abs(T - T_pot).max() <= e_pot
    assert np.abs(log["alpha"] - log_pot["alpha"]).max() <= reg * e_pot
    if not semi:
        assert np.abs(log["beta"] - log_pot["beta"]).max() <= reg * e_pot


def test_l2_plans_have_exact_zeros_and_keep_the_marginals():
    a, b, M = problem(30, 20, 11)
    for f in (smooth_ot_dual, smooth_ot_semi_dual):
        T = f(a, b, M, 0.05)
        assert np.all(T >= 0)
        assert (T == 0).mean() > 0.5, "the l2 plan is sparse (exact zeros)"
        np.testing.assert_allclose(T.sum(axis=1), a, atol=2e-9)
        np.testing.assert_allclose(T.sum(axis=0), b, atol=2e-9)
    entropic = reglab.ot.sinkhorn(a, b, M, 0.05)
    assert np.all(entropic > 0)


@pytest.mark.parametrize("n, m", [(40, 25), (12, 12)])
def test_sparsity_holds_on_kinks(n, m):
    # max_nz = 1 with n ≥ m rows: no plan with one non-zero per column meets the row marginals
    # (n > m) or only permutations do (n = m, non-uniform a, b: none). Both solvers stop without
    # converging; the plan keeps one non-zero per column, and the semi-dual's columns are exact.
    a, b, M = problem(n, m, 5)
    for semi in (False, True):
        f = smooth_ot_semi_dual if semi else smooth_ot_dual
        T, log = f(a, b, M, 0.1, reg_type="sparsity_constrained", max_nz=1, log=True)
        assert not log["converged"] and not log["res"].success and log["res"].status in (1, 2)
        assert np.all((T > 0).sum(axis=0) <= 1) and np.all(T >= 0)
        if semi:
            np.testing.assert_allclose(T.sum(axis=0), b, atol=1e-15)
        T_pot = pot(semi, a, b, M, 0.1, reg_type="sparsity_constrained", max_nz=1)
        assert np.all((T_pot > 0).sum(axis=0) <= 1)


@pytest.mark.parametrize("max_nz", [1, 2, 3, 6])
def test_column_sparsity_for_every_max_nz(max_nz):
    a, b, M = problem(18, 24, 6)
    for f in (smooth_ot_dual, smooth_ot_semi_dual):
        T = f(a, b, M, 0.5, reg_type="sparsity_constrained", max_nz=max_nz)
        assert (T > 0).sum(axis=0).max() <= max_nz
        assert np.all(T >= 0)


def test_large_max_nz_is_l2():
    a, b, M = problem(9, 14, 8)
    for f in (smooth_ot_dual, smooth_ot_semi_dual):
        l2 = f(a, b, M, 0.3)
        for k in (9, 50):
            assert np.array_equal(f(a, b, M, 0.3, reg_type="sparsity_constrained", max_nz=k), l2)


def test_sparse_is_the_semi_dual_with_reglabs_defaults():
    a, b, M = problem(20, 30, 50)
    T, log = reglab.ot.sparse(a, b, M, 0.1, 3, log=True)
    same = smooth_ot_semi_dual(a, b, M, 0.1, reg_type="sparsity_constrained", max_nz=3, numItermax=10_000)
    assert np.array_equal(T, same)
    assert log["converged"] and (T > 0).sum(axis=0).max() <= 3
    dual = reglab.ot.sparse(a, b, M, 0.1, 3, semi_dual=False)
    assert np.array_equal(dual, smooth_ot_dual(a, b, M, 0.1, reg_type="sparsity_constrained", max_nz=3, numItermax=10_000))
    # the same optimum (smooth here), from both formulations
    assert np.abs(dual - T).max() < 1e-8


def test_pots_positional_order_and_names():
    a, b, M = problem(10, 8, 9)
    # POT's semi-dual takes max_nz sixth, its dual takes it last
    x = smooth_ot_semi_dual(a, b, M, 0.2, "sparsity_constrained", 2)
    y = smooth_ot_dual(a, b, M, 0.2, "sparsity-constrained", "L-BFGS-B", 1e-9, 500, False, False, 2)
    assert (x > 0).sum(axis=0).max() <= 2 and (y > 0).sum(axis=0).max() <= 2
    assert np.array_equal(smooth_ot_dual(a, b, M, 0.2, reg_type="SquaredL2", method="l-bfgs-b"), smooth_ot_dual(a, b, M, 0.2))
    # both ways of reaching the module, as POT's `ot.smooth`
    assert reglab.ot.smooth.smooth_ot_dual is smooth_ot_dual and "smooth" in reglab.ot.__all__


def test_float32_lists_and_uniform():
    a, b, M = problem(7, 9, 10)
    u = smooth_ot_dual(np.full(7, 1 / 7), np.full(9, 1 / 9), M, 0.1)
    assert np.array_equal(smooth_ot_dual([], [], M, 0.1), u)
    assert np.array_equal(smooth_ot_dual(list(np.full(7, 1 / 7)), list(np.full(9, 1 / 9)), M.tolist(), 0.1), u)
    T32 = smooth_ot_semi_dual(a, b, M.astype(np.float32), 0.1)
    assert T32.dtype == np.float32
    assert np.abs(T32 - smooth_ot_semi_dual(a, b, M.astype(np.float32).astype(np.float64), 0.1)).max() < 1e-7


def test_zero_weights_give_zero_rows_and_columns():
    a, b, M = problem(6, 5, 12)
    a[2], b[4] = 0.0, 0.0
    a, b = a / a.sum(), b / b.sum()
    for f in (smooth_ot_dual, smooth_ot_semi_dual):
        T = f(a, b, M, 0.1, numItermax=10_000)
        assert np.all(T[2] == 0) and np.all(T[:, 4] == 0)
        np.testing.assert_allclose(T.sum(axis=1), a, atol=2e-9)


def test_verbose_prints_a_summary(capsys):
    a, b, M = problem(6, 5, 13)
    smooth_ot_dual(a, b, M, 0.1, verbose=True)
    out = capsys.readouterr().out
    assert "It." in out and "CONVERGENCE" in out
