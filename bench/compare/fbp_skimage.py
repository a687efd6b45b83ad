"""Reference values for the scikit-image fixture of crates/reglab-inverse/src/fbp.rs.

Run with the project's venv:  /work/venv-torch/bin/python bench/compare/fbp_skimage.py
(checked with scikit-image 0.26.0). The sinogram is a closed-form function of the angle index a
and detector bin k (the exact parallel projections of two disks), built identically by the Rust
test, so no file exchange is needed. Printed with repr() (17 significant digits), 11 per line.

Geometry (see fbp.rs): an N×N image with N odd and a detector of n_det bins, n_det odd, unit
spacing, so that scikit-image's centres (N // 2, n_det // 2) equal ours ((N − 1)/2,
(n_det − 1)/2); its back-projection coordinate `ypr cos θ − xpr sin θ` (xpr = row − N//2,
ypr = col − N//2) is our t = x cos θ + y sin θ with x = col − (N−1)/2, y = (N−1)/2 − row; the
angles are the same (θ_a = a·180°/K = a·π/K). `iradon` takes the sinogram as n_det × K, i.e.
the transpose of our K × n_det layout.
"""
import numpy as np
import skimage
from skimage.transform import iradon

N, N_DET, K = 11, 17, 12
# (centre x, centre y, radius, density) in our pixel coordinates (x right, y up).
DISKS = [(1.5, -0.75, 3.2, 1.0), (-2.25, 2.0, 1.7, 0.5)]


def sinogram():
    s = np.zeros((K, N_DET))
    for a in range(K):
        th = a * np.pi / K
        for k in range(N_DET):
            t = k - (N_DET - 1) / 2
            for cx, cy, r, rho in DISKS:
                u = t - (cx * np.cos(th) + cy * np.sin(th))
                if u * u < r * r:
                    s[a, k] += 2.0 * rho * np.sqrt(r * r - u * u)
    return s


s = sinogram()
theta = np.arange(K) * 180.0 / K
rec = iradon(s.T, theta=theta, filter_name="ramp", interpolation="linear", circle=False,
             output_size=N)
print("skimage", skimage.__version__)
vals = rec.ravel()
for i in range(0, len(vals), 11):
    print("    " + " ".join(f"{float(v)!r}," for v in vals[i:i + 11]))
