//! The plots and `report.html` of a finished run.

use super::config::{Experiment, ProbeEvery, StreamKind};
use super::runner::Results;
use crate::report::plot::plot_metric_x;
use crate::report::{Cell, Curve, Figure, ReportInput, SummaryRow, plot_by_arm, plot_curves, write_report};
use crate::results::summarize;
use std::path::Path;

/// Metrics plotted, with titles and axis labels (σ_max and regularizer plots are added per
/// layer and per regularizer found in the rows).
/// The robust probe's accuracies, with their titles.
const ROBUST_PLOTS: [(&str, &str); 3] =
    [("robust/pgd_accuracy", "PGD robust accuracy"), ("robust/fgsm_accuracy", "FGSM robust accuracy"), ("robust/clean_accuracy", "Clean accuracy")];

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
    // the robust probe: its three accuracies, after the test accuracy
    let robust = results.rows.iter().any(|r| r.metrics.contains_key("robust/pgd_accuracy"));
    if robust {
        for (i, (m, t)) in ROBUST_PLOTS.iter().enumerate() {
            metrics.insert(2 + i, (m.to_string(), format!("{t} (robust-probe subset)"), "accuracy".into()));
        }
    }
    // label noise: the fit of the changed labels
    if results.rows.iter().any(|r| r.metrics.contains_key("noisy_memorized")) {
        metrics.insert(
            2,
            ("noisy_memorized".into(), "Noisy training labels fitted (predicted as the noisy label)".into(), "fraction of noisy labels".into()),
        );
        metrics.insert(3, ("clean_train_accuracy".into(), "Training accuracy against the true labels".into(), "accuracy".into()));
    }
    let mut figures = Vec::new();
    // Per-epoch rows: every metric against the epoch.
    let by_epoch = exp.probe.every == ProbeEvery::Epoch;
    if by_epoch {
        for m in &mut metrics {
            if let Some(rest) = m.1.strip_prefix("End-of-task ") {
                m.1 = format!("{}{} after each epoch", rest[..1].to_uppercase(), &rest[1..]);
            }
        }
    }
    // A random-label stream has no held-out data (random labels cannot be predicted): its
    // "test" set is the task's training set, so the test plots would repeat the train plots.
    let random_labels = exp.stream_kind()? == StreamKind::RandomLabel;
    if random_labels {
        metrics.retain(|(m, _, _)| m != "test_accuracy" && m != "test_loss");
    }
    let x_axis = if by_epoch { "epoch" } else { "task" };
    // One task (one row per job): nothing to draw against the task; each metric by arm instead.
    let one_task = exp.stream.tasks == 1 && !by_epoch;
    let binarized = results.rows.iter().any(|r| r.metrics.contains_key("test_accuracy_binarized"));
    if one_task && binarized {
        let (png, svg) = (plots.join("binarized.png"), plots.join("binarized.svg"));
        let title = "Test accuracy before and after binarizing the weights to α·sign(W)";
        plot_by_arm(
            &results.rows,
            &results.arms,
            &[("test_accuracy", "trained"), ("test_accuracy_binarized", "binarized")],
            title,
            "test accuracy",
            &png,
            &svg,
        )?;
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
        // with the robust probe, its three accuracies too (at the last row of each job)
        let mut curve_metrics = vec![("test_accuracy", "Test accuracy"), ("train_accuracy", "Train accuracy")];
        if robust {
            curve_metrics.extend(ROBUST_PLOTS);
        }
        for (m, title) in curve_metrics {
            let stem = format!("curves_{}", file_stem(m));
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
            plot_metric_x(&results.rows, &results.arms, m, title, (x_axis, 1.0 / exp.probe.per_epoch as f64), y, &png, &svg)?;
        }
        figures.push(Figure { png: format!("plots/{stem}.png"), svg: Some(format!("plots/{stem}.svg")), caption: title.clone() });
    }
    // forgetting probes: accuracy against retention, one point per arm and seed at the end
    let drift = results.rows.iter().any(|r| r.metrics.contains_key("feature_drift_cosine"));
    if drift {
        for (xm, stem, x_label, what) in [
            ("feature_drift_cosine", "accuracy_vs_drift", "mean cos(f(x), f₀(x)) on held-out examples (1: no drift)", "feature retention"),
            (
                "feature_similarity_spearman",
                "accuracy_vs_similarity",
                "Spearman ρ of pairwise cosine similarities, f against f₀",
                "retained similarity",
            ),
        ] {
            let (png, svg) = (plots.join(format!("{stem}.png")), plots.join(format!("{stem}.svg")));
            let title = format!("Test accuracy against {what}: one point per arm and seed");
            crate::report::scatter::plot_scatter(&results.rows, &results.arms, xm, "test_accuracy", &title, x_label, "test accuracy", &png, &svg)?;
            figures.push(Figure { png: format!("plots/{stem}.png"), svg: Some(format!("plots/{stem}.svg")), caption: title });
        }
    }
    if by_epoch {
        return write_epoch_report(exp, results, out, figures);
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
    columns.extend(["effective rank last".to_string(), "dead fraction last".into(), "‖θ − θ₀‖ last".into(), "weight norm last".into()]);
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
        question: if exp.question.is_empty() {
            format!("{} — {} arms, {} seeds, {} tasks.", exp.name, results.arms.len(), results.seeds.len(), results.tasks)
        } else {
            exp.question.clone()
        },
        columns,
        rows,
        table_note: format!(
            "Mean ± std over {} seed(s). \"Mean over tasks\" is the area under the accuracy curve divided by the number of tasks. Stream: {}, {} tasks of {} epochs.{}",
            results.seeds.len(),
            exp.stream.kind,
            exp.stream.tasks,
            exp.stream.epochs_per_task,
            if random_labels {
                " Random labels: each task re-draws the labels of the same training subset, so there is no held-out measure; the accuracy is on the training subset (how well the network can still fit new labels), and the rows' test_accuracy and test_loss columns repeat the training ones."
            } else {
                ""
            }
        ),
        figures,
        config_toml: exp.to_toml(),
    };
    write_report(&out.join("report.html"), &input).map_err(|e| format!("{}: {e}", out.join("report.html").display()))
}

/// `report.html` of a single-task experiment with a row per epoch: per arm, the test accuracy
/// after the first epoch, at its peak (the highest seed-mean over epochs, with that epoch) and
/// at the end, the final training accuracy, and with label noise the fraction of noisy labels
/// fitted at the peak and at the end.
fn write_epoch_report(exp: &Experiment, results: &Results, out: &Path, figures: Vec<Figure>) -> Result<(), String> {
    let noisy = results.rows.iter().any(|r| r.metrics.contains_key("noisy_memorized"));
    let mut columns: Vec<String> =
        ["test acc epoch 1", "test acc peak", "peak epoch", "test acc last", "train acc last"].iter().map(|s| s.to_string()).collect();
    if noisy {
        columns.extend(["noisy fitted at peak".to_string(), "noisy fitted last".into(), "clean train acc last".into()]);
    }
    let mut rows = Vec::new();
    for arm in &results.arms {
        let s = |metric: &str| summarize(&results.rows, arm, metric);
        let cell = |p: Option<&(usize, f64, f64, usize)>| p.map(|&(_, m, sd, _)| Cell::MeanStd { mean: m, std: sd }).unwrap_or(Cell::Missing);
        let test = s("test_accuracy");
        let peak = test.iter().filter(|p| p.1.is_finite()).max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
        let at = |metric: &str, epoch: Option<usize>| s(metric).into_iter().find(|p| Some(p.0) == epoch);
        let mut cells = vec![
            cell(test.first()),
            cell(peak),
            peak.map(|p| Cell::Text(p.0.to_string())).unwrap_or(Cell::Missing),
            cell(test.last()),
            cell(s("train_accuracy").last()),
        ];
        if noisy {
            cells.push(cell(at("noisy_memorized", peak.map(|p| p.0)).as_ref()));
            cells.push(cell(s("noisy_memorized").last()));
            cells.push(cell(s("clean_train_accuracy").last()));
        }
        rows.push(SummaryRow { arm: arm.clone(), cells });
    }
    let noise = match (&exp.data.label_noise, &exp.data.label_noise_kind) {
        (Some(r), k) => format!(" Label noise: {r} {}.", k.as_deref().unwrap_or("symmetric")),
        _ => String::new(),
    };
    let input = ReportInput {
        title: exp.name.clone(),
        question: if exp.question.is_empty() {
            format!("{} — {} arms, {} seeds, {} epochs.", exp.name, results.arms.len(), results.seeds.len(), exp.stream.epochs_per_task)
        } else {
            exp.question.clone()
        },
        columns,
        rows,
        table_note: format!(
            "Mean ± std over {} seed(s), after each of {} epochs. \"Peak\" is the epoch with the highest mean test accuracy.{noise}",
            results.seeds.len(),
            exp.stream.epochs_per_task
        ),
        figures,
        config_toml: exp.to_toml(),
    };
    write_report(&out.join("report.html"), &input).map_err(|e| format!("{}: {e}", out.join("report.html").display()))
}
