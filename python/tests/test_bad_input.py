"""Bad input: a TypeError or ValueError with a message that says what is wrong, never a crash
or a PanicException."""

import numpy as np
import pytest

import reglab
import reglab.inverse
import reglab.ot

W = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: reglab.penalty("l2=1", W.astype(np.int64)), TypeError, "float32 or float64"),
        (lambda: reglab.penalty("l2=1", W.astype(np.float16)), TypeError, "float32 or float64"),
        (lambda: reglab.penalty("l2=1", W.astype(np.complex128)), TypeError, "float32 or float64"),
        (lambda: reglab.penalty("l2=1", "not an array"), TypeError, "float32 or float64"),
        (lambda: reglab.penalty("l2=1", np.float32(1.0)), ValueError, "1 to 4 dimensions"),
        (lambda: reglab.penalty("l2=1", np.zeros((2, 2, 2, 2, 2), np.float32)), ValueError, "1 to 4 dimensions"),
        (lambda: reglab.penalty("l2=1", np.zeros((0, 3), np.float32)), ValueError, "empty"),
        (lambda: reglab.penalty("l2=1", np.where(W > 0, np.nan, W)), ValueError, "non-finite value \\(NaN\\)"),
        (lambda: reglab.penalty("l2=1", np.where(W > 0, np.inf, W)), ValueError, "non-finite value \\(inf\\)"),
        (lambda: reglab.penalty("l2=1", np.full((2, 2), 1e300)), ValueError, "beyond float32's range"),
        (lambda: reglab.penalty("l2-init=1", W, np.where(W > 0, np.nan, W)), ValueError, "W0 has a non-finite"),
        (lambda: reglab.penalty("l2-init=1", W, W.T), ValueError, "W0 has shape \\(3, 4\\), W has \\(4, 3\\)"),
        (lambda: reglab.penalty("l2-init=1", W), ValueError, "needs the initial weights: pass W0"),
        (lambda: reglab.penalty("l2=-1", W), ValueError, "non-negative"),
        (lambda: reglab.penalty("l2=nan", W), ValueError, "l2=nan"),
        (lambda: reglab.penalty("l3=1", W), ValueError, "unknown regularizer `l3`"),
        (lambda: reglab.penalty("spectral", W), ValueError, "spectral"),
        (lambda: reglab.penalty("spectral=1:bogus=2", W), ValueError, "bogus"),
        (lambda: reglab.penalty("spectral=1", W[0]), ValueError, "1-D"),
        (lambda: reglab.penalty("label-smoothing=0.1", W), ValueError, "logits"),
        (lambda: reglab.penalty("mixup=0.2", W), ValueError, "training batches"),
        (lambda: reglab.penalty([], W), ValueError, "at least one"),
        (lambda: reglab.penalty(3, W), TypeError, "spec must be a string"),
        (lambda: reglab.penalty(["l2=1", 2], W), TypeError, "spec must be a string"),
    ],
)
def test_penalty(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


A, B = np.full(3, 1 / 3), np.full(4, 1 / 4)
M = np.random.default_rng(1).random((3, 4))


OT_SOLVERS = {
    "sinkhorn": reglab.ot.sinkhorn,
    "sinkhorn_log": reglab.ot.sinkhorn_log,
    "smooth_ot_dual": reglab.ot.smooth.smooth_ot_dual,
    "smooth_ot_semi_dual": reglab.ot.smooth.smooth_ot_semi_dual,
    "sparsity_dual": lambda a, b, M, reg, **kw: reglab.ot.smooth.smooth_ot_dual(a, b, M, reg, reg_type="sparsity_constrained", max_nz=2, **kw),
    "sparse": lambda a, b, M, reg, **kw: reglab.ot.sparse(a, b, M, reg, 2, **kw),
    "class_ot": lambda a, b, M, reg, **kw: reglab.ot.class_ot(a, [0, 1, 0], b, M, reg, **kw),
}
POSITIVE_REG = [k for k in OT_SOLVERS if k != "class_ot"]


@pytest.mark.parametrize("solver", OT_SOLVERS)
@pytest.mark.parametrize(
    "args, kwargs, exc, match",
    [
        ((2 * A, B, M, 0.1), {}, ValueError, "a sums to 2.0.*summing to 1"),
        ((A, B / 2, M, 0.1), {}, ValueError, "b sums to 0.5"),
        ((A, np.array([0.5, 0.5, 1e-7, 0.0]), M, 0.1), {}, ValueError, "different mass"),
        ((np.array([0.5, 0.7, -0.2]), B, M, 0.1), {}, ValueError, "negative weight at index 2"),
        ((np.array([0.5, np.nan, 0.5]), B, M, 0.1), {}, ValueError, "non-finite weight at index 1"),
        ((A, B, np.where(M > 0.5, np.inf, M), 0.1), {}, ValueError, "non-finite"),
        ((A, B, np.where(M > 0.5, np.nan, M), 0.1), {}, ValueError, "non-finite"),
        ((A, B, M.T, 0.1), {}, ValueError, "a has 3 weights but M has 4 rows"),
        ((A, np.full(3, 1 / 3), M, 0.1), {}, ValueError, "b has 3 weights but M has 4 columns"),
        ((A, np.full((4, 2), 1 / 4), M, 0.1), {}, ValueError, "several target histograms"),
        ((A, B, M[0], 0.1), {}, ValueError, "M must be 2-D"),
        ((A, B, M.astype(str), 0.1), {}, TypeError, "M must be a real"),
        ((A, B, M, "x"), {}, TypeError, "numbers"),
        ((A, B, M, 0.1), {"numItermax": 0}, ValueError, "numItermax"),
        ((A, B, M, 0.1), {"numItermax": -3}, ValueError, "numItermax"),
        ((A, B, M, 0.1), {"numItermax": 2.5}, ValueError, "numItermax"),
        ((A, B, M, 0.1), {"stopThr": -1.0}, ValueError, "stopThr|tol"),
    ],
)
def test_ot(solver, args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        OT_SOLVERS[solver](*args, **kwargs)


@pytest.mark.parametrize("solver", POSITIVE_REG)
@pytest.mark.parametrize("reg", [0.0, -1.0, np.nan, np.inf])
def test_ot_reg_must_be_positive(solver, reg):
    with pytest.raises(ValueError, match="regularization"):
        OT_SOLVERS[solver](A, B, M, reg)


SMOOTH = [reglab.ot.smooth.smooth_ot_dual, reglab.ot.smooth.smooth_ot_semi_dual]


@pytest.mark.parametrize("solver", SMOOTH, ids=["dual", "semi_dual"])
@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"reg_type": "l1"}, ValueError, "Unknown reg_type 'l1'"),
        ({"reg_type": 2}, TypeError, "reg_type must be a string"),
        ({"reg_type": "kl"}, ValueError, "'kl' \\(entropic\\) is not supported.*reglab.ot.sinkhorn"),
        ({"reg_type": "entropic"}, ValueError, "not supported"),
        ({"reg_type": "sparsity_constrained"}, ValueError, "needs max_nz"),
        ({"reg_type": "sparsity_constrained", "max_nz": 0}, ValueError, "max_nz must be at least 1"),
        ({"reg_type": "sparsity_constrained", "max_nz": -2}, ValueError, "max_nz must be at least 1"),
        ({"reg_type": "sparsity_constrained", "max_nz": 2.0}, ValueError, "max_nz 2.0 must be an integer"),
        ({"reg_type": "sparsity_constrained", "max_nz": True}, ValueError, "must be an integer"),
        ({"method": "BFGS"}, ValueError, "Unknown method 'BFGS'"),
        ({"method": None}, ValueError, "Unknown method"),
    ],
)
def test_smooth_options(solver, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        solver(A, B, M, 0.1, **kwargs)


@pytest.mark.parametrize("max_nz", [0, None, 1.5])
def test_sparse_needs_max_nz(max_nz):
    with pytest.raises(ValueError, match="max_nz"):
        reglab.ot.sparse(A, B, M, 0.1, max_nz)


@pytest.mark.parametrize(
    "labels, kwargs, exc, match",
    [
        ([0, 1], {}, ValueError, "labels_a has 2 labels but M has 3 rows"),
        ([0, 1, 2, 0], {}, ValueError, "labels_a has 4 labels"),
        ([0, -1, 1], {}, ValueError, "negative label -1 at index 1.*unlabelled"),
        ([[0, 1, 0]], {}, ValueError, "labels_a must be 1-D"),
        ([0.0, 0.5, 1.0], {}, ValueError, "must hold integers, got 0.5 at index 1"),
        ([0.0, np.nan, 1.0], {}, ValueError, "must hold integers, got nan at index 1"),
        (["x", "y", "x"], {}, TypeError, "integer class labels"),
        ([True, False, True], {}, TypeError, "integer class labels"),
        ([0, 1, 0], {"reg": -1.0}, ValueError, "reg must be finite and ≥ 0"),
        ([0, 1, 0], {"reg": np.nan}, ValueError, "reg must be finite and ≥ 0"),
        ([0, 1, 0], {"gapThr": -1.0}, ValueError, "gapThr"),
        ([0, 1, 0], {"gapThr": "x"}, TypeError, "numbers"),
    ],
)
def test_class_ot(labels, kwargs, exc, match):
    kwargs = {"reg": 0.1, **kwargs}
    with pytest.raises(exc, match=match):
        reglab.ot.class_ot(A, labels, B, M, **kwargs)


def test_ot_unknown_method_and_underflow():
    with pytest.raises(ValueError, match="Unknown method"):
        reglab.ot.sinkhorn(A, B, M, 0.1, method="greenkhorn")
    # exp(−M/reg) underflows for every entry of a row: plain Sinkhorn fails, the log domain works
    big = 1000.0 + M
    with pytest.raises(FloatingPointError, match="sinkhorn_log"):
        reglab.ot.sinkhorn(A, B, big, 1e-3)
    plan = reglab.ot.sinkhorn_log(A, B, big, 1e-3, numItermax=5000)
    assert np.allclose(plan.sum(axis=1), A, atol=1e-8)


IMG = np.random.default_rng(2).random((8, 9))


@pytest.mark.parametrize(
    "args, kwargs, exc, match",
    [
        ((IMG.astype(np.uint8),), {}, TypeError, "float array"),
        ((IMG[0],), {}, ValueError, "2-D"),
        ((np.stack([IMG, IMG]),), {}, ValueError, "channel_axis"),
        ((IMG,), {"channel_axis": 0}, ValueError, "3-D"),
        ((np.zeros((0, 3)),), {}, ValueError, "empty"),
        ((np.where(IMG > 0.5, np.nan, IMG),), {}, ValueError, "non-finite"),
        ((IMG,), {"weight": 0.0}, ValueError, "weight"),
        ((IMG,), {"weight": -0.1}, ValueError, "weight"),
        ((IMG,), {"eps": -1e-3}, ValueError, "eps"),
        ((IMG,), {"max_num_iter": 0}, ValueError, "max_num_iter"),
        ((IMG,), {"max_num_iter": 2.5}, ValueError, "max_num_iter"),
        ((IMG,), {"weight": "x"}, TypeError, "numbers"),
    ],
)
def test_denoise(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        reglab.inverse.denoise_tv_chambolle(*args, **kwargs)


@pytest.mark.parametrize(
    "args, kwargs, exc, match",
    [
        ((IMG, -0.1), {}, ValueError, "weight must be finite and ≥ 0"),
        ((IMG, np.where(IMG > 0.5, np.nan, 0.1)), {}, ValueError, "weight must be finite and ≥ 0 everywhere, got nan"),
        ((IMG, np.full((8, 9), -1.0)), {}, ValueError, "got -1.0 at \\(0, 0\\)"),
        ((IMG, np.zeros((9, 8))), {}, ValueError, "weight has shape \\(9, 8\\), image has \\(8, 9\\)"),
        ((IMG, "x"), {}, TypeError, "weight must be a number"),
        ((IMG, np.array(["a"])), {}, TypeError, "weight must be a number or a float array"),
        ((np.where(IMG > 0.5, np.inf, IMG), 0.1), {}, ValueError, "non-finite"),
        ((IMG.astype(np.int64), 0.1), {}, TypeError, "float array"),
        ((np.zeros((0, 4)), 0.1), {}, ValueError, "empty"),
        ((IMG[0], 0.1), {}, ValueError, "2-D"),
        ((IMG, 0.1), {"channel_axis": 0}, ValueError, "3-D"),
        ((np.stack([IMG, IMG]), np.ones((2, 8))), {"channel_axis": 0}, ValueError, "each channel has \\(8, 9\\)"),
        ((IMG, 0.1), {"eps": -1.0}, ValueError, "eps must be finite"),
        ((IMG, 0.1), {"eps": np.nan}, ValueError, "eps must be finite"),
        ((IMG, 0.1), {"max_num_iter": 0}, ValueError, "max_num_iter"),
    ],
)
def test_denoise_weighted(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        reglab.inverse.denoise_tv_weighted(*args, **kwargs)


SINO = np.random.default_rng(3).random((8, 5))


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: reglab.inverse.radon(IMG, theta=[0, np.nan], circle=False), ValueError, "theta: non-finite value NaN"),
        (lambda: reglab.inverse.radon(IMG, theta=[]), ValueError, "theta is empty"),
        (lambda: reglab.inverse.radon(IMG, theta=[[0, 1]]), ValueError, "theta must be 1-D"),
        (lambda: reglab.inverse.radon(IMG, theta=5), ValueError, "theta must be 1-D"),
        (lambda: reglab.inverse.radon(IMG, theta=["a"]), TypeError, "theta must be angles"),
        (lambda: reglab.inverse.radon(IMG[0]), ValueError, "2-D"),
        (lambda: reglab.inverse.radon(np.zeros((0, 3))), ValueError, "empty"),
        (lambda: reglab.inverse.radon(np.where(IMG > 0.5, np.nan, 0), circle=False), ValueError, "image: non-finite value NaN"),
        (lambda: reglab.inverse.radon(IMG.astype(np.int32)), TypeError, "float array"),
        (lambda: reglab.inverse.iradon(SINO, theta=np.arange(4)), ValueError, "does not match the number of projections"),
        (lambda: reglab.inverse.iradon(SINO, filter_name="cosine"), ValueError, "unknown filter_name 'cosine'"),
        (lambda: reglab.inverse.iradon(SINO, filter_name=None), ValueError, "unknown filter_name None"),
        (lambda: reglab.inverse.iradon(SINO, interpolation="cubic"), ValueError, "interpolation must be 'linear'"),
        (lambda: reglab.inverse.iradon(SINO, output_size=0), ValueError, "output_size"),
        (lambda: reglab.inverse.iradon(SINO, output_size=10**6), ValueError, "too large to allocate"),
        (lambda: reglab.inverse.iradon(np.where(SINO > 0.5, np.nan, SINO)), ValueError, "non-finite"),
        (lambda: reglab.inverse.iradon(SINO, theta=[0, 1, 2, 3, np.inf]), ValueError, "theta: non-finite"),
        (lambda: reglab.inverse.radon_adjoint(SINO, circle=False), ValueError, "give the image shape"),
        (lambda: reglab.inverse.radon_adjoint(SINO, shape=(9, 9)), ValueError, "has 9 bins, the sinogram has 8"),
        (lambda: reglab.inverse.radon_adjoint(SINO, shape=(10**6, 10**6), circle=False), ValueError, "has 1414214 bins"),
        (lambda: reglab.inverse.radon_adjoint(SINO, shape=(0, 8)), ValueError, "shape must be positive"),
        (lambda: reglab.inverse.radon_adjoint(SINO, shape=(8,)), TypeError, "shape must be \\(rows, cols\\)"),
        (lambda: reglab.inverse.radon_adjoint(SINO, theta=[0, 1]), ValueError, "5 projections and theta 2 angles"),
        (lambda: reglab.inverse.reconstruct_tv(SINO, None, -1.0), ValueError, "weight must be finite and ≥ 0"),
        (lambda: reglab.inverse.reconstruct_tv(SINO, None, np.nan), ValueError, "weight must be finite and ≥ 0"),
        (lambda: reglab.inverse.reconstruct_tv(SINO, None, np.ones((3, 3))), ValueError, "the reconstruction has \\(8, 8\\)"),
        (lambda: reglab.inverse.reconstruct_tv(SINO, None, -np.ones((8, 8))), ValueError, "everywhere"),
        (lambda: reglab.inverse.reconstruct_tv(SINO, np.arange(3), 0.1), ValueError, "5 projections and theta 3 angles"),
        (lambda: reglab.inverse.reconstruct_tv(SINO, None, 0.1, max_num_iter=0), ValueError, "max_num_iter"),
        (lambda: reglab.inverse.reconstruct_tv(SINO, None, 0.1, eps=-1), ValueError, "eps"),
        (lambda: reglab.inverse.reconstruct_tv(np.where(SINO > 0.5, np.inf, SINO), None, 0.1), ValueError, "the sinogram: non-finite"),
        (lambda: reglab.inverse.reconstruct_tv(SINO, None, 0.1, output_size=10**6), ValueError, "too large to allocate"),
    ],
)
def test_tomography(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
