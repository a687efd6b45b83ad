"""Reference values of the adversarial-training terms, computed by the official codes' formulas
in PyTorch (float64 autograd), for `crates/reglab-regularizers/tests/official_adversarial.rs`.

    .venv/bin/python bench/compare/adversarial_terms_torch.py \
        > crates/reglab-regularizers/tests/fixtures/adversarial_terms.json

Each block transcribes the loss as the official code writes it (read in the repositories, not
copied): ELLE (LIONS-EPFL/ELLE, `core/utils/train.py`, `reg == 'ELLE'`: the per-example
cross-entropies of x_a, x_b, x_c and `MSELoss` of the midpoint's against the interpolation),
ARoW (dyoony/ARoW, `loss.py` `ARoW_loss` and `LabelSmoothingCrossEntropy`, `main.py` `--lamb 6`:
the label-smoothed CE plus λ·mean(KL(p‖q + 1e-12)·(1 − q_y))) and AAER (tmllab/2023_NeurIPS_AAER,
`CIFAR10/AAER.py`: mean CE at the adversarial point plus (λ₁m/n)(λ₂·CE_A + λ₃·max(V_A − V_N, 0))
with the start's logits, CE_A and V_N detached). Inputs are seeded random float32 logits; the
fixture holds them, the loss value and its gradient with respect to every logit.
"""
import json

import torch
import torch.nn.functional as F

torch.manual_seed(0)
N, C = 6, 5


def f32(t):
    return t.float().double()  # the logits reglab receives are float32


def elle():
    z = f32(torch.randn(3 * N, C) * 2).requires_grad_(True)
    y = torch.randint(0, C, (N,))
    alpha = torch.rand(N, dtype=torch.float64)
    losses = F.cross_entropy(z, y.repeat(3), reduction="none")
    lin_err = F.mse_loss(losses[2 * N :], (1 - alpha) * losses[:N] + alpha * losses[N : 2 * N])
    (g,) = torch.autograd.grad(lin_err, z)
    return {"z": z.detach().flatten().tolist(), "y": y.tolist(), "alpha": alpha.tolist(), "value": lin_err.item(), "grad": g.flatten().tolist()}


def arow(lamb=6.0, smoothing=0.2):
    z = f32(torch.randn(N, C) * 2).requires_grad_(True)
    za = f32(torch.randn(N, C) * 2).requires_grad_(True)
    y = torch.randint(0, C, (N,))
    logprobs = F.log_softmax(z, dim=-1)
    nll = -logprobs.gather(dim=-1, index=y.unsqueeze(1)).squeeze(1)
    sup = ((1 - smoothing) * nll + smoothing * (-logprobs.mean(dim=-1))).mean()
    adv_probs, nat_probs = F.softmax(za, dim=1), F.softmax(z, dim=1)
    true_probs = torch.gather(adv_probs, 1, y.unsqueeze(1)).squeeze()
    rob = (F.kl_div((adv_probs + 1e-12).log(), nat_probs, reduction="none").sum(dim=1) * (1.0 - true_probs)).mean()
    loss = sup + lamb * rob
    gz, ga = torch.autograd.grad(loss, (z, za))
    return {
        "z": z.detach().flatten().tolist(),
        "za": za.detach().flatten().tolist(),
        "y": y.tolist(),
        "lambda": lamb,
        "smoothing": smoothing,
        "value": loss.item(),
        "grad_z": gz.flatten().tolist(),
        "grad_za": ga.flatten().tolist(),
    }


def aaer(l1=1.0, l2=2.5, l3=1.5):
    while True:
        z0 = f32(torch.randn(N, C) * 2)
        z = f32(torch.randn(N, C) * 2).requires_grad_(True)
        y = torch.randint(0, C, (N,))
        loss_before = F.cross_entropy(z0, y, reduction="none")
        ce = F.cross_entropy(z, y, reduction="none")
        loss_after = ce.detach()
        abnormal, normal = loss_before > loss_after, loss_before <= loss_after
        m, k = int(abnormal.sum()), int(normal.sum())
        if 0 < m < N:
            break
    sq = lambda a, b: ((a - b) ** 2).sum(1).mean(0)
    v_a = sq(z0[abnormal], z[abnormal])
    v_n = sq(z0[normal], z[normal])
    ce_a = (abnormal * (loss_before - loss_after)).sum() / m
    loss = ce.mean() + (l1 * m / N) * (l2 * ce_a + l3 * torch.clamp(v_a - v_n.item(), min=0))
    (g,) = torch.autograd.grad(loss, z)
    return {
        "z0": z0.flatten().tolist(),
        "z": z.detach().flatten().tolist(),
        "y": y.tolist(),
        "lambdas": [l1, l2, l3],
        "abnormal": m,
        "value": loss.item(),
        "grad": g.flatten().tolist(),
    }


print(json.dumps({"n": N, "classes": C, "elle": elle(), "arow": arow(), "aaer": aaer()}, indent=1))
