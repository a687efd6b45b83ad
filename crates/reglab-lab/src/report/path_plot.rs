//! A quantity against λ (log scale, or any x on a linear axis), one line per method and a dashed
//! line for the reference solution, as PNG and SVG (the look, font and colours of
//! [`crate::report::plot`]).

use crate::report::plot::{SideLegend, arm_color, font, side_mesh, write_png_svg};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// One line.
#[derive(Debug, Clone)]
pub struct PathCurve {
    /// Legend text.
    pub label: String,
    /// `(λ, value)`, λ > 0 increasing.
    pub points: Vec<(f64, f64)>,
    /// The reference: dashed, near-black, drawn under the methods.
    pub reference: bool,
}

/// What a plot shows besides its curves.
#[derive(Debug, Clone, Default)]
pub struct PathPlot<'a> {
    /// Title.
    pub title: &'a str,
    /// y-axis label.
    pub y_label: &'a str,
    /// Grey lines under the legend.
    pub notes: &'a [String],
    /// Top of the y axis (default: the data's maximum).
    pub y_max: Option<f64>,
    /// A λ marked by a dotted vertical line and labelled `λ_max`, when inside the grid.
    pub lambda_max: Option<f64>,
    /// x-axis label (default `λ (log scale)`; other experiments plot other quantities, e.g. k).
    pub x_label: Option<&'a str>,
    /// Bottom of the y axis (default 0).
    pub y_min: Option<f64>,
    /// A linear x axis (x ≥ 0 allowed) instead of the log axis, e.g. generations.
    pub linear_x: bool,
}

/// Draw `curves` (methods coloured in order) and write `png` and `svg`, each through a
/// temporary file and a rename.
pub fn plot_path(curves: &[PathCurve], opts: &PathPlot<'_>, png: &Path, svg: &Path) -> Result<(), String> {
    write_png_svg(png, svg, |root| draw(root, curves, opts), |root| draw(root, curves, opts))
}

/// `10^e` as text: `0.001`, `0.1`, `1`, `10`, `1e-5`, `1e5`.
fn decade_label(e: i32) -> String {
    if (-4..=4).contains(&e) {
        let v = 10f64.powi(e);
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        format!("1e{e}")
    }
}

/// A λ tick label (log10 position `x`): decades as [`decade_label`], others with 2 significant digits.
fn lambda_label(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        return decade_label(x.round() as i32);
    }
    let v = 10f64.powf(x);
    crate::report::html::format_number(format!("{v:.1e}").parse::<f64>().unwrap_or(v))
}

/// Tick positions in log10 λ: every decade inside `[lo, hi]`, or (less than two decades) the
/// decades with their 2× and 5× points.
fn lambda_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (a, b) = (lo.floor() as i32, hi.ceil() as i32);
    let mut t: Vec<f64> = Vec::new();
    for e in a..=b {
        let base = e as f64;
        let pts: &[f64] = if hi - lo < 2.0 { &[1.0, 2.0, 5.0] } else { &[1.0] };
        for &m in pts {
            let x = base + m.log10();
            if x >= lo - 1e-9 && x <= hi + 1e-9 {
                t.push(x);
            }
        }
    }
    if t.is_empty() {
        t.push(lo);
    }
    t
}

/// Ticks of a linear axis over `[lo, hi]`: a step of 1, 2 or 5 × 10^k giving 4 to 10 ticks.
fn linear_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).max(1e-12);
    let mut step = 10f64.powf((span / 10.0).log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if span / (step * m) <= 10.0 {
            step *= m;
            break;
        }
    }
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, curves: &[PathCurve], opts: &PathPlot<'_>) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let legend_font = font(15.0);
    let labels: Vec<String> = curves.iter().map(|c| c.label.clone()).collect();
    let fig = SideLegend::new(root, opts.title, &labels, &legend_font, opts.notes, (2, 5)).map_err(err)?;
    let plot_area = &fig.plot;

    let linear = opts.linear_x;
    let fx = |x: f64| if linear { x } else { x.log10() };
    let shown = |x: f64| x.is_finite() && (linear || x > 0.0);
    let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    for c in curves {
        for &(l, v) in &c.points {
            if shown(l) {
                x0 = x0.min(fx(l));
                x1 = x1.max(fx(l));
            }
            if v.is_finite() {
                y1 = y1.max(v);
            }
        }
    }
    if !x0.is_finite() {
        (x0, x1) = (-1.0, 0.0);
    }
    if x1 - x0 < 1e-6 {
        (x0, x1) = (x0 - 0.5, x1 + 0.5);
    }
    let y0 = opts.y_min.unwrap_or(0.0);
    let y1 = opts.y_max.unwrap_or(y1).max(y0 + 1e-12);
    let (xpad, ypad) = ((x1 - x0) * 0.02, (y1 - y0) * 0.03);
    let mut chart = fig.chart().build_cartesian_2d((x0 - xpad)..(x1 + xpad), (y0 - ypad)..(y1 + ypad)).map_err(err)?;
    let ticks = if linear { linear_ticks(x0, x1) } else { lambda_ticks(x0, x1) };
    let tick_text = |t: f64| if linear { crate::report::html::format_number((t * 1e9).round() / 1e9) } else { lambda_label(t) };
    side_mesh(&mut chart.configure_mesh())
        .x_desc(opts.x_label.unwrap_or(if linear { "x" } else { "λ (log scale)" }))
        .y_desc(opts.y_label)
        .x_labels(0)
        .y_label_formatter(&|y| crate::report::html::format_number((*y * 1e6).round() / 1e6))
        .y_labels(10)
        .draw()
        .map_err(err)?;
    // x ticks by hand (decades on a log axis, round steps on a linear one)
    let grid = BLACK.mix(0.12);
    for &t in &ticks {
        chart.draw_series(std::iter::once(PathElement::new(vec![(t, y0 - ypad), (t, y1 + ypad)], grid.stroke_width(1)))).map_err(err)?;
    }
    let tick_font = font(14.0).pos(Pos::new(HPos::Center, VPos::Top));
    let (bx, by) = plot_area.get_base_pixel();
    for &t in &ticks {
        let (px, py) = chart.plotting_area().map_coordinate(&(t, y0 - ypad));
        plot_area.draw(&Text::new(tick_text(t), (px - bx, py - by + 8), tick_font.clone())).map_err(err)?;
    }
    let grey = RGBColor(0x88, 0x88, 0x88);
    if let Some(lm) = opts.lambda_max.filter(|v| shown(*v) && fx(*v) >= x0 - xpad && fx(*v) <= x1 + xpad) {
        let x = fx(lm);
        let dash = (y1 - y0 + 2.0 * ypad) / 60.0;
        let mut y = y0 - ypad;
        while y < y1 + ypad {
            chart.draw_series(std::iter::once(PathElement::new(vec![(x, y), (x, (y + dash).min(y1 + ypad))], grey.stroke_width(1)))).map_err(err)?;
            y += 2.0 * dash;
        }
        let at = (x + (x1 - x0) * 0.008, y1 * 0.55);
        chart.draw_series(std::iter::once(Text::new("λ_max".to_string(), at, font(13.0).color(&grey)))).map_err(err)?;
    }
    let ref_color = RGBColor(0x22, 0x22, 0x22);
    let mut method_index = 0;
    let mut colors = Vec::with_capacity(curves.len());
    for c in curves {
        if c.reference {
            colors.push(ref_color);
        } else {
            colors.push(arm_color(method_index));
            method_index += 1;
        }
    }
    let pts = |c: &PathCurve| -> Vec<(f64, f64)> { c.points.iter().filter(|p| shown(p.0) && p.1.is_finite()).map(|&(l, v)| (fx(l), v)).collect() };
    for (c, &color) in curves.iter().zip(&colors).filter(|(c, _)| c.reference) {
        let p = pts(c);
        for seg in p.windows(2) {
            // dashed: each segment in 8 pieces, every other drawn
            for k in (0..8).step_by(2) {
                let (a, b) = (k as f64 / 8.0, (k + 1) as f64 / 8.0);
                let at = |t: f64| (seg[0].0 + t * (seg[1].0 - seg[0].0), seg[0].1 + t * (seg[1].1 - seg[0].1));
                chart.draw_series(std::iter::once(PathElement::new(vec![at(a), at(b)], color.stroke_width(2)))).map_err(err)?;
            }
        }
        chart.draw_series(p.iter().map(|&q| Cross::new(q, 4, color.stroke_width(1)))).map_err(err)?;
    }
    for (c, &color) in curves.iter().zip(&colors).filter(|(c, _)| !c.reference) {
        let p = pts(c);
        chart.draw_series(std::iter::once(PathElement::new(p.clone(), color.stroke_width(2)))).map_err(err)?;
        chart.draw_series(p.iter().map(|&q| Circle::new(q, 3, color.filled()))).map_err(err)?;
    }

    fig.draw(&labels, &legend_font, opts.notes, |i, area, y| {
        let color = colors[i];
        if curves[i].reference {
            for k in 0..3 {
                area.draw(&PathElement::new(vec![(k * 11, y + 10), (k * 11 + 6, y + 10)], color.stroke_width(2)))?;
            }
            Ok(())
        } else {
            area.draw(&PathElement::new(vec![(0, y + 10), (30, y + 10)], color.stroke_width(2)))
        }
    })
    .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lasso_path_plot_writes_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let (png, svg) = (dir.path().join("p.png"), dir.path().join("p.svg"));
        let lam = [0.001, 0.01, 0.1, 1.0];
        let curves = vec![
            PathCurve { label: "ista".into(), points: lam.iter().map(|&l| (l, 10.0 - 5.0 * l)).collect(), reference: false },
            PathCurve { label: "subgradient".into(), points: lam.iter().map(|&l| (l, 10.0 + l)).collect(), reference: false },
            PathCurve { label: "lasso".into(), points: lam.iter().map(|&l| (l, 10.0 - 5.0 * l)).collect(), reference: true },
        ];
        let notes = vec!["n = 50".to_string()];
        let opts = PathPlot { title: "‖w‖₁", y_label: "‖w‖₁", notes: &notes, y_max: None, lambda_max: Some(0.5), ..Default::default() };
        plot_path(&curves, &opts, &png, &svg).unwrap();
        assert_eq!(&std::fs::read(&png).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
        let s = std::fs::read_to_string(&svg).unwrap();
        assert!(
            s.contains("subgradient") && s.contains("λ (log scale)") && s.contains("λ_max") && s.contains("\n0.01\n") && s.contains("\n0.001\n"),
            "{}",
            &s[..300]
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temporary files left");
    }

    #[test]
    fn a_linear_x_axis_keeps_zero_and_labels_round_steps() {
        let dir = tempfile::tempdir().unwrap();
        let (png, svg) = (dir.path().join("g.png"), dir.path().join("g.svg"));
        let curves = vec![
            PathCurve { label: "ols".into(), points: (0..=20).map(|n| (n as f64, 0.1 + 0.05 * n as f64)).collect(), reference: false },
            PathCurve { label: "theory".into(), points: vec![(0.0, 0.1), (20.0, 1.1)], reference: true },
        ];
        let opts = PathPlot { title: "E_n", y_label: "excess risk", linear_x: true, x_label: Some("generation n"), ..Default::default() };
        plot_path(&curves, &opts, &png, &svg).unwrap();
        let s = std::fs::read_to_string(&svg).unwrap();
        assert!(s.contains("generation n") && s.contains("\n0\n") && s.contains("\n10\n") && s.contains("\n20\n"), "{}", &s[..300]);
        assert_eq!(linear_ticks(0.0, 20.0), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0, 18.0, 20.0]);
        assert_eq!(linear_ticks(0.0, 50.0), vec![0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0]);
        assert_eq!(linear_ticks(0.0, 60.0), vec![0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]);
        let t = linear_ticks(-0.4, 0.4);
        assert_eq!(t.len(), 9, "{t:?}");
        assert!((t[0] + 0.4).abs() < 1e-12 && t[4].abs() < 1e-12 && (t[8] - 0.4).abs() < 1e-12, "{t:?}");
    }

    #[test]
    fn lasso_path_ticks_and_labels() {
        assert_eq!(decade_label(-3), "0.001");
        assert_eq!(decade_label(0), "1");
        assert_eq!(decade_label(2), "100");
        assert_eq!(decade_label(-6), "1e-6");
        assert_eq!(lambda_ticks(-3.0, 0.3), vec![-3.0, -2.0, -1.0, 0.0]);
        let t = lambda_ticks(-1.0, 0.0);
        assert_eq!(t.len(), 4, "{t:?}");
        assert_eq!(lambda_label(2f64.log10() - 1.0), "0.2");
        assert_eq!(lambda_label(-2.0), "0.01");
    }
}
