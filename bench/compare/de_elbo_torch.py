"""Reference values of DE-ELBo and type-II ML for Bayesian RFF regression, computed the official
code's way in PyTorch (float64 autograd and L-BFGS), for
`crates/reglab-lab/tests/official_de_elbo.rs`.

    .venv/bin/python bench/compare/de_elbo_torch.py > crates/reglab-lab/tests/fixtures/de_elbo.json

Transcribed (read in tufts-ml/data-emphasized-ELBo at b5ac771, not copied):
- the loss of `src/losses.py` `TemperedELBOLoss` (l. 17-30): mean NLL + (1/kappa)(1/N) KL;
- the expected Gaussian log-likelihood in closed form with an isotropic q, as
  `notebooks/closed-form_ELBo.ipynb` `closed_form_ELBo` writes it;
- the KL of `src/priors.py` `IsotropicGaussianPrior.kl` (l. 77-91) with the prior variance at its
  closed-form optimum tau2 = (|mu|^2 + D s^2) / D (l. 81);
- kappa = D/N (`README.md` l. 35); the noise known here.
The variational parameters (mu, log s) are fitted by L-BFGS (strong Wolfe), as the notebook
does; the gradient route, independent of reglab's closed-form coordinate ascent. Type-II ML: the
exact log evidence log N(y | 0, s2 I + tau2 Phi Phi^T) (`lml_loss` of the notebooks) maximised
over log tau2 by L-BFGS.
"""
import json
import math

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(3)
N, D, d_in, ell, sigma2 = 15, 60, 3, 1.5, 0.25
x = rng.standard_normal((N, d_in))
W = rng.standard_normal((D, d_in)) / ell
b = rng.uniform(0, 2 * np.pi, D)
phi = np.sqrt(2.0 / D) * np.cos(x @ W.T + b)
y = np.sin(x[:, 0]) + 0.5 * x[:, 1] + np.sqrt(sigma2) * rng.standard_normal(N)
y = y - y.mean()
Phi, Y = torch.tensor(phi), torch.tensor(y)


def de_elbo_loss(mu, log_s, kappa):
    s2 = torch.exp(2 * log_s)
    # closed-form E_q[log p(y|w)] with Sigma_q = s2 I (closed-form_ELBo.ipynb, closed_form_ELBo)
    res = ((Y - Phi @ mu) ** 2).sum()
    ell_ = -(N / 2) * math.log(2 * math.pi * sigma2) - (res + s2 * (Phi ** 2).sum()) / (2 * sigma2)
    # priors.py IsotropicGaussianPrior.kl, scalar sigma: prior variance at its optimum
    tau2 = ((mu ** 2).sum() + s2 * D) / D
    kl = 0.5 * (s2 / tau2 * D + (mu ** 2).sum() / tau2 - D + D * torch.log(tau2) - D * torch.log(s2))
    # losses.py TemperedELBOLoss: mean NLL + (1/kappa)(1/N) KL
    return -ell_ / N + kl / (kappa * N), tau2, s2, ell_, kl


def fit_iso(kappa):
    mu = torch.zeros(D, requires_grad=True)
    log_s = torch.tensor(math.log(1e-2), requires_grad=True)
    opt = torch.optim.LBFGS([mu, log_s], lr=1.0, max_iter=20000, tolerance_grad=1e-14, tolerance_change=1e-16, history_size=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = de_elbo_loss(mu, log_s, kappa)[0]
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    loss, tau2, s2, ell_, kl = de_elbo_loss(mu, log_s, kappa)
    return {"kappa": kappa, "tau2": tau2.item(), "s2": s2.item(), "mu_sq": (mu ** 2).sum().item(), "bound": (kappa * ell_ - kl).item()}


def fit_evidence():
    log_tau2 = torch.tensor(0.0, requires_grad=True)
    opt = torch.optim.LBFGS([log_tau2], lr=1.0, max_iter=1000, tolerance_grad=1e-14, tolerance_change=1e-16, line_search_fn="strong_wolfe")

    def lml():
        cov = sigma2 * torch.eye(N) + torch.exp(log_tau2) * Phi @ Phi.T
        return -0.5 * (N * math.log(2 * math.pi) + torch.logdet(cov) + Y @ torch.linalg.solve(cov, Y))

    def closure():
        opt.zero_grad()
        loss = -lml()
        loss.backward()
        return loss

    opt.step(closure)
    return {"tau2": torch.exp(log_tau2).item(), "log_evidence": lml().item()}


out = {
    "n": N, "d": D, "sigma2": sigma2,
    "phi": phi.reshape(-1).tolist(), "y": y.tolist(),
    "iso": [fit_iso(D / N), fit_iso(1.0)],
    "evidence": fit_evidence(),
}
print(json.dumps(out))
