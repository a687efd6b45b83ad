"""Robust accuracy of a reglab CNN checkpoint under FGSM and PGD in PyTorch, to check reglab's
attacks (`reglab_train::attack`, the `[probe.robust]` rows) against an independent
implementation, and against stronger settings than the probe's.

    .venv/bin/python bench/compare/pgd_torch.py CHECKPOINT --eps 0.1 [--data ../shared/data/mnist]
        [--examples 500] [--channels 16,32]

CHECKPOINT: a job checkpoint of an experiment run (`runs/X/checkpoints/ARM/seed-S.safetensors`,
tensors `model/convs.K.weight|bias`, `model/head.weight|bias` in PyTorch's orientation) of the
small CNN (3×3 conv, padding 1 → ReLU → 2×2 max-pool, per stage; then linear). The examples are
the first --examples of the test set's IDX file, pixels / 255 (as `data.test_subset` and the
probe take them). Prints clean, FGSM (α = ε) and PGD robust accuracies for PGD-50 with step ε/4
and 3 uniform restarts (the probe's setting) and for stronger ones (PGD-200, step ε/10, 10
restarts); an example is robust only if no restart's final point is misclassified.
"""
import argparse
import gzip
import os

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import load_file


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


class Cnn(torch.nn.Module):
    def __init__(self, t, stages):
        super().__init__()
        self.w = [torch.tensor(t[f"model/convs.{k}.weight"]) for k in range(stages)]
        self.b = [torch.tensor(t[f"model/convs.{k}.bias"]) for k in range(stages)]
        self.hw = torch.tensor(t["model/head.weight"])
        self.hb = torch.tensor(t["model/head.bias"])

    def forward(self, x):
        z = x.reshape(-1, 1, 28, 28)
        for w, b in zip(self.w, self.b):
            z = F.max_pool2d(F.relu(F.conv2d(z, w, b, padding=1)), 2)
        return z.flatten(1) @ self.hw.T + self.hb


def attack(net, x, y, eps, steps, alpha, restarts, gen):
    robust = torch.ones(len(y), dtype=torch.bool)
    for _ in range(restarts):
        d = (torch.rand(x.shape, generator=gen) * 2 - 1) * eps if steps > 1 else torch.zeros_like(x)
        d = (x + d).clamp(0, 1) - x
        for _ in range(steps):
            d.requires_grad_(True)
            loss = F.cross_entropy(net(x + d), y, reduction="sum")
            (g,) = torch.autograd.grad(loss, d)
            d = (d.detach() + alpha * g.sign()).clamp(-eps, eps)
            d = (x + d).clamp(0, 1) - x
        with torch.no_grad():
            robust &= net(x + d).argmax(1) == y
    return robust.float().mean().item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--eps", type=float, required=True)
    ap.add_argument("--data", default=os.path.join(os.environ.get("REGLAB_DATA", "../shared/data"), "mnist"))
    ap.add_argument("--examples", type=int, default=500)
    ap.add_argument("--stages", type=int, default=2)
    a = ap.parse_args()
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    net = Cnn(load_file(a.checkpoint), a.stages)
    images = idx(os.path.join(a.data, "t10k-images-idx3-ubyte.gz"))[: a.examples].reshape(a.examples, -1)
    labels = idx(os.path.join(a.data, "t10k-labels-idx1-ubyte.gz"))[: a.examples]
    x = torch.tensor(images, dtype=torch.float32) / 255.0
    y = torch.tensor(labels, dtype=torch.long)
    eps = a.eps
    with torch.no_grad():
        print(f"clean             {(net(x).argmax(1) == y).float().mean().item():.3f}")
    print(f"FGSM (α = ε)      {attack(net, x, y, eps, 1, eps, 1, gen):.3f}")
    print(f"PGD-50 ε/4 ×3     {attack(net, x, y, eps, 50, eps / 4, 3, gen):.3f}")
    print(f"PGD-200 ε/10 ×10  {attack(net, x, y, eps, 200, eps / 10, 10, gen):.3f}")


if __name__ == "__main__":
    main()
