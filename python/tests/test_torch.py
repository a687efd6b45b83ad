"""reglab.torch.Regularizer: values and gradients against PyTorch autograd on the papers'
formulas (written here independently of reglab), gradcheck of every differentiable term,
proximal steps against their optimality conditions, the state across steps and checkpoints,
agreement with reglab.penalty (itself checked against the `reglab penalty` command line), and bad
input.

Tolerances: reglab computes in float32 (values accumulated in float64), so values agree with a
float64 formula to ~1e-6 relative (1e-4 where a matrix product enters), and gradcheck runs in
float64 with a step eps = 1e-3 and tolerances for float32 forward values (a wrong or transposed
gradient is off by O(1), far outside them).
"""

import copy
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import reglab  # noqa: E402
import reglab.torch as rt  # noqa: E402


def mlp(seed=0, dtype=torch.float32, sizes=(6, 5, 4)):
    torch.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers).to(dtype)


def perturb(model, scale=0.3, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))


def grads_of(model):
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def assert_close(got, want, rtol):
    got, want = got.double(), want.double()
    scale = max(want.abs().max().item(), 1e-30)
    err = (got - want).abs().max().item()
    assert err <= rtol * scale, f"max |got − want| = {err}, scale {scale}"


# ---------------------------------------------------------------- independent formulas


def layers(model):
    """(weight, bias) of each Linear, weights [out, in] as PyTorch stores them."""
    return [(m.weight, m.bias) for m in model if isinstance(m, torch.nn.Linear)]


def f_l2(model, init):
    return sum(0.5 * (w * w).sum() for w, _ in layers(model))


def f_l2_init(model, init):
    return sum(0.5 * ((w - w0) ** 2).sum() for (w, _), w0 in zip(layers(model), init))


def f_wasserstein_init(model, init):
    return sum(((torch.sort(w.reshape(-1)).values - torch.sort(w0.reshape(-1)).values) ** 2).sum() for (w, _), w0 in zip(layers(model), init))


def f_soft_orth(model, init):
    return sum(((w @ w.T - torch.eye(w.shape[0], dtype=w.dtype)) ** 2).sum() for w, _ in layers(model))


def f_spectral(model, init):
    # Lewandowski et al.: (σ_max([W | b])^k − 1)², k = 2, bias as the extra column
    return sum((torch.linalg.matrix_norm(torch.cat([w, b[:, None]], 1), ord=2) ** 2 - 1) ** 2 for w, b in layers(model))


def f_ortho_offdiag(model, init):
    return sum((((w @ w.T) * (1 - torch.eye(w.shape[0], dtype=w.dtype))) ** 2).sum() for w, _ in layers(model))


def f_l1(model, init):
    return sum(w.abs().sum() for w, _ in layers(model))


FORMULAS = {
    "l2": (f_l2, 1e-6),
    "l2-init": (f_l2_init, 1e-6),
    "wasserstein-init": (f_wasserstein_init, 1e-5),
    "soft-orth": (f_soft_orth, 1e-4),
    "ortho-offdiag": (f_ortho_offdiag, 1e-4),
    "spectral": (f_spectral, 1e-4),
}


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_value_and_gradient_match_autograd_on_the_formula(name):
    formula, rtol = FORMULAS[name]
    lam = 0.3
    model = mlp()
    init = [w.detach().clone() for w, _ in layers(model)]
    reg = rt.Regularizer(model, f"{name}={lam}", exact=True)
    perturb(model)
    value = reg()
    value.backward()
    got = grads_of(model)
    model.zero_grad()
    ref = mlp().double()
    ref.load_state_dict(model.state_dict())
    want_value = lam * formula(ref, [w.double() for w in init])
    want_value.backward()
    want = grads_of(ref)
    assert value.item() == pytest.approx(want_value.item(), rel=rtol)
    assert value.dtype == torch.float32 and value.shape == ()
    for n, prm in model.named_parameters():
        zero = torch.zeros_like(prm)
        assert_close(got.get(n, zero), want.get(n, zero.double()), 10 * rtol)


def test_terms_sum_and_report_their_values():
    model = mlp()
    reg = rt.Regularizer(model, "l2=0.1", "soft-orth=0.01", "spectral=0.2", exact=True)
    perturb(model)
    total = reg().item()
    parts = reg.last_values
    assert list(parts) == ["l2", "soft-orth", "spectral"]
    assert total == np.float32(sum(parts.values()))  # the float64 total, returned as a float32 tensor
    for spec in ("l2=0.1", "soft-orth=0.01", "spectral=0.2"):
        alone = rt.Regularizer(model, spec, exact=True)
        assert alone().item() == pytest.approx(parts[spec.split("=")[0]], rel=1e-6)


# ---------------------------------------------------------------- gradcheck

# every differentiable parameter-space term (value and gradient are each other's), with options
# that fit a 8×6 layer; l1-type terms with prox=False (their subgradient, away from 0)
GRADCHECK = [
    "l2=0.5",
    "l2-init=0.5",
    "l2-sp=0.5:ratio=0.3",
    "wasserstein-init=0.5",
    "spectral=0.5",
    "spectral=0.5:k=3",
    "soft-orth=0.5",
    "ortho-offdiag=0.5",
    "group-orth=0.5:groups=2",
    "group-orth=0.5:groups=2:variant=intra",
    "mhe=0.5",
    "mhe=0.5:s=0",
    "mhe=0.5:s=a1:half=true",
    "cs-binary=0.5",
    "cs-binary-pos=0.5",
    "cs-ternary=0.5",
    "cs-orth=0.5",
    "l1=0.5",
    "elastic-net=0.5",
    "group-lasso=0.5",
]


@pytest.mark.parametrize("spec", GRADCHECK)
def test_gradcheck(spec):
    torch.manual_seed(3)
    lin = torch.nn.Linear(6, 8).double()
    with torch.no_grad():
        lin.weight.copy_(0.4 * torch.randn(8, 6, dtype=torch.float64))
        # keep entries away from l1's kink at 0 (eps = 1e-3)
        lin.weight.copy_(torch.where(lin.weight.abs() < 0.05, torch.full_like(lin.weight, 0.05), lin.weight))
    reg = rt.Regularizer(lin, spec, select="*", exact=True, prox=False)
    with torch.no_grad():
        lin.weight.mul_(1.3)
    params = tuple(lin.parameters())
    assert torch.autograd.gradcheck(lambda *_: reg(), params, eps=1e-3, atol=1e-4, rtol=2e-2)


def test_gradcheck_conv_orth():
    torch.manual_seed(4)
    conv = torch.nn.Conv2d(2, 4, 3).double()
    reg = rt.Regularizer(conv, "conv-orth=0.5", exact=True)
    assert torch.autograd.gradcheck(lambda *_: reg(), (conv.weight,), eps=1e-3, atol=1e-4, rtol=2e-2)


def test_gradcheck_fails_for_a_wrong_gradient():
    # the tolerances above are tight enough to see a transposed or scaled gradient
    lin = torch.nn.Linear(6, 8).double()
    reg = rt.Regularizer(lin, "soft-orth=0.5", exact=True)

    class Wrong(torch.autograd.Function):
        @staticmethod
        def forward(ctx, w):
            return reg()

        @staticmethod
        def backward(ctx, g):
            w = lin.weight.detach()
            return g * 0.9 * 2 * (w @ w.T - torch.eye(8, dtype=w.dtype)) @ w * 2

    assert not torch.autograd.gradcheck(lambda w: Wrong.apply(w), (lin.weight,), eps=1e-3, atol=1e-4, rtol=2e-2, raise_exception=False)


# ---------------------------------------------------------------- same numbers as reglab.penalty


@pytest.mark.parametrize("spec", ["l2=0.3", "spectral=0.3", "soft-orth=0.3", "wasserstein-init=0.3", "mhe=0.3", "cs-orth=0.3"])
def test_same_as_reglab_penalty(spec):
    rng = np.random.default_rng(5)
    w0 = (0.3 * rng.standard_normal((7, 9))).astype(np.float32)
    w = torch.tensor(w0 + 0.1 * rng.standard_normal((7, 9)).astype(np.float32), requires_grad=True)
    needs_init = "init" in spec
    reg = rt.Regularizer({"weight": w}, spec, exact=True, init={"weight": torch.from_numpy(w0)} if needs_init else None)
    v = reg()
    v.backward()
    want_v, want_g = reglab.penalty(spec, w.detach().numpy(), w0, grad=True)
    assert v.item() == np.float32(want_v)
    assert np.array_equal(w.grad.numpy(), want_g)


# ---------------------------------------------------------------- training mode, state


def test_training_mode_refines_sigma_once_per_call_and_resumes_bit_for_bit():
    model = mlp(sizes=(20, 30, 10))
    reg = rt.Regularizer(model, "spectral=1", "l2-init=0.1")
    perturb(model)
    exact = rt.Regularizer(model, "spectral=1", exact=True)
    values = [reg().item() for _ in range(60)]
    # one power-iteration step per call: the value climbs to the converged one
    assert values[0] < values[-1]
    assert values[-1] == pytest.approx(exact().item() + reg.last_values["l2-init"], rel=1e-4)
    saved = copy.deepcopy(reg.state_dict())
    assert any(k.endswith("/u") for k in saved["state"]) and set(saved["init"]) == {"0.weight", "2.weight"}
    after = [reg().item() for _ in range(3)]
    fresh = rt.Regularizer(model, "spectral=1", "l2-init=0.1")
    fresh.load_state_dict(saved)
    assert [fresh().item() for _ in range(3)] == after
    # without the saved state the iteration starts again
    assert rt.Regularizer(model, "spectral=1", "l2-init=0.1")().item() != after[0]


def test_schedule_follows_after_step_count():
    model = mlp()
    reg = rt.Regularizer(model, "l2=1:schedule=warmup:warmup=4", exact=True)
    full = rt.Regularizer(model, "l2=1", exact=True)().item()
    got = []
    for _ in range(6):
        got.append(reg().item())
        reg.after_step()
    assert got == pytest.approx([full * min(1, (t + 1) / 4) for t in range(6)], rel=1e-7)  # float32 results
    assert reg.step == 6
    with pytest.raises(ValueError, match="total_steps"):
        rt.Regularizer(model, "l2=1:schedule=cosine")
    rt.Regularizer(model, "l2=1:schedule=cosine", total_steps=100)


def test_l1_prox_step_satisfies_its_optimality_condition():
    # x = prox_{s|·|}(z)  ⇔  0 ∈ x − z + s·∂|x|
    model = mlp(sizes=(30, 20, 5))
    reg = rt.Regularizer(model, "l1=0.5")
    z = {n: p.detach().clone() for n, p in model.named_parameters()}
    lr = 0.1
    s = lr * 0.5
    value = reg()
    value.backward()
    assert all(p.grad is None or p.grad.abs().max() == 0 for p in model.parameters())  # prox: no gradient
    assert value.item() == pytest.approx(0.5 * sum(z[n].abs().sum().item() for n in ("0.weight", "2.weight")), rel=1e-6)
    reg.after_step(lr)
    for n, p in model.named_parameters():
        x = p.detach()
        if n.endswith("bias"):
            assert torch.equal(x, z[n])  # not selected
            continue
        r = z[n] - x
        nz = x != 0
        assert torch.allclose(r[nz], s * torch.sign(x[nz]), atol=1e-7)
        assert (r[~nz].abs() <= s + 1e-7).all()
        assert (~nz).any()
    with pytest.raises(ValueError, match="learning rate"):
        reg.after_step()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    reg.after_step(optimizer=opt)


def test_group_lasso_prox_zeroes_whole_rows():
    model = mlp(sizes=(30, 20, 5))
    reg = rt.Regularizer(model, "group-lasso=1")
    norms = model[0].weight.detach().norm(dim=1)
    srt = norms.sort().values
    s = float(srt[9] + srt[10]) / 2  # between two row norms: ten rows die
    reg.after_step(s)
    w = model[0].weight.detach()
    dead = norms <= s
    assert dead.sum() == 10 and (w[dead] == 0).all()
    assert torch.allclose(w[~dead].norm(dim=1), norms[~dead] - s, atol=1e-5)


def test_shrink_perturb_is_seeded():
    def run(seed):
        model = mlp()
        reg = rt.Regularizer(model, "shrink-perturb=0.1:sigma=0.01", seed=seed)
        reg.after_step(0.1)
        reg.after_step(0.1)
        return torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    before = torch.cat([p.detach().reshape(-1) for p in mlp().parameters()])
    a, b, c = run(0), run(0), run(1)
    assert torch.equal(a, b) and not torch.equal(a, c)
    # mostly the shrink: (1 − λ)² of the start, plus noise of scale σ
    assert (a - 0.81 * before).abs().max() < 0.1


def test_float64_cuda_free_noncontiguous_and_dict_inputs():
    w = torch.randn(9, 7, dtype=torch.float64).T  # non-contiguous [7, 9]
    w.requires_grad_(True)
    reg = rt.Regularizer([("weight", w)], "soft-orth=0.2", exact=True)
    v = reg()
    assert v.dtype == torch.float64
    v.backward()
    wd = w.detach()
    want = 0.2 * 4 * (wd @ wd.T - torch.eye(7, dtype=torch.float64)) @ wd
    assert w.grad.dtype == torch.float64
    assert_close(w.grad, want, 1e-4)
    with torch.no_grad():
        v2 = reg()
    assert v2.grad_fn is None and v2.item() == pytest.approx(v.item(), rel=1e-12)


def test_module_in_place_update_after_step_float64():
    lin = torch.nn.Linear(5, 4).double()
    z = lin.weight.detach().clone()
    rt.Regularizer(lin, "l1=1").after_step(0.05)
    want = torch.sign(z) * torch.clamp(z.abs() - 0.05, min=0)
    assert torch.allclose(lin.weight.detach(), want, atol=1e-7)


def test_training_loop_two_lines():
    # an MLP trained with and without soft-orth from the same start: the penalty holds the
    # layers near orthogonal rows while the loss still falls
    def train(specs):
        torch.manual_seed(0)
        model = mlp(sizes=(10, 16, 3))
        gen = torch.Generator().manual_seed(1)
        x, y = torch.randn(64, 10, generator=gen), torch.randint(0, 3, (64,), generator=gen)
        reg = rt.Regularizer(model, *specs) if specs else None
        probe = rt.Regularizer(model, "soft-orth=1", exact=True)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(150):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            if reg is not None:
                loss = loss + reg()
            loss.backward()
            opt.step()
            if reg is not None:
                reg.after_step(optimizer=opt)
        with torch.no_grad():
            return torch.nn.functional.cross_entropy(model(x), y).item(), probe().item()

    (ce_plain, orth_plain), (ce_reg, orth_reg) = train([]), train(["soft-orth=0.1"])
    assert orth_reg < 0.5 * orth_plain
    assert ce_reg < 0.9 * math.log(3)


# ---------------------------------------------------------------- bad input


def test_bad_input():
    model = mlp()
    with pytest.raises(ValueError, match="unknown regularizer"):
        rt.Regularizer(model, "l3=1")
    with pytest.raises(ValueError, match="negative|λ"):
        rt.Regularizer(model, "l2=-1")
    with pytest.raises(ValueError, match="logits"):
        rt.Regularizer(model, "label-smoothing=0.1")
    with pytest.raises(ValueError, match="at least one"):
        rt.Regularizer(model)
    with pytest.raises(TypeError, match="strings"):
        rt.Regularizer(model, 1.0)
    with pytest.raises(ValueError, match="no parameter is selected.*0.weight"):
        rt.Regularizer(model, "l2=1:select=head.*")
    with pytest.raises(TypeError, match="dtype"):
        rt.Regularizer({"a.weight": torch.zeros(3, 3, dtype=torch.int64)}, "l2=1")
    with pytest.raises(TypeError, match="Module"):
        rt.Regularizer(42, "l2=1")
    reg = rt.Regularizer(model, "spectral=1", "l2-init=1")
    with torch.no_grad():
        model[0].weight[1, 2] = float("nan")
    with pytest.raises(ValueError, match=r"(?i)0.weight.*non-finite.*nan"):
        reg()
    good = rt.Regularizer(mlp(), "spectral=1", "l2-init=1")
    with pytest.raises(ValueError, match="regularizers"):
        rt.Regularizer(mlp(), "spectral=1").load_state_dict(good.state_dict())
    broken = good.state_dict()
    del broken["init"]["2.weight"]
    with pytest.raises(ValueError, match="no initial value.*2.weight"):
        rt.Regularizer(mlp(), "spectral=1", "l2-init=1").load_state_dict(broken)
    fresh = mlp()
    with pytest.raises(ValueError, match="no initial value.*2.weight"):
        rt.Regularizer(fresh, "l2-init=1", init={"0.weight": fresh[0].weight})
    with pytest.raises(ValueError, match=r"init\['0.weight'\] has shape \(3, 3\)"):
        rt.Regularizer(fresh, "l2-init=1", init={"0.weight": torch.zeros(3, 3), "2.weight": fresh[2].weight})
    with pytest.raises(ValueError, match="uses initial weights"):
        rt.Regularizer(fresh, "l2=1", init=dict(fresh.named_parameters()))
    with pytest.raises(ValueError, match=r"init\['0.weight'\] has a non-finite"):
        rt.Regularizer(fresh, "l2-init=1", init=dict(model.named_parameters()))
    with pytest.raises(ValueError, match="not a reglab"):
        good.load_state_dict({"step": 1})
    with pytest.raises(ValueError, match="lr must be"):
        rt.Regularizer(mlp(), "l1=1").after_step(-1.0)
    with pytest.raises(ValueError, match="total_steps"):
        rt.Regularizer(mlp(), "l2=1", total_steps=0)
    assert math.isfinite(good().item())


def test_add_grad_equals_autograd_path_and_accumulates():
    specs = ("spectral=0.5", "l2-init=0.1", "soft-orth=0.05", "l1=0.01")
    a, b = mlp(), mlp()
    ra, rb = rt.Regularizer(a, *specs), rt.Regularizer(b, *specs)
    perturb(a)
    perturb(b)
    for _ in range(3):  # the power-iteration state advances alike on both paths
        a.zero_grad()
        b.zero_grad()
        va = ra()
        va.backward()
        vb = rb.add_grad()
        assert np.float32(vb) == va.item()
        for (n, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
            ga = pa.grad if pa.grad is not None else torch.zeros_like(pa)
            gb = pb.grad if pb.grad is not None else torch.zeros_like(pb)
            assert torch.equal(ga, gb), n
    # add_grad adds into an existing .grad (float64 and non-view parameters through a copy)
    lin = torch.nn.Linear(4, 3).double()
    reg = rt.Regularizer(lin, "l2=1", exact=True)
    lin.weight.grad = torch.ones_like(lin.weight)
    reg.add_grad()
    assert torch.allclose(lin.weight.grad, 1 + lin.weight.detach(), atol=1e-6)
    assert lin.bias.grad is None  # untouched by l2 (layer weights): no zero .grad made up for it


def test_gradcheck_cs_eig(tmp_path):
    # cs-eig needs its symmetric matrix C [in, in] from a file (a CSV, one row per line)
    rng = np.random.default_rng(6)
    a = rng.standard_normal((6, 6))
    np.savetxt(tmp_path / "c.csv", a + a.T, delimiter=",")
    torch.manual_seed(6)
    lin = torch.nn.Linear(6, 8).double()
    reg = rt.Regularizer(lin, f"cs-eig=0.5:c={tmp_path / 'c.csv'}", exact=True)
    assert torch.autograd.gradcheck(lambda *_: reg(), (lin.weight,), eps=1e-3, atol=1e-4, rtol=2e-2)


# ---------------------------------------------------------------- pruning masks


def test_prune_magnitude_global_and_layer_exact_counts():
    model = mlp(sizes=(30, 20, 10))
    w = [model[0].weight.detach().clone(), model[2].weight.detach().clone()]
    bias = model[0].bias.detach().clone()
    reg = rt.Regularizer(model, "l2=1e-4")
    got = reg.prune_magnitude(0.7)
    n = sum(x.numel() for x in w)
    k = round(0.7 * n)
    # global: the k smallest |w| over both layers are exactly the zeros
    flat = torch.cat([x.reshape(-1) for x in w]).abs()
    threshold = flat.sort().values[k - 1]
    zeros = [(model[0].weight == 0), (model[2].weight == 0)]
    assert sum(int(z.sum()) for z in zeros) == k
    for x, z in zip(w, zeros):
        assert (x.abs()[z] <= threshold).all() and (x.abs()[~z] >= threshold).all()
    assert set(got) == {"0.weight", "2.weight"} and torch.equal(model[0].bias.detach(), bias)  # biases are not pruned
    # layer scope: each tensor its share
    model2 = mlp(sizes=(30, 20, 10))
    got2 = rt.Regularizer(model2, "l2=1e-4").prune_magnitude(0.5, scope="layer")
    assert got2 == {"0.weight": 0.5, "2.weight": 0.5}


def test_masks_hold_through_training_grow_and_resume():
    torch.manual_seed(0)
    model = mlp(sizes=(10, 16, 3))
    x, y = torch.randn(64, 10), torch.randint(0, 3, (64,))
    reg = rt.Regularizer(model, "l2=1e-4")
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def steps(k):
        for _ in range(k):
            opt.zero_grad()
            (torch.nn.functional.cross_entropy(model(x), y) + reg()).backward()
            opt.step()
            reg.after_step(optimizer=opt)

    reg.prune_magnitude(0.5)
    first = model[0].weight.detach() == 0
    steps(20)
    assert torch.equal(model[0].weight.detach() == 0, first)  # Adam moved them; the mask put them back
    reg.prune_magnitude(0.8)  # gradual: the mask only grows
    assert ((model[0].weight.detach() == 0) | ~first).all() and (model[0].weight == 0).float().mean() > 0.7
    saved = copy.deepcopy(reg.state_dict())
    fresh_model = mlp(sizes=(10, 16, 3))
    fresh_model.load_state_dict(model.state_dict())
    fresh = rt.Regularizer(fresh_model, "l2=1e-4")
    fresh.load_state_dict(saved)
    with torch.no_grad():
        fresh_model[0].weight.add_(1.0)  # dense again until the next after_step
    fresh.after_step()
    assert torch.equal(fresh_model[0].weight.detach() == 0, model[0].weight.detach() == 0)
    bad = copy.deepcopy(saved)
    bad["masks"]["0.weight"] = torch.full((16, 10), 0.5)
    with pytest.raises(ValueError, match="0/1"):
        fresh.load_state_dict(bad)
    with pytest.raises(ValueError, match="sparsity"):
        reg.prune_magnitude(1.0)
    with pytest.raises(ValueError, match="scope"):
        reg.prune_magnitude(0.5, scope="row")
