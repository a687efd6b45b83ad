#!/usr/bin/env python3
"""PyTorch counterpart of the lab's random-label plasticity setting, for the training-loop speed
row of BENCHMARKS.md (issue 22): one network per arm trained through a stream of tasks whose
labels are redrawn at random, on one thread.

Setting (the reglab side: experiments/plasticity-random-label.toml with the --set values printed
by --reglab-command): MNIST, the first --subset training images scaled to [0, 1]; MLP 784-256-256-10
(nn.Linear, ReLU, PyTorch's default init); Adam lr 1e-3 (β = 0.9, 0.999, ε = 1e-8); batch 64,
reshuffled every epoch; --epochs epochs per task; --tasks tasks; cross-entropy. Arms:
  none      plain training
  l2-init   + λ·½‖W − W₀‖² over the three layer weights (λ = 1e-2)
  spectral  + λ·(σ_max([W | b])² − 1)² per layer with one power-iteration step per training step
            (persistent u, v; bench/compare/penalties.py's Penalty), λ = 1e-2
Each arm reports its training seconds (the epochs alone) and, separately, the end-of-task
evaluation (train accuracy on the task's labels), plus the fraction of Adam's state that is
subnormal at the end (nonzero |x| < 1.18e-38) — the suspected cause of the slow `none` arm.

--flush-denormal calls torch.set_flush_denormal(True) (flush-to-zero / denormals-are-zero).

Run by hand (see README.md):
  .venv/bin/python bench/compare/plasticity_torch.py [--tasks 30] [--epochs 20] [--subset 1000]
"""

import argparse
import gzip
import os
import platform
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from penalties import Penalty  # noqa: E402


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return torch.frombuffer(bytearray(data[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)


def subnormal_fraction(opt):
    tiny = torch.finfo(torch.float32).tiny
    sub = total = 0
    for st in opt.state.values():
        for k in ("exp_avg", "exp_avg_sq"):
            t = st[k]
            a = t.abs()
            sub += int(((a > 0) & (a < tiny)).sum())
            total += t.numel()
    return sub / max(total, 1)


def run_arm(arm, x, args):
    torch.manual_seed(args.seed)
    net = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    linears = [m for m in net if isinstance(m, nn.Linear)]
    init = [m.weight.detach().clone() for m in linears]
    pen = None
    if arm == "spectral":
        pen = Penalty("spectral", [(m.weight, m.bias, None) for m in linears], args.lam)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    g = torch.Generator().manual_seed(args.seed + 1)
    n = x.shape[0]
    train_s = eval_s = 0.0
    accs = []
    for task in range(args.tasks):
        y = torch.randint(0, 10, (n,), generator=g)
        t0 = time.perf_counter()
        for _ in range(args.epochs):
            perm = torch.randperm(n, generator=g)
            for s in range(0, n, args.batch):
                idx = perm[s:s + args.batch]
                loss = F.cross_entropy(net(x[idx]), y[idx])
                if arm == "l2-init":
                    loss = loss + args.lam * sum(0.5 * ((m.weight - w0) ** 2).sum() for m, w0 in zip(linears, init))
                elif pen is not None:
                    loss = loss + pen()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        t1 = time.perf_counter()
        with torch.no_grad():
            accs.append(float((net(x).argmax(1) == y).float().mean()))
        t2 = time.perf_counter()
        train_s += t1 - t0
        eval_s += t2 - t1
    return train_s, eval_s, accs, subnormal_fraction(opt)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--subset", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lam", type=float, default=1e-2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--arms", default="none,l2-init,spectral")
    ap.add_argument("--flush-denormal", action="store_true")
    ap.add_argument("--data", default=os.path.join(os.environ.get("REGLAB_DATA", "../shared/data"), "mnist"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.flush_denormal:
        assert torch.set_flush_denormal(True), "flush-denormal is not supported on this CPU"
    x = read_idx(os.path.join(args.data, "train-images-idx3-ubyte.gz"))[: args.subset].reshape(args.subset, 784).float() / 255.0
    print(f"# PyTorch {torch.__version__}, {platform.processor() or platform.machine()}, threads {args.threads}, "
          f"flush_denormal {args.flush_denormal}; {args.tasks} tasks × {args.epochs} epochs, {args.subset} images, batch {args.batch}")
    print("| arm | train s | end-of-task eval s | last-task train acc | subnormal Adam state |")
    print("|---|---|---|---|---|")
    for arm in args.arms.split(","):
        tr, ev, accs, sub = run_arm(arm, x, args)
        print(f"| {arm} | {tr:.2f} | {ev:.2f} | {accs[-1]:.3f} | {100 * sub:.1f} % |", flush=True)


if __name__ == "__main__":
    main()
