#!/usr/bin/env python3
"""`reglab denoise` (TV, Chambolle's projection algorithm) vs scikit-image's
`denoise_tv_chambolle`, 1 thread each, on the same deterministic 16-bit PNG.

The test image: piecewise-constant shapes (rectangles, a disk, a triangle) in [0.1, 0.9] plus
seeded Gaussian noise (numpy default_rng(seed), σ), clipped to [0, 1], quantized to 16 bits and
saved as a 16-bit grayscale PNG under target/tv-compare/. Both solvers denoise exactly the
quantized values (scikit-image gets them as float64 in [0, 1]; reglab reads the PNG).

scikit-image, `denoise_tv_chambolle(y, weight=w, eps=0, max_num_iter=N, channel_axis=None)`, runs
N − 1 dual updates with step 1/4 and returns x (crates/reglab-inverse/src/tv.rs), so reglab runs
`reglab denoise noisy.png --reg tv=w --tau 0.25 --tol 0 --iters N-1 --bits 16 --out out.png`.

Prints the median time of each (scikit-image: the function call; reglab: the solver time it
prints, and the whole process including PNG reading/writing; with the Python package installed,
`reglab.inverse.denoise_tv_chambolle` called like scikit-image's, whose time over the solver's is
the cost of the binding), the ratio, and the PSNR of both outputs against the clean image. See bench/compare/README.md.
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse, pathlib, re, statistics, struct, subprocess, sys, time, zlib  # noqa: E401,E402

import numpy as np  # noqa: E402
import skimage  # noqa: E402
from skimage.restoration import denoise_tv_chambolle  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
OUT = TARGET / "tv-compare"


def clean_image(n):
    """Piecewise-constant n×n image in [0.1, 0.9]; shapes scale with n."""
    i, j = np.mgrid[0:n, 0:n] / n
    x = np.full((n, n), 0.1)
    x[(i > 0.1) & (i < 0.45) & (j > 0.1) & (j < 0.6)] = 0.6
    x[(i > 0.3) & (i < 0.85) & (j > 0.45) & (j < 0.9)] = 0.35
    x[(i - 0.7) ** 2 + (j - 0.25) ** 2 < 0.15**2] = 0.9
    x[(i > 0.55) & (j > 0.55) & (i - 0.55 < 0.3 - (j - 0.55))] = 0.75
    return x


def write_png16(path, img):
    """`img` in [0, 1] → 16-bit grayscale PNG (rounded); returns the quantized values / 65535."""
    q = np.round(np.clip(img, 0.0, 1.0) * 65535.0).astype(">u2")
    h, w = q.shape
    raw = b"".join(b"\x00" + q[r].tobytes() for r in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    path.write_bytes(png)
    return q.astype(np.float64) / 65535.0


def read_png16(path):
    """A 16-bit grayscale, non-interlaced PNG (as reglab writes it) → float64 in [0, 1]."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, idat, w, h = 8, b"", None, None
    while pos < len(data):
        (ln,) = struct.unpack(">I", data[pos : pos + 4])
        tag, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + ln]
        if tag == b"IHDR":
            w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert (depth, color, interlace) == (16, 0, 0), (depth, color, interlace)
        elif tag == b"IDAT":
            idat += body
        pos += 12 + ln
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, 1 + 2 * w)
    bpp, stride = 2, 2 * w
    out = np.zeros((h, stride), dtype=np.int64)
    prev = np.zeros(stride, dtype=np.int64)
    for r in range(h):  # undo the PNG filters
        f, line = raw[r, 0], raw[r, 1:].astype(np.int64)
        cur = np.zeros(stride, dtype=np.int64)
        for k in range(stride):
            a = cur[k - bpp] if k >= bpp else 0
            b, c = prev[k], (prev[k - bpp] if k >= bpp else 0)
            if f == 0:
                pred = 0
            elif f == 1:
                pred = a
            elif f == 2:
                pred = b
            elif f == 3:
                pred = (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[k] = (line[k] + pred) & 0xFF
        out[r], prev = cur, cur
    v = out[:, 0::2] * 256 + out[:, 1::2]
    return v.astype(np.float64) / 65535.0


def psnr(x, clean):
    return 10.0 * np.log10(1.0 / np.mean((x - clean) ** 2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reglab", default=str(TARGET / "release" / "reglab"))
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--sigma", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--weight", type=float, default=0.1, help="scikit-image weight = reglab λ")
    ap.add_argument("--iters", type=int, default=200, help="scikit-image max_num_iter N (reglab: N−1)")
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    if a.iters < 2:
        sys.exit("--iters must be ≥ 2")
    OUT.mkdir(parents=True, exist_ok=True)
    n = a.size
    clean = clean_image(n)
    rng = np.random.default_rng(a.seed)
    noisy = write_png16(OUT / "noisy.png", clean + a.sigma * rng.standard_normal((n, n)))
    out = OUT / "reglab.png"

    sk_times, x_sk = [], None
    for _ in range(a.repeats):
        t = time.perf_counter()
        x_sk = denoise_tv_chambolle(noisy, weight=a.weight, eps=0.0, max_num_iter=a.iters, channel_axis=None)
        sk_times.append(time.perf_counter() - t)

    cmd = [a.reglab, "denoise", str(OUT / "noisy.png"), "--reg", f"tv={a.weight!r}", "--tau", "0.25",
           "--tol", "0", "--iters", str(a.iters - 1), "--bits", "16", "--out", str(out)]
    rl_solver, rl_wall = [], []
    for _ in range(a.repeats):
        t = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        rl_wall.append(time.perf_counter() - t)
        if p.returncode != 0:
            sys.exit(f"reglab failed ({p.returncode}): {p.stderr.strip()}")
        rl_solver.append(float(re.search(r"seconds:\s*([0-9.eE+-]+)", p.stdout).group(1)))
        iters = int(re.search(r"iterations:\s*(\d+)", p.stdout).group(1))
        assert iters == a.iters - 1, p.stdout
    x_rl = read_png16(out)
    py_times, x_py = [], None
    try:
        import reglab.inverse
    except ImportError:
        reglab = None
    if reglab is not None:
        for _ in range(a.repeats):
            t = time.perf_counter()
            x_py = reglab.inverse.denoise_tv_chambolle(noisy, weight=a.weight, eps=0.0, max_num_iter=a.iters)
            py_times.append(time.perf_counter() - t)
    x_sk_q = np.round(np.clip(x_sk, 0.0, 1.0) * 65535.0) / 65535.0

    sk, rs, rw = (statistics.median(v) for v in (sk_times, rl_solver, rl_wall))
    print(f"image {n}×{n}, σ = {a.sigma}, seed {a.seed}; weight/λ = {a.weight}; "
          f"scikit-image {skimage.__version__} max_num_iter = {a.iters} ↔ reglab --iters {a.iters - 1} --tau 0.25 --tol 0; "
          f"{a.repeats} repeats, 1 thread")
    print("| | median s | ratio to scikit-image |")
    print("|---|---:|---:|")
    print(f"| scikit-image denoise_tv_chambolle | {sk:.4f} | 1.00 |")
    print(f"| reglab solver (printed `seconds`) | {rs:.4f} | {rs / sk:.2f} |")
    print(f"| reglab process (read + solve + write 16-bit PNG) | {rw:.4f} | {rw / sk:.2f} |")
    if py_times:
        py = statistics.median(py_times)
        print(f"| reglab.inverse.denoise_tv_chambolle from Python | {py:.4f} | {py / sk:.2f} |")
        print()
        print(f"Binding cost: Python call / solver time = {py / rs:.3f} ({(py / rs - 1) * 100:+.1f} %); "
              f"max |Python − scikit-image| = {np.max(np.abs(x_py - x_sk)):.3e}")
    print()
    print(f"PSNR vs clean: noisy {psnr(noisy, clean):.6f} dB")
    print(f"  scikit-image (float64)            {psnr(x_sk, clean):.9f} dB")
    print(f"  reglab (16-bit PNG)               {psnr(x_rl, clean):.9f} dB   "
          f"(Δ {psnr(x_rl, clean) - psnr(x_sk, clean):+.2e} dB)")
    print(f"  scikit-image quantized to 16 bits {psnr(x_sk_q, clean):.9f} dB   "
          f"(Δ reglab {psnr(x_rl, clean) - psnr(x_sk_q, clean):+.2e} dB)")
    print(f"max |reglab − scikit-image| = {np.max(np.abs(x_rl - x_sk)):.3e} (16-bit half step {0.5 / 65535:.3e}); "
          f"16-bit values differing: {int(np.sum(x_rl != x_sk_q))} of {n * n}")


if __name__ == "__main__":
    main()
