//! The plots and `report.html` of a finished run.

use super::config::{Experiment, StreamKind};
use super::runner::Results;
use crate::report::{plot_by_arm, plot_curves, plot_metric, Curve, write_report, Cell, Figure, ReportInput, SummaryRow};
use crate::results::summarize;
use std::path::Path;

/// Metrics plotted, with titles and axis labels (σ_max and regularizer plots are added per
/// layer and per regularizer found in the rows).
const PLOTS: &[(&str, &str, &str)] = &[
    ("train_accuracy", "End-of-task train accuracy", "accuracy"),
    ("test_accuracy", "End-of-task test accuracy", "accuracy"),
    ("train_loss", "End-of-task train loss", "cross-entropy"),
    ("feature_effective_rank", "Effective rank of the penultimate features", "effective rank"),
    ("dead_fraction", "Fraction of dead ReLU units (penultimate layer)", "fraction"),
    ("weight_norm", "Weight norm ‖θ‖ (layer weights)", "norm"),
    ("distance_to_init", "Distance to initialisation ‖θ − θ₀‖", "distance"),
];

fn file_stem(metric: &str) -> String {
    metric.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// Write `plots/*.png|svg` and `report.html` into `out`.
pub fn write(exp: &Experiment, results: &Results, out: &Path) -> Result<(), String> {
    let plots = out.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| format!("{}: {e}", plots.display()))?;
    let mut metrics: Vec<(String, String, String)> = PLOTS.iter().map(|(m, t, y)| (m.to_string(), t.to_string(), y.to_string())).collect();
    let mut extra: Vec<String> = results
        .rows
        .iter()
        .flat_map(|r| r.metrics.keys().cloned())
        .filter(|k| ["sigma_max/", "reg/", "eff_rank/", "orth_gap/", "mean_abs_cos/"].iter().any(|p| k.starts_with(p)))
        .collect();
    extra.sort();
    extra.dedup();
    for k in extra {
        let (title, y) = if let Some(l) = k.strip_prefix("sigma_max/") {
            (format!("σ_max of {l}"), "σ_max".to_string())
        } else if let Some(l) = k.strip_prefix("eff_rank/") {
            (format!("Effective rank of {l}"), "effective rank".to_string())
        } else if let Some(l) = k.strip_prefix("mean_abs_cos/") {
            (format!("Mean |cos| between the rows of {l}"), "mean |cos θ|".to_string())
        } else if let Some(l) = k.strip_prefix("orth_gap/") {
            (format!("Orthogonality gap ‖WWᵀ − I‖_F/√out of {l}"), "gap".to_string())
        } else {
            (format!("Regularizer value {}", k.trim_start_matches("reg/")), "λ·r".to_string())
        };
        metrics.push((k, title, y));
    }
    let mut figures = Vec::new();
    // One task: nothing to draw against the task; each metric by arm instead.
    let one_task = exp.stream.tasks == 1;
    let binarized = results.rows.iter().any(|r| r.metrics.contains_key("test_accuracy_binarized"));
    if one_task && binarized {
        let (png, svg) = (plots.join("binarized.png"), plots.join("binarized.svg"));
        let title = "Test accuracy before and after binarizing the weights to α·sign(W)";
        plot_by_arm(&results.rows, &results.arms, &[("test_accuracy", "trained"), ("test_accuracy_binarized", "binarized")], title, "test accuracy", &png, &svg)?;
        figures.push(Figure { png: "plots/binarized.png".into(), svg: Some("plots/binarized.svg".into()), caption: title.into() });
    }
    // Arms on curves (`group` and `x`): the accuracies against x, one line per group, with the
    // ungrouped arms as dashed references (the first one).
    let mut curves: Vec<Curve> = Vec::new();
    for a in &exp.arms {
        if let (Some(g), Some(x)) = (&a.group, a.x) {
            match curves.iter_mut().find(|c| &c.name == g) {
                Some(c) => c.points.push((x, a.name.clone())),
                None => curves.push(Curve { name: g.clone(), points: vec![(x, a.name.clone())] }),
            }
        }
    }
    if !curves.is_empty() {
        let reference = exp.arms.iter().find(|a| a.group.is_none()).map(|a| a.name.as_str());
        let x_label = exp.x_label.clone().unwrap_or_else(|| "x".into());
        for (m, title) in [("test_accuracy", "Test accuracy"), ("train_accuracy", "Train accuracy")] {
            let stem = format!("curves_{m}");
            let (png, svg) = (plots.join(format!("{stem}.png")), plots.join(format!("{stem}.svg")));
            let title = format!("{title} against {x_label}");
            plot_curves(&results.rows, &curves, reference, m, &title, &x_label, "accuracy", &png, &svg)?;
            figures.push(Figure { png: format!("plots/{stem}.png"), svg: Some(format!("plots/{stem}.svg")), caption: title });
        }
    }
    for (m, title, y) in &metrics {
        let stem = file_stem(m);
        let (png, svg) = (plots.join(format!("{stem}.png")), plots.join(format!("{stem}.svg")));
        if one_task {
            plot_by_arm(&results.rows, &results.arms, &[(m.as_str(), "mean ± std over seeds")], title, y, &png, &svg)?;
        } else {
            plot_metric(&results.rows, &results.arms, m, title, y, &png, &svg)?;
        }
        figures.push(Figure { png: format!("plots/{stem}.png"), svg: Some(format!("plots/{stem}.svg")), caption: title.clone() });
    }
    let fit = match exp.stream_kind()? {
        StreamKind::RandomLabel => "train_accuracy",
        _ => "test_accuracy",
    };
    // For random labels the test set is the task's training set: one accuracy column suffices.
    let extra_train = fit != "train_accuracy";
    let mut columns = vec![format!("{fit} task 1"), format!("{fit} last task"), format!("{fit} mean over tasks")];
    if extra_train {
        columns.push("train_accuracy last task".into());
    }
    columns.extend([
        "effective rank last".to_string(),
        "dead fraction last".into(),
        "‖θ − θ₀‖ last".into(),
        "weight norm last".into(),
    ]);
    let mut rows = Vec::new();
    for arm in &results.arms {
        let s = |metric: &str| summarize(&results.rows, arm, metric);
        let first = |metric: &str| s(metric).first().map(|&(_, m, sd, _)| Cell::MeanStd { mean: m, std: sd }).unwrap_or(Cell::Missing);
        let last = |metric: &str| s(metric).last().map(|&(_, m, sd, _)| Cell::MeanStd { mean: m, std: sd }).unwrap_or(Cell::Missing);
        let curve = s(fit);
        let area = if curve.is_empty() { Cell::Missing } else { Cell::Num(curve.iter().map(|x| x.1).sum::<f64>() / curve.len() as f64) };
        rows.push(SummaryRow {
            arm: arm.clone(),
            cells: [first(fit), last(fit), area]
                .into_iter()
                .chain(extra_train.then(|| last("train_accuracy")))
                .chain([last("feature_effective_rank"), last("dead_fraction"), last("distance_to_init"), last("weight_norm")])
                .collect(),
        });
    }
    let input = ReportInput {
        title: exp.name.clone(),
        question: if exp.question.is_empty() { format!("{} — {} arms, {} seeds, {} tasks.", exp.name, results.arms.len(), results.seeds.len(), results.tasks) } else { exp.question.clone() },
        columns,
        rows,
        table_note: format!(
            "Mean ± std over {} seed(s). \"Mean over tasks\" is the area under the accuracy curve divided by the number of tasks. Stream: {}, {} tasks of {} epochs.",
            results.seeds.len(),
            exp.stream.kind,
            exp.stream.tasks,
            exp.stream.epochs_per_task
        ),
        figures,
        config_toml: exp.to_toml(),
    };
    write_report(&out.join("report.html"), &input).map_err(|e| format!("{}: {e}", out.join("report.html").display()))
}
