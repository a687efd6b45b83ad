#!/usr/bin/env python3
"""reglab's Sinkhorn vs POT's ot.sinkhorn (method='sinkhorn', NumPy backend), 1 thread each.

Runs POT on the problems of crates/reglab-ot/benches/sinkhorn.rs (same splitmix64 points, same
cost, ε, stopThr, numItermax), then `cargo bench -p reglab-ot --bench sinkhorn` with POT's
iteration counts, then reads criterion's estimates and prints a markdown table. With --python
(the package installed: `pip install .`), also times `reglab.ot.sinkhorn` called like POT's with
the same iteration budget, whose time over criterion's is the cost of the binding. See
bench/compare/README.md.
"""
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse, json, pathlib, platform, statistics, subprocess, sys, time  # noqa: E401,E402

import numpy as np  # noqa: E402
import ot  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
OUT = TARGET / "sinkhorn-compare"
MASK = (1 << 64) - 1


def cloud(seed, n):
    """n points in [0,1)^2 from splitmix64 (as the Rust bench), coordinates row by row."""
    s, out = seed, np.empty(2 * n)
    for k in range(2 * n):
        s = (s + 0x9E3779B97F4A7C15) & MASK
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        out[k] = (z >> 11) / float(1 << 53)
    return out.reshape(n, 2)


def problem(n):
    X, Y = cloud(1, n), cloud(2, n)
    # Coordinate-wise, bit-identical to reglab's sq_euclidean (ot.dist goes through
    # |x|^2 + |y|^2 - 2<x, y> and differs by ~1e-16; the difference is printed).
    M = ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
    return X, Y, M


def run_pot(n, eps, reps):
    X, Y, M = problem(n)
    dist_diff = float(np.abs(ot.dist(X, Y, metric="sqeuclidean") - M).max())
    a, b = ot.unif(n), ot.unif(n)

    def solve():
        return ot.sinkhorn(a, b, M, eps, method="sinkhorn", stopThr=1e-9, numItermax=10000, log=True)

    _, log = solve()  # warm-up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        solve()
        times.append(time.perf_counter() - t)
    return {
        "n": n,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "times_s": times,
        "niter": int(log["niter"]),
        "iterations": int(log["niter"]) + 1,  # POT's niter is the last 0-based index ii
        "err": float(log["err"][-1]),
        "ot_dist_diff": dist_diff,
    }


def criterion_stats(n):
    d = TARGET / "criterion" / "sinkhorn" / "reglab" / str(n) / "new"
    est = json.loads((d / "estimates.json").read_text())
    sample = json.loads((d / "sample.json").read_text())
    best = min(t / i for t, i in zip(sample["times"], sample["iters"]))
    return est["median"]["point_estimate"] * 1e-9, best * 1e-9


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="500,2000,5000")
    p.add_argument("--eps", type=float, default=0.05)
    p.add_argument("--reps", type=int, default=0, help="POT repetitions (default 11/7/5 by size)")
    p.add_argument("--no-cargo", action="store_true", help="only report from existing criterion results")
    p.add_argument("--cargo-args", default="", help="extra args after `--` for the bench, e.g. '--quick'")
    p.add_argument("--python", action="store_true", help="also time reglab.ot.sinkhorn from Python")
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    print(f"POT {ot.__version__}, numpy {np.__version__}, python {platform.python_version()}, "
          f"{platform.machine()}, threads: OMP/OPENBLAS/MKL=1, eps={args.eps}", file=sys.stderr)
    pot = {}
    for n in sizes:
        reps = args.reps or (11 if n <= 1000 else 7 if n <= 3000 else 5)
        pot[n] = r = run_pot(n, args.eps, reps)
        print(f"POT n={n}: median {r['median_s']:.4f} s over {reps}, iterations {r['iterations']} "
              f"(niter {r['niter']}), err {r['err']:.3e}, |ot.dist - M|max {r['ot_dist_diff']:.1e}",
              file=sys.stderr)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "pot.json").write_text(json.dumps(pot, indent=1))

    if not args.no_cargo:
        env = dict(os.environ, SINKHORN_SIZES=args.sizes, SINKHORN_EPS=repr(args.eps),
                   SINKHORN_POT_ITERS=",".join(f"{n}:{pot[n]['iterations']}" for n in sizes))
        cmd = ["cargo", "bench", "-p", "reglab-ot", "--bench", "sinkhorn", "--", "sinkhorn/"]
        cmd += args.cargo_args.split()
        print("+", " ".join(cmd), file=sys.stderr)
        subprocess.run(cmd, cwd=ROOT, env=env, check=True)

    py = {}
    if args.python:
        import reglab.ot

        for n in sizes:
            X, Y, M = problem(n)
            a, b = np.full(n, 1.0 / n), np.full(n, 1.0 / n)
            reps = args.reps or (11 if n <= 1000 else 7 if n <= 3000 else 5)

            def solve():
                return reglab.ot.sinkhorn(a, b, M, args.eps, numItermax=pot[n]["iterations"], stopThr=1e-9, log=True, warn=False)

            _, lg = solve()
            times = []
            for _ in range(reps):
                t = time.perf_counter()
                solve()
                times.append(time.perf_counter() - t)
            py[n] = (statistics.median(times), int(lg["niter"]))

    print(f"\nε = {args.eps}, stopThr = tol = 1e-9, squared Euclidean cost on uniform [0,1)² points, 1 thread\n")
    print("| n | reglab median | POT median | POT / reglab | iterations reglab / POT | "
          "final err reglab (ℓ2) / POT | reglab eff. bandwidth (best run) |")
    print("|---|---|---|---|---|---|---|")
    ok = True
    for n in sizes:
        rg = json.loads((OUT / f"reglab-{n}.json").read_text())
        med, best = criterion_stats(n)
        it, pit = rg["iterations"], pot[n]["iterations"]
        ok &= it == pit
        bw = 2 * n * n * 8 * it / best / 1e9
        print(f"| {n:,} | {med * 1e3:.1f} ms | {pot[n]['median_s'] * 1e3:.1f} ms | "
              f"{pot[n]['median_s'] / med:.2f} | {it} / {pit}{'' if it == pit else ' MISMATCH'} | "
              f"{rg['row_err_l2']:.2e} / {pot[n]['err']:.2e} | {bw:.1f} GB/s |")
    if py:
        print("\n| n | reglab (criterion) | reglab.ot.sinkhorn from Python | Python / criterion | iterations |")
        print("|---|---:|---:|---:|---:|")
        for n in sizes:
            med, _ = criterion_stats(n)
            print(f"| {n:,} | {med * 1e3:.1f} ms | {py[n][0] * 1e3:.1f} ms | {py[n][0] / med:.3f} | {py[n][1]} |")
    print("\nBandwidth: 2 reads of K (n·m·8 bytes) per iteration over the best run's time per iteration "
          "(whole solve / iterations). reglab's fused loop physically reads K once per iteration.")
    if not ok:
        print("ITERATION COUNTS DIFFER", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
