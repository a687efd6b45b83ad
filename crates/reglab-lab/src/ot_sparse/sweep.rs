//! The solves on one drawn problem (in parallel, deterministic) and the files of a run.

use super::config::OtSparseExperiment;
use crate::RunError;
use crate::ot::{OtInput, ZERO_RTOL, plot_plan_links};
use crate::report::path_plot::{PathCurve, PathPlot, plot_path};
use crate::report::{Cell, Figure, ReportInput, SummaryRow, format_number};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use reglab_ot::{
    EpsScaling, Matrix, SinkhornOptions, SmoothOptions, hungarian, sinkhorn_log, smooth_ot_l2, sparse_ot_semi_dual, sq_euclidean, uniform,
};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The exact reference is the assignment problem on `lcm(n, m)` replicated points when
/// `lcm(n, m)` is at most this; beyond, an ε-scaled log-domain Sinkhorn at [`FALLBACK_EPS`].
pub const EXACT_MAX_POINTS: usize = 1200;
/// ε (of the normalised cost) of the fallback reference.
pub const FALLBACK_EPS: f64 = 1e-4;

/// One solve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OtRow {
    /// `sparse k=K`, `quadratic`, `entropic` or `exact`.
    pub method: String,
    /// The column budget (sparse only).
    pub k: Option<usize>,
    /// γ (sparse, quadratic) or ε (entropic); none for the reference.
    pub reg: Option<f64>,
    /// `⟨C, T⟩` (C normalised to max 1).
    pub cost: f64,
    /// `cost −` the exact reference's.
    pub cost_gap: f64,
    /// The regularized objective (`⟨C,T⟩ + (γ/2)‖T‖²`, `⟨C,T⟩ − εH(T)`); none for the reference.
    pub objective: Option<f64>,
    /// Non-zero entries (exactly non-zero; entropic: above `1e-12 ·` the mass).
    pub nonzeros: usize,
    /// The most non-zeros in one column.
    pub max_nonzeros_per_column: usize,
    /// Mean non-zeros per column.
    pub mean_nonzeros_per_column: f64,
    /// `‖T 1 − a‖₁`.
    pub row_error: f64,
    /// `‖Tᵀ 1 − b‖₁`.
    pub col_error: f64,
    /// Solver iterations (L-BFGS; Sinkhorn over all ε stages; Hungarian: rows augmented).
    pub iterations: usize,
    /// Whether the solver met its stopping rule.
    pub converged: bool,
}

/// Everything a run computes (no timings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OtSparseResults {
    /// Experiment name.
    pub name: String,
    /// Source points.
    pub n: usize,
    /// Target points.
    pub m: usize,
    /// Seed of the clouds.
    pub seed: u64,
    /// `max_ij ‖x_i − y_j‖²`, by which the cost is divided.
    pub cost_scale: f64,
    /// γ.
    pub gamma: f64,
    /// ε.
    pub epsilon: f64,
    /// The budgets k.
    pub ks: Vec<usize>,
    /// What the `exact` row is.
    pub reference: String,
    /// Sparse rows (k order), then quadratic, entropic, exact.
    pub rows: Vec<OtRow>,
}

/// A run's results with the clouds and plans (for the plots; not in `results.json`).
#[derive(Debug, Clone, Serialize)]
pub struct OtSparseRun {
    /// The results.
    #[serde(flatten)]
    pub results: OtSparseResults,
    /// The clouds and weights.
    #[serde(skip)]
    pub input: OtInput,
    /// The plans, row order.
    #[serde(skip)]
    pub plans: Vec<Matrix>,
}

/// Draw the clouds: the source a mixture of `blobs` Gaussian blobs (centres uniform in
/// `[−1.5, 1.5]²`, point `i` in blob `i mod blobs`), the target a ring of radius `ring_radius`
/// around the origin with Gaussian radial noise; one ChaCha8 stream from `seed`, source first.
pub fn draw_clouds(exp: &OtSparseExperiment) -> OtInput {
    let d = &exp.data;
    let mut rng = ChaCha8Rng::seed_from_u64(d.seed);
    let normal = |rng: &mut ChaCha8Rng| -> f64 { StandardNormal.sample(rng) };
    let centres: Vec<(f64, f64)> = (0..d.blobs).map(|_| (rng.random_range(-1.5..1.5), rng.random_range(-1.5..1.5))).collect();
    let mut src = Vec::with_capacity(2 * d.n);
    for i in 0..d.n {
        let (cx, cy) = centres[i % d.blobs];
        src.push(cx + d.blob_std * normal(&mut rng));
        src.push(cy + d.blob_std * normal(&mut rng));
    }
    let mut tgt = Vec::with_capacity(2 * d.m);
    for _ in 0..d.m {
        let angle: f64 = rng.random_range(0.0..std::f64::consts::TAU);
        let r = d.ring_radius + d.ring_noise * normal(&mut rng);
        tgt.push(r * angle.cos());
        tgt.push(r * angle.sin());
    }
    OtInput {
        source: Matrix::new(d.n, 2, src).expect("shape"),
        target: Matrix::new(d.m, 2, tgt).expect("shape"),
        a: uniform(d.n),
        b: uniform(d.m),
        labels: None,
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Exact OT between uniform weights on an `n × m` cost: with `L = lcm(n, m)`, the
/// transportation problem scaled by `L` has integer supplies `L/n` and demands `L/m`, so it has
/// an integral optimal vertex: an assignment between `L/n` copies of each source and `L/m`
/// copies of each target (Hungarian on `L × L`). `None` when `L > EXACT_MAX_POINTS`.
pub fn exact_uniform_rect(cost: &Matrix) -> Option<Result<(Matrix, f64, usize), String>> {
    let (n, m) = cost.shape();
    let l = n / gcd(n, m) * m;
    if l > EXACT_MAX_POINTS {
        return None;
    }
    let (rn, rm) = (l / n, l / m);
    let mut big = Matrix::zeros(l, l);
    for p in 0..l {
        for q in 0..l {
            big.data[p * l + q] = cost.get(p / rn, q / rm);
        }
    }
    Some(hungarian(&big).map_err(|e| e.to_string()).map(|a| {
        let mut plan = Matrix::zeros(n, m);
        let w = 1.0 / l as f64;
        for (p, &q) in a.cols.iter().enumerate() {
            plan.data[(p / rn) * m + q / rm] += w;
        }
        let c = cost.dot(&plan);
        (plan, c, l)
    }))
}

/// One solve of the experiment (one cell).
#[derive(Debug, Clone, Copy)]
pub enum Job {
    Sparse(usize),
    Quadratic,
    Entropic,
    Exact,
}

impl Job {
    /// The `method` of its row.
    pub fn label(&self) -> String {
        match self {
            Job::Sparse(k) => format!("sparse k={k}"),
            Job::Quadratic => "quadratic".into(),
            Job::Entropic => "entropic".into(),
            Job::Exact => "exact".into(),
        }
    }
}

/// One solve's result, as a cell keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Solved {
    #[serde(with = "matrix_serde")]
    plan: Matrix,
    cost: f64,
    objective: Option<f64>,
    iterations: usize,
    converged: bool,
    reference: Option<String>,
}

fn solve(exp: &OtSparseExperiment, input: &OtInput, cost: &Matrix, job: Job) -> Result<Solved, String> {
    let s = &exp.solve;
    let (a, b) = (&input.a[..], &input.b[..]);
    let so = SmoothOptions {
        max_iter: s.max_iter.unwrap_or(super::config::DEFAULT_MAX_ITER),
        tol: s.tol.unwrap_or(super::config::DEFAULT_TOL),
        ..Default::default()
    };
    let sk = SinkhornOptions {
        max_iter: s.sinkhorn_max_iter.unwrap_or(super::config::DEFAULT_SINKHORN_MAX_ITER),
        tol: s.sinkhorn_tol.unwrap_or(super::config::DEFAULT_SINKHORN_TOL),
        ..Default::default()
    };
    let smooth = |r: reglab_ot::SmoothResult| Solved {
        cost: r.cost,
        objective: Some(r.objective),
        iterations: r.iterations,
        converged: r.converged,
        plan: r.plan,
        reference: None,
    };
    let entropic = |r: reglab_ot::SinkhornResult, reference: Option<String>| Solved {
        cost: r.cost,
        objective: reference.is_none().then_some(r.entropic_cost),
        iterations: r.iterations,
        converged: r.converged,
        plan: r.plan,
        reference,
    };
    let e = |e: reglab_ot::Error| e.to_string();
    Ok(match job {
        Job::Sparse(k) => smooth(sparse_ot_semi_dual(a, b, cost, s.gamma, k, &so).map_err(e)?),
        Job::Quadratic => smooth(smooth_ot_l2(a, b, cost, s.gamma, &so).map_err(e)?),
        Job::Entropic => entropic(sinkhorn_log(a, b, cost, s.epsilon, &sk, Some(&EpsScaling::from_cost(cost))).map_err(e)?, None),
        Job::Exact => match exact_uniform_rect(cost) {
            Some(r) => {
                let (plan, c, l) = r?;
                let what = format!(
                    "exact: assignment (Hungarian) between {l}/{} copies of each source and {l}/{} of each target point",
                    input.a.len(),
                    input.b.len()
                );
                Solved { plan, cost: c, objective: None, iterations: l, converged: true, reference: Some(what) }
            }
            None => {
                let r = sinkhorn_log(a, b, cost, FALLBACK_EPS, &sk, Some(&EpsScaling::from_cost(cost))).map_err(e)?;
                let what = format!("approximate: log-domain Sinkhorn with ε-scaling at ε = {FALLBACK_EPS} (lcm(n, m) > {EXACT_MAX_POINTS})");
                entropic(r, Some(what))
            }
        },
    })
}

fn row_of(s: &Solved, job: Job, exp: &OtSparseExperiment, input: &OtInput) -> OtRow {
    let plan = &s.plan;
    let mass: f64 = input.a.iter().sum();
    let thr = if matches!(job, Job::Entropic) { ZERO_RTOL * mass } else { 0.0 };
    let mut per_col = vec![0usize; plan.cols];
    for i in 0..plan.rows {
        for (c, &t) in per_col.iter_mut().zip(plan.row(i)) {
            *c += usize::from(t > thr);
        }
    }
    let nonzeros: usize = per_col.iter().sum();
    let l1 = |x: Vec<f64>, w: &[f64]| x.iter().zip(w).map(|(p, q)| (p - q).abs()).sum::<f64>();
    let (method, k, reg) = match job {
        Job::Sparse(k) => (job.label(), Some(k), Some(exp.solve.gamma)),
        Job::Quadratic => (job.label(), None, Some(exp.solve.gamma)),
        Job::Entropic => (job.label(), None, Some(exp.solve.epsilon)),
        Job::Exact => (job.label(), None, None),
    };
    OtRow {
        method,
        k,
        reg,
        cost: s.cost,
        cost_gap: 0.0,
        objective: s.objective.filter(|v| v.is_finite()),
        nonzeros,
        max_nonzeros_per_column: per_col.iter().copied().max().unwrap_or(0),
        mean_nonzeros_per_column: nonzeros as f64 / plan.cols as f64,
        row_error: l1(plan.row_sums(), &input.a),
        col_error: l1(plan.col_sums(), &input.b),
        iterations: s.iterations,
        converged: s.converged,
    }
}

/// The number of solves of a run: one per k, quadratic, entropic and the reference.
pub fn job_count(exp: &OtSparseExperiment) -> usize {
    exp.solve.ks.len() + 3
}

/// The solves of the experiment, in row order: one per k, then quadratic, entropic and exact.
pub fn jobs(exp: &OtSparseExperiment) -> Vec<Job> {
    let mut jobs: Vec<Job> = exp.solve.ks.iter().map(|&k| Job::Sparse(k)).collect();
    jobs.extend([Job::Quadratic, Job::Entropic, Job::Exact]);
    jobs
}

/// The drawn clouds and the cost divided by its largest entry (and that entry).
fn problem(exp: &OtSparseExperiment) -> Result<(OtInput, Matrix, f64), String> {
    exp.validate()?;
    let input = draw_clouds(exp);
    let mut cost = sq_euclidean(&input.source, &input.target).map_err(|e| e.to_string())?;
    let scale = cost.max();
    if !(scale > 0.0 && scale.is_finite()) {
        return Err(format!("the largest squared distance is {scale}: the clouds coincide?"));
    }
    cost.data.iter_mut().for_each(|c| *c /= scale);
    Ok((input, cost, scale))
}

/// One cell: solve `index` of [`jobs`] on the drawn problem.
pub fn run_solve(exp: &OtSparseExperiment, index: usize) -> Result<Solved, String> {
    let (input, cost, _) = problem(exp)?;
    let j = *jobs(exp).get(index).ok_or_else(|| format!("solve {index} is not in the experiment"))?;
    solve(exp, &input, &cost, j).map_err(|e| format!("{j:?}: {e}"))
}

/// Draw the problem and run every solve on `threads` threads (each depends only on the problem,
/// so the results do not depend on `threads`), calling `progress` after each.
pub fn sweep(exp: &OtSparseExperiment, threads: usize, progress: &(dyn Fn() + Sync)) -> Result<OtSparseRun, String> {
    let (input, cost, _) = problem(exp)?;
    let jobs = jobs(exp);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build().map_err(|e| e.to_string())?;
    let solved: Vec<Solved> = pool.install(|| {
        jobs.par_iter()
            .map(|&j| {
                let r = solve(exp, &input, &cost, j).map_err(|e| format!("{j:?}: {e}"));
                progress();
                r
            })
            .collect::<Result<Vec<_>, String>>()
    })?;
    aggregate(exp, solved)
}

/// The results from every solve (in [`jobs`] order).
pub fn aggregate(exp: &OtSparseExperiment, solved: Vec<Solved>) -> Result<OtSparseRun, String> {
    let (input, _, scale) = problem(exp)?;
    let jobs = jobs(exp);
    if solved.len() != jobs.len() {
        return Err(format!("{} solves for {} jobs", solved.len(), jobs.len()));
    }
    let mut rows: Vec<OtRow> = solved.iter().zip(&jobs).map(|(s, &j)| row_of(s, j, exp, &input)).collect();
    let exact = rows[rows.len() - 1].cost;
    rows.iter_mut().for_each(|r| r.cost_gap = r.cost - exact);
    let reference = solved.last().and_then(|s| s.reference.clone()).unwrap_or_default();
    Ok(OtSparseRun {
        results: OtSparseResults {
            name: exp.name.clone(),
            n: exp.data.n,
            m: exp.data.m,
            seed: exp.data.seed,
            cost_scale: scale,
            gamma: exp.solve.gamma,
            epsilon: exp.solve.epsilon,
            ks: exp.solve.ks.clone(),
            reference,
            rows,
        },
        input,
        plans: solved.into_iter().map(|s| s.plan).collect(),
    })
}

fn opt_num(v: Option<impl std::fmt::Display>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

/// `results.csv`: one line per solve, numbers in Rust's shortest round-trip form.
pub fn to_csv(res: &OtSparseResults) -> String {
    let mut s = String::from(
        "method,k,reg,cost,cost_gap,objective,nonzeros,max_nonzeros_per_column,mean_nonzeros_per_column,row_error,col_error,iterations,converged\n",
    );
    for r in &res.rows {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.method,
            opt_num(r.k),
            opt_num(r.reg),
            r.cost,
            r.cost_gap,
            opt_num(r.objective),
            r.nonzeros,
            r.max_nonzeros_per_column,
            r.mean_nonzeros_per_column,
            r.row_error,
            r.col_error,
            r.iterations,
            r.converged
        ));
    }
    s
}

/// `clouds.csv`: the problem, `side,index,x,y,weight`, one line per point (`source` rows first,
/// then `target`), numbers in Rust's shortest round-trip form (so a reader gets the exact bits).
pub fn clouds_csv(input: &OtInput) -> String {
    let mut s = String::from("side,index,x,y,weight\n");
    for (side, pts, w) in [("source", &input.source, &input.a), ("target", &input.target, &input.b)] {
        for (i, wi) in w.iter().enumerate() {
            let p = pts.row(i);
            s.push_str(&format!("{side},{i},{},{},{wi}\n", p[0], p[1]));
        }
    }
    s
}

/// The plan plots: `(file stem, row method)`.
pub fn plan_plots(res: &OtSparseResults) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> =
        res.ks.iter().filter(|&&k| k == 1 || k == 4).map(|k| (format!("plan-k{k}"), format!("sparse k={k}"))).collect();
    v.push(("plan-quadratic".into(), "quadratic".into()));
    v.push(("plan-entropic".into(), "entropic".into()));
    v
}

/// Write `results.json`, `results.csv`, `clouds.csv`, the plots and `report.html` of `run` into
/// `out`.
pub fn write_outputs(exp: &OtSparseExperiment, run: &OtSparseRun, out: &Path) -> Result<(), RunError> {
    crate::rundir::write_results(out, &run.results, &to_csv(&run.results), || {
        let path = out.join("clouds.csv");
        reglab_train::tensorfile::write_atomic(&path, clouds_csv(&run.input).as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
        write_plots_and_report(exp, run, out)
    })
}

/// A plan in a cell: its shape and entries.
mod matrix_serde {
    use reglab_ot::Matrix;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Plain {
        rows: usize,
        cols: usize,
        data: Vec<f64>,
    }

    pub fn serialize<S: Serializer>(m: &Matrix, s: S) -> Result<S::Ok, S::Error> {
        Plain { rows: m.rows, cols: m.cols, data: m.data.clone() }.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Matrix, D::Error> {
        let p = Plain::deserialize(d)?;
        Matrix::new(p.rows, p.cols, p.data).map_err(serde::de::Error::custom)
    }
}

fn write_plots_and_report(exp: &OtSparseExperiment, run: &OtSparseRun, out: &Path) -> Result<(), String> {
    let res = &run.results;
    let plots = out.join("plots");
    let sparse: Vec<&OtRow> = res.rows.iter().filter(|r| r.k.is_some()).collect();
    let find = |m: &str| res.rows.iter().find(|r| r.method == m);
    let (kmin, kmax) = (res.ks[0] as f64, res.ks[res.ks.len() - 1] as f64);
    let flat = |label: String, v: f64, reference: bool| PathCurve { label, points: vec![(kmin, v), (kmax, v)], reference };
    let notes = vec![
        format!("n = {}, m = {}, seed {}, uniform weights", res.n, res.m, res.seed),
        format!("cost ‖x − y‖² / {}", format_number(res.cost_scale)),
        format!("γ = {}, ε = {}", format_number(res.gamma), format_number(res.epsilon)),
    ];
    let mut cost_curves = vec![PathCurve {
        label: format!("sparsity-constrained (γ = {})", format_number(res.gamma)),
        points: sparse.iter().map(|r| (r.k.unwrap_or(0) as f64, r.cost)).collect(),
        reference: false,
    }];
    if let Some(q) = find("quadratic") {
        cost_curves.push(flat(format!("quadratic (γ = {})", format_number(res.gamma)), q.cost, false));
    }
    if let Some(e) = find("entropic") {
        cost_curves.push(flat(format!("entropic (ε = {})", format_number(res.epsilon)), e.cost, false));
    }
    if let Some(x) = find("exact") {
        cost_curves.push(flat("exact OT".into(), x.cost, true));
    }
    let (lo, hi) =
        cost_curves.iter().flat_map(|c| c.points.iter().map(|p| p.1)).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let span = (hi - lo).max(1e-9);
    let x_label = "k, most non-zeros per column (log scale)";
    let cost_opts = PathPlot {
        title: "Transport cost ⟨C, T⟩ against k",
        y_label: "⟨C, T⟩",
        notes: &notes,
        y_max: Some(hi + 0.1 * span),
        y_min: Some((lo - 0.1 * span).max(0.0)),
        x_label: Some(x_label),
        lambda_max: None,
        linear_x: false,
    };
    plot_path(&cost_curves, &cost_opts, &plots.join("cost.png"), &plots.join("cost.svg"))?;
    let mut nz_curves = vec![
        PathCurve {
            label: "sparse: most per column".into(),
            points: sparse.iter().map(|r| (r.k.unwrap_or(0) as f64, r.max_nonzeros_per_column as f64)).collect(),
            reference: false,
        },
        PathCurve {
            label: "sparse: mean per column".into(),
            points: sparse.iter().map(|r| (r.k.unwrap_or(0) as f64, r.mean_nonzeros_per_column)).collect(),
            reference: false,
        },
    ];
    if let Some(q) = find("quadratic") {
        nz_curves.push(flat("quadratic: most per column".into(), q.max_nonzeros_per_column as f64, false));
        nz_curves.push(flat("quadratic: mean per column".into(), q.mean_nonzeros_per_column, false));
    }
    nz_curves.push(PathCurve { label: "the budget k".into(), points: res.ks.iter().map(|&k| (k as f64, k as f64)).collect(), reference: true });
    let mut nz_notes = notes.clone();
    if let Some(e) = find("entropic") {
        nz_notes.push(format!("entropic: {} per column at most (of n = {})", e.max_nonzeros_per_column, res.n));
    }
    if let Some(x) = find("exact") {
        nz_notes.push(format!("exact: {} per column at most", x.max_nonzeros_per_column));
    }
    let nz_opts = PathPlot {
        title: "Non-zeros per column of the plan against k",
        y_label: "non-zeros per column",
        notes: &nz_notes,
        x_label: Some(x_label),
        ..Default::default()
    };
    plot_path(&nz_curves, &nz_opts, &plots.join("nonzeros.png"), &plots.join("nonzeros.svg"))?;
    let mut figures = vec![
        Figure {
            png: "plots/cost.png".into(),
            svg: Some("plots/cost.svg".into()),
            caption: "Transport cost against k, with quadratic, entropic and exact OT as horizontal lines".into(),
        },
        Figure { png: "plots/nonzeros.png".into(), svg: Some("plots/nonzeros.svg".into()), caption: "Non-zeros per column against k".into() },
    ];
    for (stem, method) in plan_plots(res) {
        let Some(i) = res.rows.iter().position(|r| r.method == method) else { continue };
        let r = &res.rows[i];
        let what = match r.k {
            Some(k) => format!("sparse, k = {k}, γ = {}", format_number(res.gamma)),
            None if method == "entropic" => format!("entropic, ε = {}", format_number(res.epsilon)),
            None => format!("quadratic, γ = {}", format_number(res.gamma)),
        };
        plot_plan_links(&plots.join(format!("{stem}.png")), &run.input, &run.plans[i], &what)?;
        figures.push(Figure {
            png: format!("plots/{stem}.png"),
            svg: Some(format!("plots/{stem}.svg")),
            caption: format!("The plan of {method}: strongest links"),
        });
    }
    let columns = [
        "k",
        "γ or ε",
        "⟨C, T⟩",
        "⟨C, T⟩ − exact",
        "most non-zeros per column",
        "mean non-zeros per column",
        "non-zeros",
        "row error ‖T1 − a‖₁",
        "column error ‖Tᵀ1 − b‖₁",
        "iterations",
        "converged",
    ]
    .map(String::from)
    .to_vec();
    let rows = res
        .rows
        .iter()
        .map(|r| SummaryRow {
            arm: r.method.clone(),
            cells: vec![
                r.k.map_or(Cell::Missing, |k| Cell::Num(k as f64)),
                r.reg.map_or(Cell::Missing, Cell::Num),
                Cell::Num(r.cost),
                Cell::Num(r.cost_gap),
                Cell::Num(r.max_nonzeros_per_column as f64),
                Cell::Num(r.mean_nonzeros_per_column),
                Cell::Num(r.nonzeros as f64),
                Cell::Num(r.row_error),
                Cell::Num(r.col_error),
                Cell::Num(r.iterations as f64),
                Cell::Text(r.converged.to_string()),
            ],
        })
        .collect();
    let input = ReportInput {
        title: exp.name.clone(),
        question: if exp.question.is_empty() {
            format!("Sparsity-constrained, quadratic and entropic OT between two point clouds, n = {}, m = {}.", res.n, res.m)
        } else {
            exp.question.clone()
        },
        columns,
        rows,
        table_note: format!(
            "Cost: squared Euclidean distance divided by its largest value {}. Non-zeros: entries exactly non-zero, except the entropic \
             plan's, counted above 10⁻¹² of the mass. The reference row is {}. Iterations: L-BFGS for sparse and quadratic, Sinkhorn \
             (all ε-scaling stages) for entropic. Sparse rows: the semi-dual (columns exact and k-sparse by construction); quadratic: the dual.",
            format_number(res.cost_scale),
            res.reference
        ),
        figures,
        config_toml: exp.to_toml(),
    };
    let path = out.join("report.html");
    crate::report::write_report(&path, &input).map_err(|e| format!("{}: {e}", path.display()))
}
