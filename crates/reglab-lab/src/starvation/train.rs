//! One run of the toy: a one-hidden-layer ReLU network with a scalar logit, trained full batch
//! by SGD with momentum on the logistic loss plus the arm's output terms (the catalog's, e.g.
//! `spectral-decoupling=λ`: their gradient on the logits enters as a constant, as in the
//! trainer), then measured.

use super::data::Moons;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData, activation::softplus};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use reglab_core::OutputBatch;
use reglab_train::model::{ModelSpec, Net};
use reglab_train::optim::OptimSpec;
use serde::{Deserialize, Serialize};

/// How a run trains and what it measures.
#[derive(Debug, Clone, PartialEq)]
pub struct ToyConfig {
    /// Hidden units.
    pub width: usize,
    /// Full-batch steps.
    pub steps: usize,
    /// SGD learning rate.
    pub lr: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// The decision function is sampled on a `grid × grid` lattice of `[−extent, extent]²`.
    pub grid: usize,
    /// Half-width of the plotted square.
    pub extent: f64,
}

/// What a run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToyRun {
    /// Final training loss (logistic, without the output terms).
    pub train_loss: f64,
    /// Training accuracy.
    pub train_acc: f64,
    /// Accuracy on fresh points of the same distribution.
    pub test_acc: f64,
    /// Accuracy on those points with the linear feature `x₁` randomly permuted across them (its
    /// link to the label broken): about 1/2 for a network that reads `x₁` alone, more the more it
    /// uses the moons' feature `x₂`.
    pub shuffled_linear_acc: f64,
    /// Accuracy on them with the moons' feature `x₂` permuted: what `x₁` alone gives.
    pub shuffled_moons_acc: f64,
    /// The smallest distance of a training point to the decision boundary, estimated on the
    /// lattice (resolution `2·extent/(grid − 1)`): the input-space margin.
    pub margin: f64,
    /// The logit on the lattice, row-major with `x₂` along rows (`[grid, grid]`).
    pub lattice: Vec<f32>,
}

fn tensor(x: &[[f64; 2]], device: &Device) -> Tensor<2> {
    let v: Vec<f32> = x.iter().flat_map(|p| [p[0] as f32, p[1] as f32]).collect();
    Tensor::<2>::from_data(TensorData::new(v, [x.len(), 2]), device)
}

fn logits(net: &Net, x: &[[f64; 2]], device: &Device) -> Vec<f32> {
    net.valid().forward(tensor(x, device).inner()).into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default()
}

fn accuracy(z: &[f32], y: &[f64]) -> f64 {
    z.iter().zip(y).filter(|(z, y)| f64::from(**z) * **y > 0.0).count() as f64 / y.len().max(1) as f64
}

/// Train on `train` from `seed` (initial weights; PyTorch's default initialisation) with the
/// output terms `terms` (specs such as `spectral-decoupling=0.006`) and measure on `test`.
pub fn train_toy(
    train: &Moons,
    test: &Moons,
    cfg: &ToyConfig,
    terms: &[String],
    seed: u64,
    device: &Device,
    tick: &dyn Fn(),
) -> Result<ToyRun, String> {
    let n = train.x.len();
    let mut net = Net::new(&ModelSpec::mlp(&[cfg.width]), &[2], 1, seed, device)?;
    let mut optim = OptimSpec::Sgd { momentum: cfg.momentum }.init();
    let mut outputs = reglab_regularizers::registry::build_output_set(terms).map_err(|e| e.to_string())?;
    outputs.prepare(n, 1).map_err(|e| e.to_string())?;
    let x = tensor(&train.x, device);
    let y = Tensor::<2>::from_data(TensorData::new(train.y.iter().map(|&v| v as f32).collect::<Vec<f32>>(), [n, 1]), device);
    // one logit, so one "class": the output terms see label 0 (spectral decoupling does not read
    // labels; a term that does has no meaning on a scalar logit)
    let labels = vec![0usize; n];
    let index: Vec<usize> = (0..n).collect();
    let mut grad = vec![0.0f64; n];
    for step in 0..cfg.steps {
        let z = net.forward(x.clone());
        let data_loss = softplus(-(z.clone() * y.clone()), 1.0).mean();
        let loss = if outputs.is_empty() {
            data_loss
        } else {
            let zs: Vec<f32> = z.clone().detach().into_data().convert::<f32>().try_into_vec::<f32>().map_err(|e| format!("{e:?}"))?;
            let batch = OutputBatch { logits: &zs, n, classes: 1, labels: &labels, index: &index };
            outputs.eval(&batch, &mut grad, step as u64, cfg.steps as u64).map_err(|e| e.to_string())?;
            let g = Tensor::<2>::from_data(TensorData::new(grad.iter().map(|&v| v as f32).collect::<Vec<f32>>(), [n, 1]), device);
            data_loss + (z * g).sum()
        };
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        net = optim.step(cfg.lr, net, grads);
        tick();
    }
    let z_train = logits(&net, &train.x, device);
    let train_loss = z_train.iter().zip(&train.y).map(|(z, y)| (-(f64::from(*z) * y)).exp().ln_1p()).sum::<f64>() / n as f64;
    if !train_loss.is_finite() {
        return Err(format!("the training loss is {train_loss}: diverged (lower the learning rate)"));
    }
    // the feature tests: one feature's values permuted across the test points (a seeded random
    // permutation: the values stay, their link to the label goes)
    let m = test.x.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_F00D));
    let permuted = |k: usize| -> Vec<[f64; 2]> {
        (0..m)
            .map(|i| {
                let mut p = test.x[i];
                p[k] = test.x[order[i]][k];
                p
            })
            .collect()
    };
    let test_acc = accuracy(&logits(&net, &test.x, device), &test.y);
    let shuffled_linear_acc = accuracy(&logits(&net, &permuted(0), device), &test.y);
    let shuffled_moons_acc = accuracy(&logits(&net, &permuted(1), device), &test.y);
    // the lattice and the margin
    let g = cfg.grid;
    let at = |i: usize| -cfg.extent + 2.0 * cfg.extent * i as f64 / (g - 1) as f64;
    let points: Vec<[f64; 2]> = (0..g).flat_map(|r| (0..g).map(move |c| [at(c), at(r)])).collect();
    let lattice = logits(&net, &points, device);
    let mut boundary = Vec::new();
    for r in 0..g {
        for c in 0..g {
            let v = lattice[r * g + c];
            let right = c + 1 < g && (lattice[r * g + c + 1] > 0.0) != (v > 0.0);
            let up = r + 1 < g && (lattice[(r + 1) * g + c] > 0.0) != (v > 0.0);
            if right || up {
                boundary.push([at(c), at(r)]);
            }
        }
    }
    let margin = train
        .x
        .iter()
        .map(|p| boundary.iter().map(|b| ((p[0] - b[0]).powi(2) + (p[1] - b[1]).powi(2)).sqrt()).fold(f64::INFINITY, f64::min))
        .fold(f64::INFINITY, f64::min);
    Ok(ToyRun { train_loss, train_acc: accuracy(&z_train, &train.y), test_acc, shuffled_linear_acc, shuffled_moons_acc, margin, lattice })
}
