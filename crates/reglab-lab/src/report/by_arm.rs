//! Metrics of a one-task experiment by arm: PNG and SVG.
//!
//! x is the arm (in the experiment's order), y the value at the last task: one marker per metric
//! at the mean over seeds, with a whisker of ± one population standard deviation over seeds (as
//! [`crate::results::summarize`] computes them). Metrics sit side by side within an arm's slot,
//! each in its own colour, named in the legend. The y axis spans the data (it does not start at
//! zero), which is why the values are markers, not bars.

use super::plot::{arm_color, ensure_font, font, write_png_svg};
use crate::results::{Row, summarize};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// `(arm, metric) → (mean, std, seeds)` at the last task that has the metric, or `None`.
fn last(rows: &[Row], arm: &str, metric: &str) -> Option<(f64, f64, usize)> {
    summarize(rows, arm, metric).into_iter().rev().find(|p| p.1.is_finite()).map(|(_, m, sd, n)| (m, if sd.is_finite() { sd } else { 0.0 }, n))
}

/// Plot `metrics` (`(key, legend label)`) for `arms` and write `png` and `svg` (atomically).
pub fn plot_by_arm(
    rows: &[Row],
    arms: &[String],
    metrics: &[(&str, &str)],
    title: &str,
    y_label: &str,
    png: &Path,
    svg: &Path,
) -> Result<(), String> {
    ensure_font()?;
    let data: Vec<Vec<Option<(f64, f64, usize)>>> = arms.iter().map(|a| metrics.iter().map(|(m, _)| last(rows, a, m)).collect()).collect();
    write_png_svg(png, svg, |r| draw(r, arms, metrics, &data, title, y_label), |r| draw(r, arms, metrics, &data, title, y_label))
}

#[allow(clippy::type_complexity)]
fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    arms: &[String],
    metrics: &[(&str, &str)],
    data: &[Vec<Option<(f64, f64, usize)>>],
    title: &str,
    y_label: &str,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let root = root.margin(8, 8, 8, 8).titled(title, font(24.0)).map_err(err)?;
    let (mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(m, sd, _) in data.iter().flatten().flatten() {
        y0 = y0.min(m - sd);
        y1 = y1.max(m + sd);
    }
    if !y0.is_finite() {
        (y0, y1) = (0.0, 1.0);
    }
    let pad = ((y1 - y0) * 0.08).max(1e-3 * y1.abs().max(1e-9));
    let (y0, y1) = (y0 - pad, y1 + pad);
    let n = arms.len().max(1);
    let mut chart = ChartBuilder::on(&root)
        .margin(10)
        .x_label_area_size(70)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), y0..y1)
        .map_err(err)?;
    let arm_names = arms.to_vec();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < arm_names.len() { arm_names[i as usize].clone() } else { String::new() }
        })
        .y_desc(y_label)
        .label_style(font(14.0))
        .axis_desc_style(font(16.0))
        .draw()
        .map_err(err)?;
    let k = metrics.len().max(1) as f64;
    for (j, (_, label)) in metrics.iter().enumerate() {
        let color = arm_color(j);
        let off = |i: usize| i as f64 + (j as f64 - (k - 1.0) / 2.0) * (0.6 / k);
        let pts: Vec<(usize, f64, f64)> = data.iter().enumerate().filter_map(|(i, d)| d[j].map(|(m, sd, _)| (i, m, sd))).collect();
        chart
            .draw_series(pts.iter().map(|&(i, m, sd)| PathElement::new(vec![(off(i), m - sd), (off(i), m + sd)], color.stroke_width(2))))
            .map_err(err)?;
        chart
            .draw_series(pts.iter().map(|&(i, m, _)| Circle::new((off(i), m), 6, color.filled())))
            .map_err(err)?
            .label(label.to_string())
            .legend(move |(x, y)| Circle::new((x + 10, y), 6, color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .label_font(font(15.0))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// A drawn curve: its name and `(x, mean, std)` points sorted by x.
type Line = (String, Vec<(f64, f64, f64)>);

/// One curve: a name and its points `(x, arm)`, in any order.
pub struct Curve {
    /// Legend label.
    pub name: String,
    /// The arms on this curve and their abscissae.
    pub points: Vec<(f64, String)>,
}

/// Plot `metric` (at the last task, mean ± std over seeds) against each curve's `x`, one line
/// per curve, and write `png` and `svg` (atomically). An optional `reference` arm (e.g. the
/// dense network) is drawn as a horizontal dashed line.
#[allow(clippy::too_many_arguments)]
pub fn plot_curves(
    rows: &[Row],
    curves: &[Curve],
    reference: Option<&str>,
    metric: &str,
    title: &str,
    x_label: &str,
    y_label: &str,
    png: &Path,
    svg: &Path,
) -> Result<(), String> {
    ensure_font()?;
    let series: Vec<Line> = curves
        .iter()
        .map(|c| {
            let mut pts: Vec<(f64, f64, f64)> =
                c.points.iter().filter_map(|(x, arm)| last(rows, arm, metric).map(|(m, sd, _)| (*x, m, sd))).collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            (c.name.clone(), pts)
        })
        .collect();
    let refv = reference.and_then(|r| last(rows, r, metric)).map(|(m, _, _)| (reference.unwrap_or("").to_string(), m));
    let r = refv.as_ref();
    write_png_svg(png, svg, |a| draw_curves(a, &series, r, title, x_label, y_label), |a| draw_curves(a, &series, r, title, x_label, y_label))
}

#[allow(clippy::type_complexity)]
fn draw_curves<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    series: &[Line],
    reference: Option<&(String, f64)>,
    title: &str,
    x_label: &str,
    y_label: &str,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let root = root.margin(8, 8, 8, 8).titled(title, font(24.0)).map_err(err)?;
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for (_, pts) in series {
        for &(x, m, sd) in pts {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(m - sd);
            y1 = y1.max(m + sd);
        }
    }
    if let Some((_, r)) = reference {
        y0 = y0.min(*r);
        y1 = y1.max(*r);
    }
    if !x0.is_finite() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    let xp = ((x1 - x0) * 0.04).max(1e-9);
    let yp = ((y1 - y0) * 0.06).max(1e-3 * y1.abs().max(1e-9));
    let mut chart = ChartBuilder::on(&root)
        .margin(10)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d((x0 - xp)..(x1 + xp), (y0 - yp)..(y1 + yp))
        .map_err(err)?;
    chart.configure_mesh().x_desc(x_label).y_desc(y_label).label_style(font(14.0)).axis_desc_style(font(16.0)).draw().map_err(err)?;
    if let Some((name, r)) = reference {
        let (a, b) = (x0 - xp, x1 + xp);
        let gray = RGBColor(0x55, 0x55, 0x55);
        chart
            .draw_series((0..40).filter(|k| k % 2 == 0).map(|k| {
                let (u, v) = (a + (b - a) * k as f64 / 40.0, a + (b - a) * (k + 1) as f64 / 40.0);
                PathElement::new(vec![(u, *r), (v, *r)], gray.stroke_width(2))
            }))
            .map_err(err)?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], gray.stroke_width(2)));
    }
    for (j, (name, pts)) in series.iter().enumerate() {
        let color = arm_color(j);
        chart.draw_series(pts.iter().map(|&(x, m, sd)| PathElement::new(vec![(x, m - sd), (x, m + sd)], color.stroke_width(1)))).map_err(err)?;
        chart
            .draw_series(std::iter::once(PathElement::new(pts.iter().map(|&(x, m, _)| (x, m)).collect::<Vec<_>>(), color.stroke_width(2))))
            .map_err(err)?;
        chart
            .draw_series(pts.iter().map(|&(x, m, _)| Circle::new((x, m), 4, color.filled())))
            .map_err(err)?
            .label(name.clone())
            .legend(move |(x, y)| Circle::new((x + 10, y), 5, color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.3))
        .label_font(font(15.0))
        .draw()
        .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn row(arm: &str, seed: u64, a: f64, b: f64) -> Row {
        let mut metrics = BTreeMap::new();
        metrics.insert("test_accuracy".to_string(), a);
        metrics.insert("test_accuracy_binarized".to_string(), b);
        Row { arm: arm.into(), seed, task: 1, metrics }
    }

    #[test]
    fn writes_png_and_svg_with_every_arm_and_metric() {
        let dir = tempfile::tempdir().unwrap();
        let rows = vec![row("none", 0, 0.98, 0.83), row("none", 1, 0.97, 0.85), row("cs-binary=1e2", 0, 0.97, 0.96)];
        let arms = vec!["none".to_string(), "cs-binary=1e2".to_string(), "empty".to_string()];
        let (png, svg) = (dir.path().join("a.png"), dir.path().join("a.svg"));
        plot_by_arm(&rows, &arms, &[("test_accuracy", "trained"), ("test_accuracy_binarized", "binarized")], "t", "accuracy", &png, &svg).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        let s = std::fs::read_to_string(&svg).unwrap();
        for w in ["none", "cs-binary=1e2", "trained", "binarized"] {
            assert!(s.contains(w), "{w} missing from the SVG");
        }
        // no temporary file left behind
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        assert_eq!(last(&rows, "none", "test_accuracy").unwrap().2, 2);
        assert!(last(&rows, "empty", "test_accuracy").is_none());
    }

    #[test]
    fn curves_plot_every_group_against_x() {
        let dir = tempfile::tempdir().unwrap();
        let rows = vec![row("dense", 0, 0.98, 0.0), row("m-50", 0, 0.97, 0.0), row("m-90", 0, 0.95, 0.0), row("r-50", 0, 0.96, 0.0)];
        let curves = vec![
            Curve { name: "magnitude".into(), points: vec![(0.9, "m-90".into()), (0.5, "m-50".into())] },
            Curve { name: "random".into(), points: vec![(0.5, "r-50".into()), (0.8, "missing".into())] },
        ];
        let (png, svg) = (dir.path().join("c.png"), dir.path().join("c.svg"));
        plot_curves(&rows, &curves, Some("dense"), "test_accuracy", "t", "sparsity", "accuracy", &png, &svg).unwrap();
        assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");
        let s = std::fs::read_to_string(&svg).unwrap();
        for w in ["magnitude", "random", "dense", "sparsity"] {
            assert!(s.contains(w), "{w} missing from the SVG");
        }
    }
}
