"""reglab.inverse.denoise_tv_chambolle against scikit-image on the same images.

Same iteration (Chambolle, τ = 1/4), same stopping rule on the energy, both in float64: the
results agree to rounding (1e-12; the README's `reglab denoise` check is the same). For float32
images scikit-image computes in float32 and we in float64, so they agree to float32's precision
over the iterations (1e-4), and the energy test may fire one iteration apart.
"""

import numpy as np
import pytest
from skimage import data, img_as_float
from skimage.restoration import denoise_tv_chambolle as skimage_tv

import reglab.inverse


def noisy(shape, seed, sigma=0.1):
    rng = np.random.default_rng(seed)
    rows, cols = shape
    x = ((np.arange(rows)[:, None] // 8 + np.arange(cols)[None, :] // 8) % 2).astype(np.float64)
    return x + sigma * rng.standard_normal(shape)


@pytest.mark.parametrize("shape", [(64, 48), (1, 30), (30, 1), (3, 3)])
@pytest.mark.parametrize("weight, eps, max_num_iter", [(0.1, 2e-4, 200), (0.3, 1e-3, 200), (0.05, 0.0, 40), (0.2, 1e-6, 500)])
def test_matches_scikit_image(shape, weight, eps, max_num_iter):
    y = noisy(shape, sum(shape))
    ours = reglab.inverse.denoise_tv_chambolle(y, weight=weight, eps=eps, max_num_iter=max_num_iter)
    theirs = skimage_tv(y, weight=weight, eps=eps, max_num_iter=max_num_iter)
    assert ours.dtype == np.float64 and ours.shape == y.shape
    assert np.abs(ours - theirs).max() < 1e-12


def test_defaults_on_a_real_image():
    y = img_as_float(data.camera()[::4, ::4])
    y = y + 0.05 * np.random.default_rng(0).standard_normal(y.shape)
    assert np.abs(reglab.inverse.denoise_tv_chambolle(y) - skimage_tv(y)).max() < 1e-12
    f = np.asfortranarray(y)
    assert np.array_equal(reglab.inverse.denoise_tv_chambolle(f), reglab.inverse.denoise_tv_chambolle(y))


def test_float32_and_channels():
    y = noisy((40, 30), 1).astype(np.float32)
    ours = reglab.inverse.denoise_tv_chambolle(y, weight=0.2)
    assert ours.dtype == np.float32
    assert np.abs(ours - skimage_tv(y, weight=0.2)).max() < 1e-4
    rgb = np.stack([noisy((20, 24), s) for s in range(3)], axis=-1)
    ours = reglab.inverse.denoise_tv_chambolle(rgb, weight=0.15, channel_axis=-1)
    assert np.abs(ours - skimage_tv(rgb, weight=0.15, channel_axis=-1)).max() < 1e-12
