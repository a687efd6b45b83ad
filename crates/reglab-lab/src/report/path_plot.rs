//! A quantity against λ (log scale), one line per method and a dashed line for the reference
//! solution, as PNG and SVG (the look, font and colours of [`crate::report::plot`]).

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

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, curves: &[PathCurve], opts: &PathPlot<'_>) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let legend_font = font(15.0);
    let labels: Vec<String> = curves.iter().map(|c| c.label.clone()).collect();
    let fig = SideLegend::new(root, opts.title, &labels, &legend_font, opts.notes, (2, 5)).map_err(err)?;
    let plot_area = &fig.plot;

    let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    for c in curves {
        for &(l, v) in &c.points {
            if l > 0.0 && l.is_finite() {
                x0 = x0.min(l.log10());
                x1 = x1.max(l.log10());
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
    let ticks = lambda_ticks(x0, x1);
    side_mesh(&mut chart.configure_mesh())
        .x_desc(opts.x_label.unwrap_or("λ (log scale)"))
        .y_desc(opts.y_label)
        .x_labels(0)
        .y_label_formatter(&|y| crate::report::html::format_number((*y * 1e6).round() / 1e6))
        .y_labels(10)
        .draw()
        .map_err(err)?;
    // x ticks by hand (decades on a log axis)
    let grid = BLACK.mix(0.12);
    for &t in &ticks {
        chart.draw_series(std::iter::once(PathElement::new(vec![(t, y0 - ypad), (t, y1 + ypad)], grid.stroke_width(1)))).map_err(err)?;
    }
    let tick_font = font(14.0).pos(Pos::new(HPos::Center, VPos::Top));
    let (bx, by) = plot_area.get_base_pixel();
    for &t in &ticks {
        let (px, py) = chart.plotting_area().map_coordinate(&(t, y0 - ypad));
        plot_area.draw(&Text::new(lambda_label(t), (px - bx, py - by + 8), tick_font.clone())).map_err(err)?;
    }
    let grey = RGBColor(0x88, 0x88, 0x88);
    if let Some(lm) = opts.lambda_max.filter(|v| *v > 0.0 && v.log10() >= x0 - xpad && v.log10() <= x1 + xpad) {
        let x = lm.log10();
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
    let pts = |c: &PathCurve| -> Vec<(f64, f64)> { c.points.iter().filter(|p| p.0 > 0.0 && p.1.is_finite()).map(|&(l, v)| (l.log10(), v)).collect() };
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
