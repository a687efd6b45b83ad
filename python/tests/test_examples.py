"""The Python examples run and show what they claim (MNIST from REGLAB_DATA)."""

import importlib.util
import os
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]
MNIST = Path(os.environ.get("REGLAB_DATA", ROOT.parent / "shared" / "data")) / "mnist"


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / "python" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not (MNIST / "train-images-idx3-ubyte.gz").is_file() and not os.environ.get("CI"), reason="MNIST not found (set REGLAB_DATA)")
def test_plasticity_example_loses_plasticity_without_and_keeps_it_with_spectral():
    ex = load("plasticity_mnist")
    torch.set_num_threads(1)
    x = torch.from_numpy(ex.read_idx_images(MNIST / "train-images-idx3-ubyte.gz", 1000))
    none = ex.train_arm(ex.ARMS["none"], x, tasks=8, epochs=20, batch=64, seed=0)
    spectral = ex.train_arm(ex.ARMS["spectral"], x, tasks=8, epochs=20, batch=64, seed=0)
    # both fit the first random labelling; by task 8 only the regularized network still can
    assert none[0] > 0.9 and spectral[0] > 0.9
    assert none[-1] < 0.7, none
    assert spectral[-1] > 0.9, spectral


def test_ot_snippet_runs_and_matches_pot(capsys):
    pytest.importorskip("ot")
    load("ot_sinkhorn")
    out = capsys.readouterr().out
    diff = float(out.split("max |T_reglab − T_POT| = ")[1].split()[0])
    assert diff < 1e-9, out
