//! `reglab ot`.

use crate::Failure;
use reglab_lab::RunError;
use reglab_lab::ot::{self, Method, OtOptions, OtPaths};
use std::path::PathBuf;

/// Solve a regularized optimal-transport problem between two point clouds (CSV files).
///
/// Points: one per line, comma-separated numbers, optional header line. Weights: one number per
/// line (default uniform); source and target weights must carry the same mass. Labels: one
/// non-negative integer per source point (method class). The cost is ‖x_i − y_j‖² (or ‖x_i − y_j‖).
/// Methods: sinkhorn, sinkhorn-log (entropic, --reg = ε), smooth (squared ℓ2, --reg = γ), sparse
/// (squared ℓ2 with at most --k non-zeros per column, --reg = γ), class (sum of class-block
/// norms, --reg = λ). Nothing is written when the input is bad.
#[derive(clap::Args)]
pub struct Args {
    /// Source points (CSV, n × d).
    #[arg(long, value_name = "A.csv")]
    source: PathBuf,
    /// Target points (CSV, m × d).
    #[arg(long, value_name = "B.csv")]
    target: PathBuf,
    /// Source weights, one per line (default uniform).
    #[arg(long, value_name = "WA.csv")]
    weights_a: Option<PathBuf>,
    /// Target weights, one per line (default uniform).
    #[arg(long, value_name = "WB.csv")]
    weights_b: Option<PathBuf>,
    /// Source labels, one non-negative integer per line (method class).
    #[arg(long, value_name = "LA.csv")]
    labels_a: Option<PathBuf>,
    /// sinkhorn | sinkhorn-log | smooth | sparse | class.
    #[arg(long)]
    method: String,
    /// Regularization strength: ε (sinkhorn, sinkhorn-log), γ (smooth, sparse), λ (class).
    #[arg(long, allow_hyphen_values = true)]
    reg: f64,
    /// Most non-zeros per column of the plan (sparse).
    #[arg(long)]
    k: Option<usize>,
    /// sqeuclidean | euclidean.
    #[arg(long, default_value = "sqeuclidean")]
    metric: String,
    /// Most iterations (default: the solver's: 1000 Sinkhorn, 10000 L-BFGS, 100000 ADMM).
    #[arg(long)]
    max_iter: Option<usize>,
    /// Stopping tolerance on the marginals (default 1e-9).
    #[arg(long)]
    tol: Option<f64>,
    /// ε-scaling from the largest cost down to --reg (sinkhorn-log).
    #[arg(long)]
    eps_scaling: bool,
    /// Write the plan here: n lines of m comma-separated numbers.
    #[arg(long, value_name = "plan.csv")]
    out: Option<PathBuf>,
    /// Plot the clouds and the plan's strongest links here (.png; an .svg is written beside it).
    #[arg(long, value_name = "links.png")]
    plot: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Run.
pub fn run(a: Args) -> Result<(), Failure> {
    let method: Method = a.method.parse().map_err(Failure::input)?;
    let metric = ot::parse_metric(&a.metric).map_err(Failure::input)?;
    let opts = OtOptions { method, reg: a.reg, k: a.k, metric, max_iter: a.max_iter, tol: a.tol, eps_scaling: a.eps_scaling };
    opts.validate().map_err(Failure::input)?;
    if method == Method::Class && a.labels_a.is_none() {
        return Err(Failure::input("method class needs labels of the source points (--labels-a)"));
    }
    if let Some(p) = &a.out {
        reglab_lab::rundir::check_output_path(p, None, "--out").map_err(Failure::input)?;
    }
    if let Some(p) = &a.plot {
        reglab_lab::rundir::check_output_path(p, Some("png"), "--plot").map_err(Failure::input)?;
    }
    let paths = OtPaths {
        source: a.source.clone(),
        target: a.target.clone(),
        weights_a: a.weights_a.clone(),
        weights_b: a.weights_b.clone(),
        labels_a: a.labels_a.clone(),
    };
    let input = ot::load(&paths).map_err(Failure::input)?;
    let report = ot::run(&input, &opts).map_err(|e| match e {
        RunError::Input(m) => Failure::input(m),
        RunError::Failed(m) => Failure::failed(m),
    })?;
    let mut notes = Vec::new();
    if let Some(p) = &a.plot {
        let note = ot::plot_links(p, &input, &report).map_err(Failure::failed)?;
        notes.push(format!(
            "wrote {} and {}{}",
            p.display(),
            ot::svg_path(p).display(),
            if note.is_empty() { String::new() } else { format!(" ({note})") }
        ));
    }
    if let Some(p) = &a.out {
        ot::write_plan_csv(p, &report.plan).map_err(Failure::failed)?;
        notes.push(format!("wrote {}", p.display()));
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report.json(true)).expect("json"));
        return Ok(());
    }
    let r = &report;
    let reg = format!("{} = {}{}", method.reg_name(), r.reg, r.k.map_or(String::new(), |k| format!(", k = {k}")));
    println!("{} ({reg}, {}): n = {}, m = {}, d = {}", r.method, r.metric, r.n, r.m, r.d);
    println!("cost ⟨C,T⟩ = {}", r.cost);
    if let Some(o) = r.objective {
        println!("objective  = {o}");
    }
    println!("marginal errors (ℓ1): rows {:.3e}, columns {:.3e}", r.row_error, r.col_error);
    println!("non-zeros: {} of {} (at most {} in a column)", r.nonzeros, r.n * r.m, r.max_nonzeros_per_column);
    println!("iterations: {}, converged: {}, {:.3} s", r.iterations, if r.converged { "yes" } else { "no" }, r.seconds);
    for n in notes {
        println!("{n}");
    }
    Ok(())
}
