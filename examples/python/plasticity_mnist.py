#!/usr/bin/env python3
"""Loss of plasticity in PyTorch, and reglab's regularizers keeping it (about a minute on a CPU).

A PyTorch MLP 784-256-256-10 is trained on a fixed subset of 1,000 MNIST images through a
stream of tasks; each task draws new uniformly random labels, so the train accuracy at the end of
a task measures only whether the network can still fit something new. Without regularization it
loses that ability task after task (Lewandowski et al., "Learning Continually by Spectral
Regularization", ICLR 2025; Kumar et al., "Maintaining Plasticity in Continual Learning via
Regenerative Regularization", 2023); reglab's `spectral` and `l2-init` regularizers, added to the
loop with two lines, keep it. This is reglab's `experiments/plasticity-random-label.toml` (Adam
1e-3, batch 64, 20 epochs per task, λ = 1e-3) in PyTorch, with fewer tasks.

    REGLAB_DATA=../shared/data python examples/python/plasticity_mnist.py [--tasks 10] [--csv out.csv]

Needs `pip install '.[torch]'` (reglab and PyTorch) and MNIST's IDX files in
$REGLAB_DATA/mnist/ (or --mnist DIR).
"""

import argparse
import csv
import gzip
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import reglab.torch

ARMS = {
    "none": [],
    "l2-init": ["l2-init=1e-3"],
    "spectral": ["spectral=1e-3"],
    "spectral + l2-init": ["spectral=1e-3", "l2-init=1e-3"],
}


def read_idx_images(path: Path, n: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, count, rows, cols = np.frombuffer(raw[:16], dtype=">u4")
    if magic != 2051:
        raise ValueError(f"{path}: not an IDX image file (magic {magic})")
    images = np.frombuffer(raw[16:], dtype=np.uint8, count=min(n, int(count)) * rows * cols)
    return images.reshape(-1, int(rows) * int(cols)).astype(np.float32) / 255.0


def train_arm(specs, x, tasks, epochs, batch, seed):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    reg = reglab.torch.Regularizer(model, *specs) if specs else None  # line 1: W₀ = the initial weights
    gen = torch.Generator().manual_seed(seed)
    accuracies = []
    for _ in range(tasks):
        y = torch.randint(0, 10, (x.shape[0],), generator=gen)  # a fresh random labelling
        for _ in range(epochs):
            for idx in torch.randperm(x.shape[0], generator=gen).split(batch):
                loss = F.cross_entropy(model(x[idx]), y[idx])
                if reg is not None:
                    loss = loss + reg()  # line 2: the penalty, with reglab's analytic gradient
                opt.zero_grad()
                loss.backward()
                opt.step()
                if reg is not None:
                    reg.after_step(optimizer=opt)
        with torch.no_grad():
            accuracies.append((model(x).argmax(1) == y).float().mean().item())
    return accuracies


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mnist", type=Path, default=Path(os.environ.get("REGLAB_DATA", "../shared/data")) / "mnist")
    p.add_argument("--tasks", type=int, default=10)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--examples", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--arms", default=",".join(ARMS), help="comma-separated, of: " + ", ".join(ARMS))
    p.add_argument("--csv", type=Path, help="write arm, task, train_accuracy rows here")
    args = p.parse_args()
    torch.set_num_threads(1)
    x = torch.from_numpy(read_idx_images(args.mnist / "train-images-idx3-ubyte.gz", args.examples))
    results = {}
    for arm in args.arms.split(","):
        if arm not in ARMS:
            p.error(f"unknown arm {arm!r}: choose from {', '.join(ARMS)}")
        t0 = time.perf_counter()
        results[arm] = train_arm(ARMS[arm], x, args.tasks, args.epochs, 64, args.seed)
        acc = results[arm]
        print(f"{arm:20s} task 1 {acc[0]:.3f}   task {args.tasks} {acc[-1]:.3f}   mean {np.mean(acc):.3f}   ({time.perf_counter() - t0:.0f} s)")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["arm", "seed", "task", "train_accuracy"])
            for arm, acc in results.items():
                w.writerows([arm, args.seed, t + 1, f"{a:.4f}"] for t, a in enumerate(acc))


if __name__ == "__main__":
    main()
