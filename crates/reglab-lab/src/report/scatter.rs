//! One point per arm and seed: a metric against another at each job's last row (e.g. accuracy
//! against retention of the pretrained representation), PNG and SVG.
//!
//! Each job (arm, seed) contributes the row with its largest `task` (the end of training) if both
//! metrics are finite there; arms keep their plot colours; the legend gives each arm's point
//! count. The axes span the points with 5% margins.

use super::plot::{arm_color, font, side_mesh, write_png_svg};
use crate::results::Row;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// `(x, y)` of each job's last row, per arm (in `arms` order).
pub fn last_points(rows: &[Row], arms: &[String], x_metric: &str, y_metric: &str) -> Vec<Vec<(f64, f64)>> {
    arms.iter()
        .map(|arm| {
            let mut seeds: Vec<u64> = rows.iter().filter(|r| &r.arm == arm).map(|r| r.seed).collect();
            seeds.sort_unstable();
            seeds.dedup();
            seeds
                .into_iter()
                .filter_map(|s| {
                    let last = rows.iter().filter(|r| &r.arm == arm && r.seed == s).max_by_key(|r| r.task)?;
                    let (x, y) = (*last.metrics.get(x_metric)?, *last.metrics.get(y_metric)?);
                    (x.is_finite() && y.is_finite()).then_some((x, y))
                })
                .collect()
        })
        .collect()
}

/// `lo..hi` widened by 5% of the span on each side (a tiny span around its centre).
fn padded(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = v.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let span = (hi - lo).max(1e-6 * hi.abs().max(1.0));
    (lo - 0.05 * span, hi + 0.05 * span)
}

/// Plot `y_metric` against `x_metric`, one marker per job at its last row, and write `png` and
/// `svg`. With no point the axes are drawn empty with a note.
#[allow(clippy::too_many_arguments)]
pub fn plot_scatter(
    rows: &[Row],
    arms: &[String],
    x_metric: &str,
    y_metric: &str,
    title: &str,
    x_label: &str,
    y_label: &str,
    png: &Path,
    svg: &Path,
) -> Result<(), String> {
    let points = last_points(rows, arms, x_metric, y_metric);
    write_png_svg(png, svg, |root| draw(root, arms, &points, title, x_label, y_label), |root| draw(root, arms, &points, title, x_label, y_label))
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    arms: &[String],
    points: &[Vec<(f64, f64)>],
    title: &str,
    x_label: &str,
    y_label: &str,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let (x_range, y_range) = (padded(points.iter().flatten().map(|p| p.0)), padded(points.iter().flatten().map(|p| p.1)));
    let (plot_area, legend) = root.split_horizontally(760);
    let mut chart = ChartBuilder::on(&plot_area)
        .caption(title, font(20.0))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
        .map_err(e)?;
    let mut mesh = chart.configure_mesh();
    side_mesh(&mut mesh).x_desc(x_label).y_desc(y_label).draw().map_err(e)?;
    if points.iter().all(Vec::is_empty) {
        plot_area.draw(&Text::new("no job has both metrics", (300, 280), font(16.0))).map_err(e)?;
    }
    for (i, pts) in points.iter().enumerate() {
        let c = arm_color(i);
        chart.draw_series(pts.iter().map(|&(x, y)| Circle::new((x, y), 5, c.filled()))).map_err(e)?;
    }
    let legend = legend.margin(60, 10, 0, 10);
    for (i, arm) in arms.iter().enumerate() {
        let y = 22 * i as i32;
        legend.draw(&Circle::new((12, y + 10), 5, arm_color(i).filled())).map_err(e)?;
        legend.draw(&Text::new(format!("{arm} ({})", points[i].len()), (26, y + 3), font(14.0))).map_err(e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn row(arm: &str, seed: u64, task: usize, acc: f64, cos: Option<f64>) -> Row {
        let mut metrics = BTreeMap::from([("test_accuracy".to_string(), acc)]);
        if let Some(c) = cos {
            metrics.insert("feature_drift_cosine".into(), c);
        }
        Row { arm: arm.into(), seed, task, metrics }
    }

    #[test]
    fn each_job_gives_its_last_row_with_both_metrics_and_the_files_are_written() {
        let rows = vec![
            row("a", 0, 1, 0.5, Some(0.9)),
            row("a", 0, 2, 0.8, Some(0.7)),
            row("a", 1, 2, 0.82, Some(0.75)),
            row("a", 1, 1, 0.6, Some(0.95)),
            row("b", 0, 2, 0.7, None),
            row("b", 1, 2, f64::NAN, Some(0.9)),
            row("b", 2, 2, 0.75, Some(0.99)),
        ];
        let arms = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let p = last_points(&rows, &arms, "feature_drift_cosine", "test_accuracy");
        assert_eq!(p, vec![vec![(0.7, 0.8), (0.75, 0.82)], vec![(0.99, 0.75)], vec![]]);
        let dir = std::env::temp_dir().join(format!("reglab-scatter-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (png, svg) = (dir.join("s.png"), dir.join("s.svg"));
        plot_scatter(&rows, &arms, "feature_drift_cosine", "test_accuracy", "t", "x", "y", &png, &svg).unwrap();
        assert!(std::fs::metadata(&png).unwrap().len() > 1000);
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.contains("a (2)") && text.contains("b (1)") && text.contains("c (0)"));
        // no point at all: still a figure, with a note
        plot_scatter(&rows, &arms, "nothing", "test_accuracy", "t", "x", "y", &png, &svg).unwrap();
        assert!(std::fs::read_to_string(&svg).unwrap().contains("no job has both metrics"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
