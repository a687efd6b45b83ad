"""Reference values for crates/reglab-inverse/src/metrics.rs (PSNR and SSIM).

Run with the project's venv:  /work/venv-torch/bin/python bench/compare/metrics_skimage.py
The images are closed-form functions of the pixel indices (i, j), built identically by the
Rust tests, so no file exchange is needed.  Printed with repr() (17 significant digits).
"""
import numpy as np
import skimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def from_fn(rows, cols, f):
    i, j = np.meshgrid(np.arange(rows, dtype=np.float64), np.arange(cols, dtype=np.float64),
                       indexing="ij")
    return f(i, j)


def pattern(i, j):
    return 0.5 + 0.4 * np.sin(0.3 * i) * np.cos(0.2 * j) + 0.01 * i


def perturbed(i, j):
    return pattern(i, j) + 0.05 * np.sin(1.7 * i + 2.3 * j)


def steps(i, j):
    # piecewise constant, exact in floating point: ((i*j + 3i) mod 7) / 6
    return np.mod(i * j + 3 * i, 7) / 6.0


def steps_noisy(i, j):
    return steps(i, j) + 0.1 * np.cos(0.9 * i - 1.3 * j)


CASES = {
    "pattern_24x20": (24, 20, pattern, perturbed),
    "steps_32x27": (32, 27, steps, steps_noisy),
    "min_11x13": (11, 13, pattern, steps),
}

print("skimage", skimage.__version__)
for name, (r, c, f, g) in CASES.items():
    x = from_fn(r, c, f)
    y = from_fn(r, c, g)
    for dr in (1.0, 2.0, 0.5):
        s, S = structural_similarity(x, y, data_range=dr, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False, full=True)
        p = peak_signal_noise_ratio(y, x, data_range=dr)
        print(f"{name} dr={dr}: ssim={float(s)!r} psnr={float(p)!r} "
              f"S[0,0]={float(S[0, 0])!r} S[5,7]={float(S[5, 7])!r} S[-1,-2]={float(S[-1, -2])!r} sumS={float(S.sum())!r}")
