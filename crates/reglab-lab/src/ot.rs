//! Optimal transport between two point clouds read from CSV files (`reglab ot`).
//!
//! - Inputs ([`load`]): the source and target clouds (one point per line, comma-separated
//!   numbers, an optional header line), optional weights files (one number per line; default
//!   uniform) and, for the class-based problem, a labels file for the source points (one
//!   non-negative integer per line). Errors name the file, line and column.
//! - Solving ([`run`]): the cost matrix ([`Metric`]) and one of the solvers of [`reglab_ot`]
//!   chosen by [`Method`], summarized in an [`OtReport`].
//! - Outputs: the plan as CSV ([`write_plan_csv`], atomically), the report as JSON
//!   ([`OtReport::json`]) and a plot of the two clouds with the plan's strongest links
//!   ([`plot_links`], PNG and SVG).

use crate::RunError;
use reglab_ot::{
    ClassOtOptions, EpsScaling, Error as OtError, Matrix, Metric, SinkhornOptions, SmoothOptions, check_histogram, check_marginals, class_ot,
    cost_matrix, sinkhorn, sinkhorn_log, smooth_ot_l2, sparse_ot_semi_dual, uniform,
};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The transport problem and its solver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Entropic OT by Sinkhorn–Knopp scaling (`reg` = ε).
    Sinkhorn,
    /// Entropic OT by log-domain Sinkhorn, optionally with ε-scaling (`reg` = ε).
    SinkhornLog,
    /// Quadratically regularized OT through its smooth dual (`reg` = γ).
    Smooth,
    /// Sparsity-constrained OT, at most `k` non-zeros per column (`reg` = γ).
    Sparse,
    /// Class-based OT with the sum-of-norms regularizer by ADMM (`reg` = λ; needs labels).
    Class,
}

impl Method {
    /// Every method, in the order of the help text.
    pub const ALL: [Method; 5] = [Method::Sinkhorn, Method::SinkhornLog, Method::Smooth, Method::Sparse, Method::Class];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Method::Sinkhorn => "sinkhorn",
            Method::SinkhornLog => "sinkhorn-log",
            Method::Smooth => "smooth",
            Method::Sparse => "sparse",
            Method::Class => "class",
        }
    }

    /// The name of its regularization strength.
    pub fn reg_name(self) -> &'static str {
        match self {
            Method::Sinkhorn | Method::SinkhornLog => "ε",
            Method::Smooth | Method::Sparse => "γ",
            Method::Class => "λ",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Method::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
            format!("unknown method `{s}`: expected {}", names.join(" | "))
        })
    }
}

/// Parse a metric name: `sqeuclidean | euclidean`.
pub fn parse_metric(s: &str) -> Result<Metric, String> {
    match s {
        "sqeuclidean" => Ok(Metric::SqEuclidean),
        "euclidean" => Ok(Metric::Euclidean),
        _ => Err(format!("unknown metric `{s}`: expected sqeuclidean | euclidean")),
    }
}

/// The name of a metric on the command line.
pub fn metric_name(m: Metric) -> &'static str {
    match m {
        Metric::SqEuclidean => "sqeuclidean",
        Metric::Euclidean => "euclidean",
    }
}

/// What to solve and how.
#[derive(Debug, Clone, PartialEq)]
pub struct OtOptions {
    /// The problem and solver.
    pub method: Method,
    /// The regularization strength: ε (Sinkhorn), γ (smooth, sparse) or λ (class).
    pub reg: f64,
    /// Most non-zeros per column (sparse only; required there, `k ≥ 1`).
    pub k: Option<usize>,
    /// The ground cost.
    pub metric: Metric,
    /// Most iterations (default: the solver's own).
    pub max_iter: Option<usize>,
    /// Stopping tolerance (default: the solver's own).
    pub tol: Option<f64>,
    /// ε-scaling from the largest cost (sinkhorn-log only).
    pub eps_scaling: bool,
}

impl OtOptions {
    /// Options with the solvers' defaults for `method` at strength `reg`.
    pub fn new(method: Method, reg: f64) -> Self {
        Self { method, reg, k: None, metric: Metric::SqEuclidean, max_iter: None, tol: None, eps_scaling: false }
    }

    /// Errors (one line) for options that do not fit the method or are out of range.
    pub fn validate(&self) -> Result<(), String> {
        let m = self.method;
        if !self.reg.is_finite() {
            return Err(format!("--reg ({}) must be finite, got {}", m.reg_name(), self.reg));
        }
        match m {
            Method::Class if self.reg < 0.0 => return Err(format!("--reg (λ) must be ≥ 0, got {}", self.reg)),
            Method::Class => {}
            _ if self.reg <= 0.0 => return Err(format!("--reg ({}) must be > 0, got {}", m.reg_name(), self.reg)),
            _ => {}
        }
        match (m, self.k) {
            (Method::Sparse, None) => return Err("method sparse needs --k (most non-zeros per column, ≥ 1)".into()),
            (Method::Sparse, Some(0)) => return Err("--k must be ≥ 1".into()),
            (Method::Sparse, Some(_)) => {}
            (_, Some(_)) => return Err(format!("--k applies to method sparse only, not {m}")),
            (_, None) => {}
        }
        if self.eps_scaling && m != Method::SinkhornLog {
            return Err(format!("--eps-scaling applies to method sinkhorn-log only, not {m}"));
        }
        if self.max_iter == Some(0) {
            return Err("--max-iter must be ≥ 1".into());
        }
        if let Some(t) = self.tol
            && !(t.is_finite() && t >= 0.0)
        {
            return Err(format!("--tol must be finite and ≥ 0, got {t}"));
        }
        Ok(())
    }
}

/// The files of a problem.
#[derive(Debug, Clone, Default)]
pub struct OtPaths {
    /// Source points (CSV, `n × d`).
    pub source: PathBuf,
    /// Target points (CSV, `m × d`).
    pub target: PathBuf,
    /// Source weights (`n` numbers; default uniform).
    pub weights_a: Option<PathBuf>,
    /// Target weights (`m` numbers; default uniform).
    pub weights_b: Option<PathBuf>,
    /// Source labels (`n` non-negative integers; class only).
    pub labels_a: Option<PathBuf>,
}

/// A checked problem: two clouds of the same dimension, weights of equal mass, optional labels.
#[derive(Debug, Clone, PartialEq)]
pub struct OtInput {
    /// Source points, `n × d`.
    pub source: Matrix,
    /// Target points, `m × d`.
    pub target: Matrix,
    /// Source weights (length `n`).
    pub a: Vec<f64>,
    /// Target weights (length `m`).
    pub b: Vec<f64>,
    /// Source labels (length `n`), if given.
    pub labels: Option<Vec<usize>>,
}

/// Numbers read from a CSV file: one row per data line, with the line number of each row.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The values, `rows × cols`.
    pub values: Matrix,
    /// The 1-based line of each row in the file.
    pub lines: Vec<usize>,
}

/// Parse comma-separated numbers: one row per line, all lines with the same number of values;
/// blank lines are skipped; a first line none of whose fields is a number is a header. `name`
/// (the file) starts every error: ragged lines, a field that is not a number, NaN or infinite
/// values, no data at all.
pub fn parse_table(text: &str, name: &str) -> Result<Table, String> {
    let mut data = Vec::new();
    let mut lines = Vec::new();
    let mut cols = 0usize;
    let mut first_line = 0usize;
    let mut seen_any = false;
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if !seen_any {
            seen_any = true;
            if fields.iter().all(|f| f.parse::<f64>().is_err()) {
                continue; // header
            }
        }
        if lines.is_empty() {
            cols = fields.len();
            first_line = line_no;
        } else if fields.len() != cols {
            let s = if fields.len() == 1 { "" } else { "s" };
            return Err(format!("{name} line {line_no}: {} value{s}, line {first_line} had {cols}", fields.len()));
        }
        for (c, f) in fields.iter().enumerate() {
            let v: f64 = f.parse().map_err(|_| format!("{name} line {line_no}, column {}: `{f}` is not a number", c + 1))?;
            if !v.is_finite() {
                return Err(format!("{name} line {line_no}, column {}: `{f}` is not finite", c + 1));
            }
            data.push(v);
        }
        lines.push(line_no);
    }
    if lines.is_empty() {
        return Err(format!("{name} is empty: no data lines"));
    }
    let values = Matrix::new(lines.len(), cols, data).map_err(|e| format!("{name}: {e}"))?;
    Ok(Table { values, lines })
}

/// Parse a weights file: one finite, non-negative number per line (a single column), not all
/// zero.
pub fn parse_weights(text: &str, name: &str) -> Result<Vec<f64>, String> {
    let t = parse_table(text, name)?;
    if t.values.cols != 1 {
        return Err(format!("{name} line {}: {} values, weights need one per line", t.lines[0], t.values.cols));
    }
    for (i, &w) in t.values.data.iter().enumerate() {
        if w < 0.0 {
            return Err(format!("{name} line {}: negative weight {w}", t.lines[i]));
        }
    }
    check_histogram(&t.values.data, "weights").map_err(|e| match e {
        OtError::ZeroMass { .. } => format!("{name}: weights sum to zero"),
        e => format!("{name}: {e}"),
    })?;
    Ok(t.values.data)
}

/// Parse a labels file: one non-negative integer per line; a first line that is not an integer
/// is a header.
pub fn parse_labels(text: &str, name: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    let mut seen_any = false;
    for (idx, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let first = !seen_any;
        seen_any = true;
        if line.contains(',') {
            let n = line.split(',').count();
            if first && line.split(',').all(|f| f.trim().parse::<f64>().is_err()) {
                continue;
            }
            return Err(format!("{name} line {}: {n} values, labels need one per line", idx + 1));
        }
        match line.parse::<usize>() {
            Ok(v) => out.push(v),
            Err(_) if first && line.parse::<f64>().is_err() => {} // header
            Err(_) => return Err(format!("{name} line {}: `{line}` is not a non-negative integer", idx + 1)),
        }
    }
    if out.is_empty() {
        return Err(format!("{name} is empty: no labels"));
    }
    Ok(out)
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Read and check a problem: clouds of the same dimension, one weight and one label per point,
/// weights of equal mass (default uniform). Errors are one line naming the file.
pub fn load(paths: &OtPaths) -> Result<OtInput, String> {
    let (sn, tn) = (paths.source.display().to_string(), paths.target.display().to_string());
    let source = parse_table(&read(&paths.source)?, &sn)?.values;
    let target = parse_table(&read(&paths.target)?, &tn)?.values;
    if source.cols != target.cols {
        return Err(format!("dimension mismatch: {sn} has {} coordinates per point, {tn} has {}", source.cols, target.cols));
    }
    let weights = |p: &Option<PathBuf>, points: &str, n: usize| -> Result<Vec<f64>, String> {
        let Some(p) = p else { return Ok(uniform(n)) };
        let name = p.display().to_string();
        let w = parse_weights(&read(p)?, &name)?;
        if w.len() != n {
            return Err(format!("{name}: {} weights for {n} points in {points}", w.len()));
        }
        Ok(w)
    };
    let a = weights(&paths.weights_a, &sn, source.rows)?;
    let b = weights(&paths.weights_b, &tn, target.rows)?;
    check_marginals(&a, &b).map_err(|e| match e {
        OtError::MassMismatch { a: sa, b: sb } => {
            let na = paths.weights_a.as_ref().map_or("uniform weights of A".into(), |p| p.display().to_string());
            let nb = paths.weights_b.as_ref().map_or("uniform weights of B".into(), |p| p.display().to_string());
            format!("weights carry different mass: {na} sums to {sa}, {nb} sums to {sb}")
        }
        e => e.to_string(),
    })?;
    let labels = match &paths.labels_a {
        None => None,
        Some(p) => {
            let name = p.display().to_string();
            let l = parse_labels(&read(p)?, &name)?;
            if l.len() != source.rows {
                return Err(format!("{name}: {} labels for {} points in {sn}", l.len(), source.rows));
            }
            Some(l)
        }
    };
    Ok(OtInput { source, target, a, b, labels })
}

/// The solution of one problem: the plan and what describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OtReport {
    /// The method's name.
    pub method: String,
    /// The metric's name.
    pub metric: String,
    /// Source points.
    pub n: usize,
    /// Target points.
    pub m: usize,
    /// Dimension of the points.
    pub d: usize,
    /// The regularization strength (ε, γ or λ).
    pub reg: f64,
    /// Most non-zeros per column (sparse only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<usize>,
    /// The transport cost `⟨C, T⟩`.
    pub cost: f64,
    /// The regularized objective: `⟨C,T⟩ − εH(T)`, `⟨C,T⟩ + (γ/2)‖T‖²`, `⟨C,T⟩ + λ R(T)`.
    pub objective: Option<f64>,
    /// `‖T 1 − a‖₁`.
    pub row_error: f64,
    /// `‖Tᵀ 1 − b‖₁`.
    pub col_error: f64,
    /// Entries above `1e-12 ·` the total mass.
    pub nonzeros: usize,
    /// The most such entries in one column.
    pub max_nonzeros_per_column: usize,
    /// Solver iterations.
    pub iterations: usize,
    /// Whether the solver met its stopping rule.
    pub converged: bool,
    /// Wall-clock seconds of the solve (not in [`OtReport::json`] without timing).
    #[serde(skip)]
    pub seconds: f64,
    /// The plan `T`, `n × m` (not serialized; see [`write_plan_csv`]).
    #[serde(skip)]
    pub plan: Matrix,
}

impl OtReport {
    /// The report as JSON; with `timing`, plus `seconds` (the rest is deterministic).
    pub fn json(&self, timing: bool) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("report serializes");
        if timing && let Some(o) = v.as_object_mut() {
            o.insert("seconds".into(), serde_json::json!(self.seconds));
        }
        v
    }
}

/// The relative threshold below which a plan entry counts as zero.
pub const ZERO_RTOL: f64 = 1e-12;

/// `(non-zeros, most non-zeros in one column)` of `plan`, counting entries `> ZERO_RTOL · mass`.
pub fn count_nonzeros(plan: &Matrix, mass: f64) -> (usize, usize) {
    let thr = ZERO_RTOL * mass;
    let mut per_col = vec![0usize; plan.cols];
    for i in 0..plan.rows {
        for (c, &t) in per_col.iter_mut().zip(plan.row(i)) {
            if t > thr {
                *c += 1;
            }
        }
    }
    (per_col.iter().sum(), per_col.iter().copied().max().unwrap_or(0))
}

/// Solve the problem. Input errors (options that do not fit, missing labels) are
/// [`RunError::Input`]; a solver failure (e.g. plain Sinkhorn underflowing) is
/// [`RunError::Failed`].
pub fn run(input: &OtInput, opts: &OtOptions) -> Result<OtReport, RunError> {
    opts.validate().map_err(RunError::Input)?;
    if opts.method == Method::Class && input.labels.is_none() {
        return Err(RunError::Input("method class needs labels of the source points (--labels-a)".into()));
    }
    let cost = cost_matrix(&input.source, &input.target, opts.metric).map_err(|e| RunError::Input(e.to_string()))?;
    let (a, b) = (&input.a[..], &input.b[..]);
    let solver_err = |e: OtError| match e {
        OtError::Numerical { .. } => RunError::Failed(e.to_string()),
        e => RunError::Input(e.to_string()),
    };
    let start = std::time::Instant::now();
    let (plan, cost_value, objective, iterations, converged) = match opts.method {
        Method::Sinkhorn | Method::SinkhornLog => {
            let mut so = SinkhornOptions::default();
            if let Some(n) = opts.max_iter {
                so.max_iter = n;
            }
            if let Some(t) = opts.tol {
                so.tol = t;
            }
            let r = if opts.method == Method::Sinkhorn {
                sinkhorn(a, b, &cost, opts.reg, &so)
            } else {
                let scaling = opts.eps_scaling.then(|| EpsScaling::from_cost(&cost));
                sinkhorn_log(a, b, &cost, opts.reg, &so, scaling.as_ref())
            }
            .map_err(solver_err)?;
            (r.plan, r.cost, Some(r.entropic_cost), r.iterations, r.converged)
        }
        Method::Smooth | Method::Sparse => {
            let mut so = SmoothOptions::default();
            if let Some(n) = opts.max_iter {
                so.max_iter = n;
            }
            if let Some(t) = opts.tol {
                so.tol = t;
            }
            let r = match opts.k {
                // the paper's semi-dual: exact column marginals, ≤ k non-zeros per column
                Some(k) => sparse_ot_semi_dual(a, b, &cost, opts.reg, k, &so),
                None => smooth_ot_l2(a, b, &cost, opts.reg, &so),
            }
            .map_err(solver_err)?;
            (r.plan, r.cost, Some(r.objective), r.iterations, r.converged)
        }
        Method::Class => {
            let mut co = ClassOtOptions::default();
            if let Some(n) = opts.max_iter {
                co.max_iter = n;
            }
            if let Some(t) = opts.tol {
                co.tol = t;
            }
            let labels = input.labels.as_deref().unwrap_or_default();
            let r = class_ot(a, b, &cost, labels, opts.reg, &co).map_err(solver_err)?;
            (r.plan, r.cost, Some(r.objective), r.iterations, r.converged)
        }
    };
    let seconds = start.elapsed().as_secs_f64();
    let l1 = |s: Vec<f64>, w: &[f64]| s.iter().zip(w).map(|(x, y)| (x - y).abs()).sum::<f64>();
    let row_error = l1(plan.row_sums(), a);
    let col_error = l1(plan.col_sums(), b);
    let mass: f64 = a.iter().sum();
    let (nonzeros, max_nonzeros_per_column) = count_nonzeros(&plan, mass);
    Ok(OtReport {
        method: opts.method.name().into(),
        metric: metric_name(opts.metric).into(),
        n: input.source.rows,
        m: input.target.rows,
        d: input.source.cols,
        reg: opts.reg,
        k: opts.k,
        cost: cost_value,
        objective: objective.filter(|v| v.is_finite()),
        row_error,
        col_error,
        nonzeros,
        max_nonzeros_per_column,
        iterations,
        converged,
        seconds,
        plan,
    })
}

/// The plan as CSV: `n` lines of `m` comma-separated numbers in Rust's shortest round-trip
/// formatting.
pub fn plan_csv(plan: &Matrix) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(plan.rows * plan.cols * 12);
    for i in 0..plan.rows {
        for (j, v) in plan.row(i).iter().enumerate() {
            if j > 0 {
                s.push(',');
            }
            let _ = write!(s, "{v}");
        }
        s.push('\n');
    }
    s
}

/// Write [`plan_csv`] to `path` atomically (a temporary file beside it, then renamed).
pub fn write_plan_csv(path: &Path, plan: &Matrix) -> Result<(), String> {
    reglab_train::tensorfile::write_atomic(path, plan_csv(plan).as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
}

/// Most links drawn by [`plot_links`].
pub const MAX_LINKS: usize = 2000;
/// Share of the mass carried by the links drawn by [`plot_links`].
pub const LINK_MASS: f64 = 0.95;

/// The links drawn: `(i, j, T_ij)` by decreasing `T_ij`, the fewest carrying [`LINK_MASS`] of
/// the plan's mass, at most [`MAX_LINKS`].
pub fn strongest_links(plan: &Matrix) -> Vec<(usize, usize, f64)> {
    let mut all: Vec<(usize, usize, f64)> = Vec::new();
    for i in 0..plan.rows {
        for (j, &t) in plan.row(i).iter().enumerate() {
            if t > 0.0 {
                all.push((i, j, t));
            }
        }
    }
    all.sort_by(|x, y| y.2.total_cmp(&x.2).then((x.0, x.1).cmp(&(y.0, y.1))));
    let total: f64 = all.iter().map(|l| l.2).sum();
    let mut acc = 0.0;
    let mut keep = 0;
    for l in &all {
        if keep >= MAX_LINKS || acc >= LINK_MASS * total {
            break;
        }
        acc += l.2;
        keep += 1;
    }
    all.truncate(keep);
    all
}

/// The SVG beside a PNG path (`links.png` → `links.svg`).
pub fn svg_path(png: &Path) -> PathBuf {
    png.with_extension("svg")
}

/// Plot the two clouds and the plan's strongest links (see [`strongest_links`]; opacity and
/// width grow with `T_ij`) and write `png` and the SVG beside it ([`svg_path`]), atomically.
/// Points in 2-D are drawn as they are; for `d > 2` the first two coordinates are drawn, for
/// `d = 1` the source at height 0 and the target at height 1; the note under the title says so.
/// Returns that note (empty for `d = 2`).
pub fn plot_links(png: &Path, input: &OtInput, report: &OtReport) -> Result<String, String> {
    let reg = format!("{} = {}", Method::from_str(&report.method).map_or("reg", |m| m.reg_name()), report.reg);
    plot_plan_links(png, input, &report.plan, &format!("{} ({reg})", report.method))
}

/// [`plot_links`] for any plan of `input`'s clouds, titled `"{what}: N links, P % of the mass"`.
pub fn plot_plan_links(png: &Path, input: &OtInput, plan: &Matrix, what: &str) -> Result<String, String> {
    let (d, n, m) = (input.source.cols, input.source.rows, input.target.rows);
    let xy = |p: &Matrix, i: usize, y1: f64| -> (f64, f64) {
        let r = p.row(i);
        if d == 1 { (r[0], y1) } else { (r[0], r[1]) }
    };
    let src: Vec<(f64, f64)> = (0..n).map(|i| xy(&input.source, i, 0.0)).collect();
    let tgt: Vec<(f64, f64)> = (0..m).map(|j| xy(&input.target, j, 1.0)).collect();
    let links = strongest_links(plan);
    let note = match d {
        1 => "1-D points: source at height 0, target at height 1".to_string(),
        2 => String::new(),
        _ => format!("{d}-D points: first two coordinates drawn"),
    };
    let total: f64 = plan.data.iter().sum();
    let drawn: f64 = links.iter().map(|l| l.2).sum();
    let title = format!("{what}: {} links, {:.1} % of the mass", links.len(), 100.0 * drawn / total.max(f64::MIN_POSITIVE));
    let fig = Figure { src: &src, tgt: &tgt, links: &links, title: &title, note: &note };
    crate::report::plot::write_png_svg(png, &svg_path(png), |r| fig.draw(r), |r| fig.draw(r))?;
    Ok(note)
}

struct Figure<'a> {
    src: &'a [(f64, f64)],
    tgt: &'a [(f64, f64)],
    links: &'a [(usize, usize, f64)],
    title: &'a str,
    note: &'a str,
}

impl Figure<'_> {
    fn draw<DB: plotters::prelude::DrawingBackend>(&self, root: &plotters::drawing::DrawingArea<DB, plotters::coord::Shift>) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        use crate::report::plot::{arm_color, font, note_font};
        use plotters::prelude::*;
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        root.fill(&WHITE).map_err(err)?;
        let root = root.margin(8, 8, 8, 8).titled(self.title, font(22.0)).map_err(err)?;
        if !self.note.is_empty() {
            root.draw(&Text::new(self.note.to_string(), (10, 0), note_font())).map_err(err)?;
        }
        let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        for &(x, y) in self.src.iter().chain(self.tgt) {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        let xp = ((x1 - x0) * 0.05).max(1e-9 * x1.abs().max(1.0));
        let yp = ((y1 - y0) * 0.05).max(1e-9 * y1.abs().max(1.0));
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .margin_top(24)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((x0 - xp)..(x1 + xp), (y0 - yp)..(y1 + yp))
            .map_err(err)?;
        chart.configure_mesh().label_style(font(14.0)).light_line_style(WHITE.mix(0.0)).bold_line_style(BLACK.mix(0.08)).draw().map_err(err)?;
        let tmax = self.links.first().map_or(1.0, |l| l.2);
        let gray = RGBColor(0x33, 0x33, 0x33);
        // Weakest first, so the strongest links are drawn on top.
        chart
            .draw_series(self.links.iter().rev().map(|&(i, j, t)| {
                let s = t / tmax;
                let style = gray.mix(0.08 + 0.82 * s).stroke_width(1 + (3.0 * s).round() as u32);
                PathElement::new(vec![self.src[i], self.tgt[j]], style)
            }))
            .map_err(err)?
            .label("links (opacity, width ∝ T_ij)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], gray.mix(0.7).stroke_width(2)));
        let (ca, cb) = (arm_color(0), arm_color(1));
        chart
            .draw_series(self.src.iter().map(|&p| Circle::new(p, 4, ca.filled())))
            .map_err(err)?
            .label(format!("source ({})", self.src.len()))
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, ca.filled()));
        chart
            .draw_series(self.tgt.iter().map(|&p| TriangleMarker::new(p, 5, cb.filled())))
            .map_err(err)?
            .label(format!("target ({})", self.tgt.len()))
            .legend(move |(x, y)| TriangleMarker::new((x + 10, y), 5, cb.filled()));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .label_font(font(14.0))
            .draw()
            .map_err(err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Six source points in two classes, five target points, uneven weights.
    fn problem() -> OtInput {
        let source = Matrix::from_rows(&[[0.0, 0.0], [1.0, 0.2], [0.3, 1.0], [2.0, 2.0], [2.5, 1.5], [1.8, 2.6]]).unwrap();
        let target = Matrix::from_rows(&[[0.2, 0.1], [0.9, 0.8], [2.1, 2.2], [2.6, 1.9], [1.0, 2.0]]).unwrap();
        let a = vec![0.1, 0.2, 0.1, 0.25, 0.15, 0.2];
        let b = vec![0.2, 0.2, 0.2, 0.2, 0.2];
        OtInput { source, target, a, b, labels: Some(vec![0, 0, 0, 1, 1, 1]) }
    }

    #[test]
    fn csv_with_header_and_blank_lines() {
        let t = parse_table("x,y\n1,2\n\n3.5, -4e-1\n", "A.csv").unwrap();
        assert_eq!(t.values, Matrix::from_rows(&[[1.0, 2.0], [3.5, -0.4]]).unwrap());
        assert_eq!(t.lines, vec![2, 4]);
        let t = parse_table("1\n2\n", "W.csv").unwrap();
        assert_eq!(t.values.shape(), (2, 1));
    }

    #[test]
    fn csv_errors_name_file_line_and_column() {
        assert_eq!(parse_table("1,2\n3,4\n5,6\n7,8,9\n", "B.csv").unwrap_err(), "B.csv line 4: 3 values, line 1 had 2");
        assert_eq!(parse_table("x,y\n1,2\n3\n", "B.csv").unwrap_err(), "B.csv line 3: 1 value, line 2 had 2");
        assert_eq!(parse_table("1,2\n3,abc\n", "A.csv").unwrap_err(), "A.csv line 2, column 2: `abc` is not a number");
        assert_eq!(parse_table("1,2\nNaN,4\n", "A.csv").unwrap_err(), "A.csv line 2, column 1: `NaN` is not finite");
        assert_eq!(parse_table("1,inf\n", "A.csv").unwrap_err(), "A.csv line 1, column 2: `inf` is not finite");
        assert_eq!(parse_table("", "A.csv").unwrap_err(), "A.csv is empty: no data lines");
        assert_eq!(parse_table("x,y\n\n", "A.csv").unwrap_err(), "A.csv is empty: no data lines");
        // A first line with some numbers is data, not a header.
        assert_eq!(parse_table("1,y\n", "A.csv").unwrap_err(), "A.csv line 1, column 2: `y` is not a number");
    }

    #[test]
    fn weights_and_labels_files() {
        assert_eq!(parse_weights("w\n0.5\n0.5\n", "W.csv").unwrap(), vec![0.5, 0.5]);
        assert_eq!(parse_weights("0.5\n-0.1\n", "W.csv").unwrap_err(), "W.csv line 2: negative weight -0.1");
        assert_eq!(parse_weights("0,0\n", "W.csv").unwrap_err(), "W.csv line 1: 2 values, weights need one per line");
        assert_eq!(parse_weights("0\n0\n", "W.csv").unwrap_err(), "W.csv: weights sum to zero");
        assert_eq!(parse_labels("label\n0\n2\n1\n", "L.csv").unwrap(), vec![0, 2, 1]);
        assert_eq!(parse_labels("0\n-1\n", "L.csv").unwrap_err(), "L.csv line 2: `-1` is not a non-negative integer");
        assert_eq!(parse_labels("0\n1.5\n", "L.csv").unwrap_err(), "L.csv line 2: `1.5` is not a non-negative integer");
        assert_eq!(parse_labels("\n", "L.csv").unwrap_err(), "L.csv is empty: no labels");
    }

    #[test]
    fn load_checks_counts_dimensions_and_mass() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let paths = OtPaths { source: write(d, "A.csv", "x,y\n0,0\n1,0\n0,1\n"), target: write(d, "B.csv", "1,1\n2,2\n"), ..Default::default() };
        let p = load(&paths).unwrap();
        assert_eq!((p.source.rows, p.target.rows, p.source.cols), (3, 2, 2));
        assert_eq!(p.a, uniform(3));
        let name = |f: &str| d.join(f).display().to_string();

        let bad = OtPaths { target: write(d, "B3.csv", "1,1,1\n"), ..paths.clone() };
        assert_eq!(load(&bad).unwrap_err(), format!("dimension mismatch: {} has 2 coordinates per point, {} has 3", name("A.csv"), name("B3.csv")));
        let bad = OtPaths { weights_a: Some(write(d, "WA.csv", "0.5\n0.5\n")), ..paths.clone() };
        assert_eq!(load(&bad).unwrap_err(), format!("{}: 2 weights for 3 points in {}", name("WA.csv"), name("A.csv")));
        let bad = OtPaths { weights_b: Some(write(d, "WB.csv", "0.5\n0.4\n")), ..paths.clone() };
        let e = load(&bad).unwrap_err();
        assert!(e.starts_with("weights carry different mass: uniform weights of A sums to 1,"), "{e}");
        assert!(e.contains(&format!("{} sums to 0.9", name("WB.csv"))), "{e}");
        let bad = OtPaths { weights_b: Some(write(d, "WN.csv", "1.5\n-0.5\n")), ..paths.clone() };
        assert_eq!(load(&bad).unwrap_err(), format!("{} line 2: negative weight -0.5", name("WN.csv")));
        let bad = OtPaths { labels_a: Some(write(d, "LA.csv", "0\n1\n")), ..paths.clone() };
        assert_eq!(load(&bad).unwrap_err(), format!("{}: 2 labels for 3 points in {}", name("LA.csv"), name("A.csv")));
        let missing = OtPaths { source: d.join("nope.csv"), ..paths };
        assert!(load(&missing).unwrap_err().starts_with(&name("nope.csv")));
    }

    #[test]
    fn methods_parse_and_options_are_checked() {
        for m in Method::ALL {
            assert_eq!(m.name().parse::<Method>().unwrap(), m);
        }
        assert_eq!("emd".parse::<Method>().unwrap_err(), "unknown method `emd`: expected sinkhorn | sinkhorn-log | smooth | sparse | class");
        assert!(parse_metric("cosine").is_err());
        assert_eq!(parse_metric("euclidean").unwrap(), Metric::Euclidean);
        assert!(OtOptions::new(Method::Sparse, 1.0).validate().unwrap_err().contains("needs --k"));
        assert!(OtOptions { k: Some(0), ..OtOptions::new(Method::Sparse, 1.0) }.validate().unwrap_err().contains("≥ 1"));
        assert!(OtOptions { k: Some(2), ..OtOptions::new(Method::Smooth, 1.0) }.validate().is_err());
        assert!(OtOptions { eps_scaling: true, ..OtOptions::new(Method::Sinkhorn, 1.0) }.validate().is_err());
        assert!(OtOptions::new(Method::Sinkhorn, 0.0).validate().is_err());
        assert!(OtOptions::new(Method::Class, 0.0).validate().is_ok());
        assert!(OtOptions::new(Method::Class, -1.0).validate().is_err());
        let mut no_labels = problem();
        no_labels.labels = None;
        let e = run(&no_labels, &OtOptions::new(Method::Class, 0.1)).unwrap_err();
        assert!(matches!(&e, RunError::Input(m) if m.contains("--labels-a")), "{e}");
    }

    #[test]
    fn every_method_meets_the_marginals() {
        let p = problem();
        let cases = [
            OtOptions { max_iter: Some(100_000), ..OtOptions::new(Method::Sinkhorn, 0.5) },
            OtOptions { max_iter: Some(100_000), ..OtOptions::new(Method::SinkhornLog, 0.2) },
            OtOptions { eps_scaling: true, metric: Metric::Euclidean, max_iter: Some(100_000), ..OtOptions::new(Method::SinkhornLog, 0.2) },
            OtOptions::new(Method::Smooth, 0.5),
            OtOptions { k: Some(2), ..OtOptions::new(Method::Sparse, 0.5) },
            OtOptions::new(Method::Class, 0.1),
        ];
        for o in &cases {
            let r = run(&p, o).unwrap_or_else(|e| panic!("{}: {e}", o.method));
            assert!(r.converged, "{}: {r:?}", o.method);
            assert!(r.row_error < 1e-6 && r.col_error < 1e-6, "{}: {} {}", o.method, r.row_error, r.col_error);
            assert_eq!((r.n, r.m, r.d), (6, 5, 2));
            assert_eq!(r.plan.shape(), (6, 5));
            assert!(r.plan.data.iter().all(|&t| t >= 0.0));
            assert!(r.cost > 0.0 && r.objective.is_some());
            assert!(r.nonzeros >= 5 && r.nonzeros <= 30 && r.max_nonzeros_per_column <= 6);
            if let Some(k) = o.k {
                assert!(r.max_nonzeros_per_column <= k, "{r:?}");
            }
            let j = r.json(false);
            for key in ["method", "cost", "objective", "row_error", "col_error", "nonzeros", "iterations", "converged"] {
                assert!(j.get(key).is_some(), "{key}");
            }
            assert!(j.get("seconds").is_none() && r.json(true).get("seconds").is_some());
        }
        // Deterministic: the same problem gives the same report (timing aside).
        let o = OtOptions::new(Method::Smooth, 0.5);
        assert_eq!(run(&p, &o).unwrap().json(false), run(&p, &o).unwrap().json(false));
    }

    #[test]
    fn plan_csv_round_trips_and_is_written_atomically() {
        let r = run(&problem(), &OtOptions::new(Method::Sinkhorn, 0.1)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.csv");
        write_plan_csv(&path, &r.plan).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 6);
        assert_eq!(parse_table(&text, "plan.csv").unwrap().values, r.plan);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    }

    #[test]
    fn links_carry_most_of_the_mass_and_plot_is_written() {
        let p = problem();
        let r = run(&p, &OtOptions::new(Method::Sinkhorn, 0.1)).unwrap();
        let links = strongest_links(&r.plan);
        let drawn: f64 = links.iter().map(|l| l.2).sum();
        assert!(drawn >= LINK_MASS * r.plan.data.iter().sum::<f64>() - 1e-12);
        assert!(links.windows(2).all(|w| w[0].2 >= w[1].2));
        assert!(links.len() < 30);
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("links.png");
        assert_eq!(plot_links(&png, &p, &r).unwrap(), "");
        assert_eq!(&std::fs::read(&png).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
        assert!(std::fs::read_to_string(dir.path().join("links.svg")).unwrap().contains("<svg"));
        // 3-D: the first two coordinates, said so.
        let mut p3 = p.clone();
        p3.source = Matrix::new(6, 3, p.source.data.chunks(2).flat_map(|r| [r[0], r[1], 1.0]).collect()).unwrap();
        p3.target = Matrix::new(5, 3, p.target.data.chunks(2).flat_map(|r| [r[0], r[1], 0.0]).collect()).unwrap();
        let r3 = run(&p3, &OtOptions::new(Method::Sinkhorn, 0.5)).unwrap();
        assert!(plot_links(&png, &p3, &r3).unwrap().contains("first two coordinates"));
    }
}
