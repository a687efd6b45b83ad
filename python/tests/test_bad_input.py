"""Bad input: a TypeError or ValueError with a message that says what is wrong, never a crash
or a PanicException."""

import numpy as np
import pytest

import reglab

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
