//! The plots and `report.html` of a finished run.

use super::config::{Experiment, StreamKind};
use super::runner::Results;
use crate::report::{plot_metric, write_report, Cell, Figure, ReportInput, SummaryRow};
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
    let mut extra: Vec<String> = results.rows.iter().flat_map(|r| r.metrics.keys().cloned()).filter(|k| k.starts_with("sigma_max/") || k.starts_with("reg/")).collect();
    extra.sort();
    extra.dedup();
    for k in extra {
        let (title, y) = if let Some(l) = k.strip_prefix("sigma_max/") {
            (format!("σ_max of {l}"), "σ_max".to_string())
        } else {
            (format!("Regularizer value {}", k.trim_start_matches("reg/")), "λ·r".to_string())
        };
        metrics.push((k, title, y));
    }
    let mut figures = Vec::new();
    for (m, title, y) in &metrics {
        let stem = file_stem(m);
        let (png, svg) = (plots.join(format!("{stem}.png")), plots.join(format!("{stem}.svg")));
        plot_metric(&results.rows, &results.arms, m, title, y, &png, &svg)?;
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
