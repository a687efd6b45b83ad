"""reglab.inspect against NumPy's SVD and the definitions (Roy–Vetterli effective rank,
orthogonality gap, sparsity, norms), and against `reglab inspect --json` on the same file."""

import json
import subprocess

import numpy as np
import pytest

import reglab
from _helpers import reglab_cli, write_safetensors


def state(seed=0):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((6, 9)).astype(np.float32)
    w[0, :4] = 0.0
    return {
        "fc.weight": w,
        "fc.bias": rng.standard_normal(6).astype(np.float32),
        "conv.weight": rng.standard_normal((4, 2, 3, 3)).astype(np.float32),
        "tall.weight": rng.standard_normal((12, 5)).astype(np.float32),
    }


def reference(w, w0=None):
    w = w.astype(np.float64)
    rec = {"sparsity": float((w == 0).mean()), "frobenius_norm": float(np.sqrt((w**2).sum()))}
    rec["distance_to_init"] = None if w0 is None else float(np.sqrt(((w - w0.astype(np.float64)) ** 2).sum()))
    if w.ndim >= 2:
        m = w.reshape(w.shape[0], -1)
        s = np.linalg.svd(m, compute_uv=False)
        p = s / s.sum()
        rec["sigma_max"] = s[0]
        rec["top_singular_values"] = s[:5]
        rec["effective_rank"] = float(np.exp(-(p[p > 0] * np.log(p[p > 0])).sum()))
        rec["orthogonality_gap"] = float(np.linalg.norm(m @ m.T - np.eye(m.shape[0])) / np.sqrt(m.shape[0]))
        rec["matrix"] = list(m.shape)
    return rec


def test_probes_match_numpy():
    sd, sd0 = state(0), state(1)
    rows = reglab.inspect(sd, init=sd0)
    assert [r["name"] for r in rows] == list(sd)  # the state_dict's order
    for r in rows:
        want = reference(sd[r["name"]], sd0[r["name"]])
        assert r["shape"] == list(sd[r["name"]].shape)
        assert r["non_finite"] == 0
        assert r["sparsity"] == want["sparsity"]
        assert r["frobenius_norm"] == pytest.approx(want["frobenius_norm"], rel=1e-12)
        assert r["distance_to_init"] == pytest.approx(want["distance_to_init"], rel=1e-12)
        if "sigma_max" not in want:
            assert r["matrix"] is None and r["sigma_max"] is None and r["effective_rank"] is None
            continue
        assert r["matrix"] == want["matrix"]
        assert r["sigma_max"] == pytest.approx(want["sigma_max"], rel=1e-9)
        assert np.allclose(r["top_singular_values"], want["top_singular_values"], rtol=1e-9)
        assert r["effective_rank"] == pytest.approx(want["effective_rank"], rel=1e-9)
        assert r["orthogonality_gap"] == pytest.approx(want["orthogonality_gap"], rel=1e-9)
    assert rows[0]["sparsity"] == 4 / 54


def test_torch_module_float64_and_integer_buffers():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.BatchNorm1d(4)).double()
    rows = reglab.inspect(model)
    names = [r["name"] for r in rows]
    assert "1.num_batches_tracked" not in names and names[:2] == ["0.weight", "0.bias"]
    w = model[0].weight.detach().numpy().astype(np.float32)
    assert rows[0]["sigma_max"] == pytest.approx(reference(w)["sigma_max"], rel=1e-9)
    assert rows[0]["distance_to_init"] is None
    assert reglab.inspect(model.state_dict()) == rows


def test_non_finite_entries():
    w = np.ones((3, 3), dtype=np.float32)
    w[1, 1] = np.nan
    (r,) = reglab.inspect({"w.weight": w})
    assert r["non_finite"] == 1 and r["sigma_max"] is None and r["sparsity"] == 0.0


@pytest.mark.skipif(reglab_cli() is None, reason="no reglab binary built (cargo build --release)")
def test_equals_the_command_line(tmp_path):
    sd, sd0 = state(2), state(3)
    write_safetensors(tmp_path / "w.safetensors", sd)
    write_safetensors(tmp_path / "w0.safetensors", sd0)
    cmd = [reglab_cli(), "inspect", str(tmp_path / "w.safetensors"), "--init", str(tmp_path / "w0.safetensors"), "--json"]
    cli = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    from_file = reglab.inspect(tmp_path / "w.safetensors", init=str(tmp_path / "w0.safetensors"))
    assert from_file == cli  # sorted by name, as the command line reads a file
    by_name = {r["name"]: r for r in reglab.inspect(sd, init=sd0)}
    assert [by_name[r["name"]] for r in cli] == cli


def test_bad_input(tmp_path):
    sd = state()
    with pytest.raises(ValueError, match="not a file"):
        reglab.inspect(tmp_path / "none.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(ValueError, match="bad.safetensors.*not a valid safetensors"):
        reglab.inspect(str(tmp_path / "bad.safetensors"))
    with pytest.raises(ValueError, match="no floating-point tensor"):
        reglab.inspect({})
    with pytest.raises(ValueError, match="shares no tensor name"):
        reglab.inspect(sd, init={"other": np.zeros(3, dtype=np.float32)})
    with pytest.raises(ValueError, match="fc.weight.*shape"):
        reglab.inspect(sd, init={"fc.weight": np.zeros((2, 2), dtype=np.float32)})
    with pytest.raises(TypeError, match="state_dict"):
        reglab.inspect(42)
    with pytest.raises(TypeError, match="dtype"):
        reglab.inspect({"x": np.array(["a", "b"])})
    # a scalar (a learned temperature) is a tensor like any other
    (r,) = reglab.inspect({"t": np.float32(-2.0)})
    assert r["shape"] == [] and r["frobenius_norm"] == 2.0 and r["matrix"] is None
