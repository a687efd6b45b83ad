"""reglab.penalty against independent NumPy formulas (README's regularizer table), finite
differences, and the `reglab penalty` command line on the same tensor.

Tolerances: reglab computes on float32 buffers and accumulates values in float64, so a value is
within a few float32 roundings of the float64 formula evaluated on the same (float32) entries:
relative 1e-6 for sums of squares, 1e-4 where a matrix product (WWᵀ) enters in float32. Gradients
are compared entry-wise against the formula's, relative to the gradient's largest entry.
"""

import json
import subprocess

import numpy as np
import pytest

import reglab
from _helpers import read_safetensors, reglab_cli, write_safetensors

RNG = np.random.default_rng(16)
SHAPES = [(7,), (5, 8), (8, 5), (4, 3, 3, 3)]


def weights(shape, dtype=np.float32, scale=0.5, seed=0):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(dtype)


def close(got, want, rtol):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    scale = max(np.abs(want).max(), 1e-30)
    assert np.abs(got - want).max() <= rtol * scale, f"max |got − want| = {np.abs(got - want).max()}, scale {scale}"


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_l2(shape, dtype):
    w = weights(shape, dtype)
    lam = 3e-2
    w64 = w.astype(np.float32).astype(np.float64)
    value, g = reglab.penalty(f"l2={lam}", w, grad=True)
    assert isinstance(value, float)
    assert g.shape == w.shape and g.dtype == w.dtype
    assert value == pytest.approx(lam / 2 * (w64**2).sum(), rel=1e-6)
    close(g, lam * w64, 1e-6)
    assert reglab.penalty(f"l2={lam}", w) == value


@pytest.mark.parametrize("shape", SHAPES)
def test_l2_init(shape):
    w, w0 = weights(shape, seed=1), weights(shape, seed=2)
    lam = 1e-2
    d = w.astype(np.float64) - w0.astype(np.float64)
    value, g = reglab.penalty(f"l2-init={lam}", w, w0, grad=True)
    assert value == pytest.approx(lam / 2 * (d**2).sum(), rel=1e-6)
    close(g, lam * d, 1e-6)
    assert reglab.penalty("l2-init=1", w, W0=w) == 0.0


@pytest.mark.parametrize("shape", SHAPES[1:])
def test_soft_orth(shape):
    # λ‖WWᵀ − I‖²_F on the matrix [out, in·kh·kw]; gradient 4λ(WWᵀ − I)W
    w = weights(shape, seed=3)
    lam = 1e-3
    m = w.reshape(shape[0], -1).astype(np.float64)
    e = m @ m.T - np.eye(shape[0])
    value, g = reglab.penalty(f"soft-orth={lam}", w, grad=True)
    assert value == pytest.approx(lam * (e**2).sum(), rel=1e-4)
    close(g.reshape(shape[0], -1), 4 * lam * e @ m, 1e-4)


def spectral_formula(m):
    u, s, vt = np.linalg.svd(m)
    return s[0], np.outer(u[:, 0], vt[0])


@pytest.mark.parametrize("shape", [(6, 9), (9, 6), (3, 2, 2, 2)])
def test_spectral_value_and_gradient_by_finite_differences(shape):
    # λ(σ_max² − 1)², gradient 4λσ(σ² − 1)·u vᵀ; the finite differences are of reglab's own value
    w = weights(shape, np.float64, scale=0.6, seed=4)
    lam = 0.5
    value, g = reglab.penalty(f"spectral={lam}", w, grad=True)
    m = w.astype(np.float32).astype(np.float64).reshape(shape[0], -1)
    s, uv = spectral_formula(m)
    assert value == pytest.approx(lam * (s**2 - 1) ** 2, rel=1e-5)
    close(g.reshape(shape[0], -1), 4 * lam * s * (s**2 - 1) * uv, 1e-4)
    # Central differences along random directions: the value is computed in float32, so the
    # step is large (h = 1e-2 of a unit direction) and the O(h²) truncation error is ~1e-4 of
    # the derivative; rounding (~1e-7·value/h) is below that.
    h = 1e-2
    for seed in range(3):
        d = np.random.default_rng(100 + seed).standard_normal(shape)
        d /= np.linalg.norm(d)
        fd = (reglab.penalty(f"spectral={lam}", w + h * d) - reglab.penalty(f"spectral={lam}", w - h * d)) / (2 * h)
        assert (g * d).sum() == pytest.approx(fd, rel=2e-3, abs=1e-4)


def test_spectral_entrywise_finite_differences_small():
    w = weights((3, 4), np.float64, scale=0.7, seed=5)
    _, g = reglab.penalty("spectral=1", w, grad=True)
    h = 1e-2
    fd = np.zeros_like(w)
    for idx in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[idx] = h
        fd[idx] = (reglab.penalty("spectral=1", w + e) - reglab.penalty("spectral=1", w - e)) / (2 * h)
    close(g, fd, 2e-3)


def test_sum_of_specs_and_memory_orders():
    w = weights((6, 5), np.float64, seed=6)
    w0 = weights((6, 5), np.float64, seed=7)
    specs = ["spectral=1e-2", "l2-init=1e-2", "soft-orth=1e-3"]
    total, g = reglab.penalty(specs, w, w0, grad=True)
    parts = [reglab.penalty(s, w, w0, grad=True) for s in specs]
    assert total == pytest.approx(sum(p[0] for p in parts), rel=1e-12)
    close(g, sum(p[1] for p in parts), 1e-6)
    # F-ordered and strided views give the same numbers as the C-ordered copy
    # (the value alone may differ from the value with the gradient in the last bits: some terms
    # accumulate it differently)
    value = reglab.penalty(specs, w, w0)
    assert value == pytest.approx(total, rel=1e-10)
    assert reglab.penalty(specs, np.asfortranarray(w), np.asfortranarray(w0)) == value
    big = np.zeros((12, 10))
    big[::2, ::2] = w
    assert reglab.penalty(specs, big[::2, ::2], w0) == value


@pytest.mark.skipif(reglab_cli() is None, reason="no reglab binary built (cargo build --release)")
@pytest.mark.parametrize(
    "specs, shape",
    [
        (["spectral=1e-3"], (40, 30)),
        (["l2-init=1e-2", "soft-orth=1e-4"], (8, 3, 3, 3)),
        (["wasserstein-init=0.1", "l2=0.5", "cs-binary=1"], (16, 12)),
        (["l1=1e-3", "mhe=1"], (10, 7)),
    ],
)
def test_equals_the_command_line(tmp_path, specs, shape):
    w, w0 = weights(shape, seed=8), weights(shape, seed=9)
    write_safetensors(tmp_path / "w.safetensors", {"weight": w})
    write_safetensors(tmp_path / "w0.safetensors", {"weight": w0})
    cmd = [reglab_cli(), "penalty", "--weights", str(tmp_path / "w.safetensors"), "--init", str(tmp_path / "w0.safetensors"), "--json"]
    cmd += [f"--reg={s}" for s in specs] + ["--grad-out", str(tmp_path / "g.safetensors")]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    value, g = reglab.penalty(specs, w, w0, grad=True)
    assert value == json.loads(out)["total"]
    assert np.array_equal(g, read_safetensors(tmp_path / "g.safetensors")["weight"])


# ---------------------------------------------------------------- proximal steps, by their optimality conditions
# x = prox_{s·r}(z) ⇔ 0 ∈ x − z + s·∂r(x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_prox_l1_is_the_soft_threshold(dtype):
    z = weights((20, 30), dtype, seed=4)
    lam, eta = 0.5, 0.3
    x = reglab.prox(f"l1={lam}", z, eta)
    assert x.dtype == dtype and x.shape == z.shape and not np.shares_memory(x, z)
    s = lam * eta
    r = z.astype(np.float64) - x
    nz = x != 0
    assert np.allclose(r[nz], s * np.sign(x[nz]), atol=1e-6)
    assert np.all(np.abs(z[~nz]) <= s + 1e-7) and (~nz).sum() > 50


def test_prox_elastic_net_and_group_lasso_optimality():
    z = weights((12, 9), seed=5).astype(np.float64)
    lam, eta, alpha = 0.8, 0.5, 0.3
    x = reglab.prox(f"elastic-net={lam}:alpha={alpha}", z.astype(np.float32), eta)
    s = lam * eta
    # x − z + s·((1 − α)x + α·∂|x|) ∋ 0
    r = z - x - s * (1 - alpha) * x
    nz = x != 0
    assert np.allclose(r[nz], s * alpha * np.sign(x[nz]), atol=1e-6)
    assert np.all(np.abs(r[~nz]) <= s * alpha + 1e-6)
    # group lasso on the rows: x_r = max(0, 1 − s/‖z_r‖)·z_r
    s = float(np.median(np.linalg.norm(z, axis=1)))
    x = reglab.prox("group-lasso=1", z.astype(np.float32), s)
    norms = np.linalg.norm(z, axis=1)
    for zr, xr, nr in zip(z, x, norms):
        want = max(0.0, 1 - s / nr) * zr
        assert np.allclose(xr, want, atol=1e-6)
    # in order, as in training: l1 then group lasso
    both = reglab.prox(["l1=0.1", "group-lasso=0.1"], z.astype(np.float32), 1.0)
    assert np.array_equal(both, reglab.prox("group-lasso=0.1", reglab.prox("l1=0.1", z.astype(np.float32), 1.0), 1.0))


def test_prox_bad_input():
    w = weights((4, 5))
    with pytest.raises(ValueError, match="`spectral=1` has no proximal step"):
        reglab.prox("spectral=1", w, 0.1)
    with pytest.raises(ValueError, match="step must be"):
        reglab.prox("l1=1", w, -1.0)
    with pytest.raises(ValueError, match="step must be"):
        reglab.prox("l1=1", w, float("nan"))
    with pytest.raises(ValueError, match="negative|λ"):
        reglab.prox("l1=-1", w, 0.1)
    with pytest.raises(ValueError, match="non-finite"):
        reglab.prox("l1=1", np.full((2, 2), np.inf, dtype=np.float32), 0.1)
    with pytest.raises(ValueError, match="group-lasso needs a matrix"):
        reglab.prox("group-lasso=1", weights((5,)), 0.1)
    assert np.array_equal(reglab.prox("l1=1", w, 0.0), w)
