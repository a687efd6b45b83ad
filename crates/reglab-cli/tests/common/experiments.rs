//! Small experiment files of every kind, shared by the end-to-end tests.

/// A small digits experiment: 2 arms (one spectral) × 2 seeds × `tasks` random-label tasks.
pub fn experiment(tasks: usize, epochs: usize) -> String {
    format!(
        r#"name = "tiny"
seeds = [0, 1]

[data]
source = "digits"
subset = 200

[model]
kind = "mlp"
hidden = [32]

[optim]
kind = "adam"
lr = 3e-3
batch = 32

[stream]
kind = "random-label"
tasks = {tasks}
epochs_per_task = {epochs}

[probe]
examples = 100

[[arm]]
name = "none"

[[arm]]
name = "spectral"
reg = ["spectral=1e-2"]
"#
    )
}

/// [`experiment`] as one seed of adversarial training on a single task of 2 epochs, a row every
/// half epoch with the robust probe: a plain arm (probed at ε = 0.05), FGSM-AT and PGD-AT at 0.1.
pub fn adversarial_experiment() -> String {
    let base = experiment(1, 2);
    let head = &base[..base.find("[probe]").expect("a probe table")];
    let head = head
        .replace("name = \"tiny\"\nseeds = [0, 1]", "name = \"adv\"\nseeds = [0]\nx_label = \"ε\"")
        .replace("subset = 200", "subset = 300\ntest_subset = 200")
        .replace("batch = 32", "batch = 50")
        .replace("kind = \"random-label\"", "kind = \"single\"");
    format!(
        r#"{head}[probe]
examples = 100
every = "epoch"
per_epoch = 2
robust = {{ eps = 0.1, examples = 100, steps = 10, restarts = 2 }}

[[arm]]
name = "plain"
robust_eps = 0.05

[[arm]]
name = "fgsm-at"
group = "FGSM-AT"
x = 0.1
reg = ["fgsm-at=0.1"]

[[arm]]
name = "pgd-at"
group = "PGD-AT"
x = 0.1
reg = ["pgd-at=0.1:steps=3"]
"#
    )
}

/// A tiny `kind = "cs-recovery"` experiment: N = 30, two ratios, three trials, three methods.
pub fn recovery_experiment() -> String {
    r#"kind = "cs-recovery"
name = "tiny-recovery"
seed = 4

[problem]
n = 30
ratios = [0.3, 1.0]
trials = 3

[[method]]
name = "cs"
lambda = 1e-3
restarts = 2
max_iters = 500

[[method]]
name = "box"

[[method]]
name = "linf"
max_iters = 500
"#
    .to_string()
}

/// A tiny `kind = "lasso-path"` experiment: n = 20, d = 40, three λ (the last above λ_max),
/// subgradient descent and FISTA.
pub fn lasso_path_experiment() -> String {
    r#"kind = "lasso-path"
name = "tiny-lasso"

[problem]
n = 20
d = 40
k = 4
noise = 0.1
seed = 2

[path]
lambdas = [0.01, 0.1, 10.0]

[[method]]
name = "subgradient"
iterations = 500

[[method]]
name = "fista"
"#
    .to_string()
}

/// A tiny `kind = "ot-sparse"` experiment: n = 20, m = 16, k = 1 and 4.
pub fn ot_sparse_experiment() -> String {
    r#"kind = "ot-sparse"
name = "tiny-sparse-ot"

[data]
n = 20
m = 16
seed = 2

[solve]
gamma = 0.1
ks = [1, 4]
epsilon = 0.01
"#
    .to_string()
}

/// A tiny `kind = "inverse"` experiment: a 32 × 32 phantom, 8 views, 1 % noise; FBP, TV
/// (two λ), weighted TV and graphLa on the TV estimate, 60 iterations.
pub fn inverse_experiment() -> String {
    r#"kind = "inverse"
name = "tiny-ct"

[problem]
size = 32
views = [8]
noise = [0.01]

[solve]
max_iter = 60

[[method]]
name = "fbp"
label = "FBP"

[[method]]
name = "tv"
label = "TV"
lambdas = [0.03, 0.3]

[[method]]
name = "weighted-tv"
estimate = "TV"
lambdas = [0.3]

[[method]]
name = "graph-la"
label = "graphLa+TV"
estimate = "TV"
lambdas = [10.0]
"#
    .to_string()
}
