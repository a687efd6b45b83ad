//! The learned λ rule of `[learned]`: per setting, MAID ([`reglab_inverse::maid`], catalog #14)
//! learns a TV method's λ from random ellipse phantoms measured like the test problem (same
//! geometry, same noise level relative to each sinogram's rms, independent noise), minimizing
//! their mean squared reconstruction error; the test problem's ground truth is never seen.

use super::config::{InverseExperiment, LearnedConfig, setting_seed};
use reglab_inverse::{MaidOptions, Radon, TrainingPair, TvBilevel, maid, random_ellipse_phantom};
use serde::{Deserialize, Serialize};

/// One accepted MAID iteration (index 0: the start).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TracePoint {
    /// λ after the iteration.
    pub lambda: f64,
    /// The training loss `(1/S) Σ_s ‖x̃_s − x†_s‖²/(2n)` (smoothed-TV reconstructions).
    pub loss: f64,
    /// Operator pairs (`A` and `Aᵀ`) applied so far.
    pub operator_pairs: usize,
}

/// What learning one method's λ in one setting did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnedTrace {
    /// Number of views.
    pub views: usize,
    /// Relative noise level.
    pub noise: f64,
    /// The method's label.
    pub method: String,
    /// The learned λ.
    pub lambda: f64,
    /// Training phantoms.
    pub phantoms: usize,
    /// Lower-level evaluations (each one `A` and one `Aᵀ`).
    pub lower_evaluations: usize,
    /// CG iterations of the hypergradients (each one `A` and one `Aᵀ`).
    pub cg_iterations: usize,
    /// Their sum.
    pub operator_pairs: usize,
    /// Upper-level iterations without a decrease.
    pub failed_iterations: usize,
    /// λ and the training loss per accepted iteration.
    pub trajectory: Vec<TracePoint>,
}

/// The seed of training phantom `j` (its noise uses [`setting_seed`] of `seed + 1 + j`).
fn phantom_seed(seed: u64, j: usize) -> u64 {
    setting_seed(seed, 0, j)
}

/// The training pairs of setting (`views`, noise index `k`): phantom `j` is
/// `random_ellipse_phantom(size, size, …)`, its noise of standard deviation `noise × rms` of its
/// own clean sinogram.
pub fn training_pairs(exp: &InverseExperiment, l: &LearnedConfig, radon: &Radon, views: usize, k: usize) -> Result<Vec<TrainingPair>, String> {
    let (n, noise) = (exp.problem.size, exp.problem.noise[k]);
    (0..l.phantoms)
        .map(|j| {
            let truth = random_ellipse_phantom(n, n, phantom_seed(l.seed, j)).map_err(|e| e.to_string())?;
            let (y, _) = super::sweep::measure(radon, &truth, noise, setting_seed(l.seed.wrapping_add(1 + j as u64), views, k))?;
            Ok(TrainingPair { data: y, truth: truth.data })
        })
        .collect()
}

/// Learn `method`'s λ from `pairs` by MAID.
pub fn learn(
    exp: &InverseExperiment,
    l: &LearnedConfig,
    radon: &Radon,
    pairs: Vec<TrainingPair>,
    views: usize,
    k: usize,
    method: &str,
) -> Result<LearnedTrace, String> {
    let n = exp.problem.size;
    let phantoms = pairs.len();
    let problem = TvBilevel::new(radon, n, n, l.smoothing, l.ridge, pairs).map_err(|e| e.to_string())?;
    let opts = MaidOptions { theta0: l.lambda0.ln(), max_iter: l.max_iter, seed: l.seed, ..MaidOptions::default() };
    let r = maid(&problem, &opts).map_err(|e| format!("MAID: {e}"))?;
    Ok(LearnedTrace {
        views,
        noise: exp.problem.noise[k],
        method: method.to_string(),
        lambda: r.theta.exp(),
        phantoms,
        lower_evaluations: r.lower_evaluations,
        cg_iterations: r.cg_iterations,
        operator_pairs: r.operator_pairs,
        failed_iterations: r.failed_iterations,
        trajectory: r.trajectory.iter().map(|s| TracePoint { lambda: s.theta.exp(), loss: s.loss, operator_pairs: s.operator_pairs }).collect(),
    })
}

/// `learned.csv`: one line per accepted MAID iteration of every learned method and setting.
pub fn to_csv(traces: &[LearnedTrace]) -> String {
    let mut s = String::from("views,noise,method,iteration,lambda,loss,operator_pairs\n");
    for t in traces {
        for (i, p) in t.trajectory.iter().enumerate() {
            s.push_str(&format!("{},{},{},{i},{},{},{}\n", t.views, t.noise, t.method, p.lambda, p.loss, p.operator_pairs));
        }
    }
    s
}
