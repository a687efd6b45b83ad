//! Success rate against M/N, one curve per method, as PNG and SVG (the look, font and colours
//! of [`crate::report::plot`]).

use crate::report::plot::{SideLegend, arm_color, font, side_mesh, write_png_svg};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// One method's curve.
#[derive(Debug, Clone)]
pub struct Curve {
    /// Legend text.
    pub label: String,
    /// `(M/N, rate, standard error)` per grid point.
    pub points: Vec<(f64, f64, f64)>,
    /// Where the curve crosses 50 %, if inside the grid.
    pub crossing: Option<f64>,
}

/// Draw `curves` (colours in this order) and write `png` and `svg`, each through a temporary
/// file and a rename. `notes` are grey lines under the legend.
pub fn plot_rates(curves: &[Curve], title: &str, y_label: &str, notes: &[String], png: &Path, svg: &Path) -> Result<(), String> {
    write_png_svg(png, svg, |root| draw(root, curves, title, y_label, notes), |root| draw(root, curves, title, y_label, notes))
}

/// `0.5`, `0.25`, `1` — at most 3 decimals, trailing zeros dropped.
fn ratio_label(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, curves: &[Curve], title: &str, y_label: &str, notes: &[String]) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let legend_font = font(16.0);
    let labels: Vec<String> = curves
        .iter()
        .map(|c| match c.crossing {
            Some(x) => format!("{} (50 % at {})", c.label, ratio_label(x)),
            None => c.label.clone(),
        })
        .collect();
    let fig = SideLegend::new(root, title, &labels, &legend_font, notes, (7, 20)).map_err(err)?;

    let xs = curves.iter().flat_map(|c| c.points.iter().map(|p| p.0));
    let (mut x0, mut x1) = (f64::INFINITY, f64::NEG_INFINITY);
    for x in xs {
        x0 = x0.min(x);
        x1 = x1.max(x);
    }
    if !x0.is_finite() {
        (x0, x1) = (0.0, 1.0);
    }
    let pad = ((x1 - x0) * 0.02).max(0.01);
    let mut chart = fig.chart().build_cartesian_2d((x0 - pad)..(x1 + pad), -0.02f64..1.02f64).map_err(err)?;
    side_mesh(&mut chart.configure_mesh())
        .x_desc("M/N")
        .y_desc(y_label)
        .x_label_formatter(&|x| ratio_label(*x))
        .y_label_formatter(&|y| ratio_label(*y))
        .x_labels(12)
        .y_labels(11)
        .draw()
        .map_err(err)?;
    // The 50 % line, dashed.
    let grey = RGBColor(0x99, 0x99, 0x99);
    let dash = (x1 - x0 + 2.0 * pad) / 120.0;
    let mut x = x0 - pad;
    while x < x1 + pad {
        let end = (x + dash).min(x1 + pad);
        chart.draw_series(std::iter::once(PathElement::new(vec![(x, 0.5), (end, 0.5)], grey.stroke_width(1)))).map_err(err)?;
        x += 2.0 * dash;
    }
    for (i, c) in curves.iter().enumerate() {
        let color = arm_color(i);
        if c.points.len() > 1 {
            let mut poly: Vec<(f64, f64)> = c.points.iter().map(|&(x, r, se)| (x, (r + se).min(1.0))).collect();
            poly.extend(c.points.iter().rev().map(|&(x, r, se)| (x, (r - se).max(0.0))));
            chart.draw_series(std::iter::once(Polygon::new(poly, color.mix(0.15).filled()))).map_err(err)?;
        }
    }
    for (i, c) in curves.iter().enumerate() {
        let color = arm_color(i);
        let line: Vec<(f64, f64)> = c.points.iter().map(|&(x, r, _)| (x, r)).collect();
        chart.draw_series(std::iter::once(PathElement::new(line, color.stroke_width(2)))).map_err(err)?;
        chart.draw_series(c.points.iter().map(|&(x, r, _)| Circle::new((x, r), 3, color.filled()))).map_err(err)?;
        if let Some(xc) = c.crossing {
            chart.draw_series(std::iter::once(PathElement::new(vec![(xc, 0.44), (xc, 0.56)], color.stroke_width(3)))).map_err(err)?;
        }
    }

    fig.draw(&labels, &legend_font, notes, |i, area, y| {
        let color = arm_color(i);
        area.draw(&Rectangle::new([(0, y + 3), (30, y + 17)], color.mix(0.15).filled()))?;
        area.draw(&PathElement::new(vec![(0, y + 10), (30, y + 10)], color.stroke_width(2)))
    })
    .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_plot_writes_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let (png, svg) = (dir.path().join("s.png"), dir.path().join("s.svg"));
        let curves = vec![
            Curve { label: "cs".into(), points: vec![(0.1, 0.0, 0.0), (0.5, 0.6, 0.05), (1.0, 1.0, 0.0)], crossing: Some(0.42) },
            Curve { label: "linf".into(), points: vec![(0.1, 0.0, 0.0), (0.5, 0.2, 0.04), (1.0, 1.0, 0.0)], crossing: None },
        ];
        plot_rates(&curves, "Success", "success rate", &["band: ± 1 s.e.".into()], &png, &svg).unwrap();
        assert_eq!(&std::fs::read(&png).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
        let s = std::fs::read_to_string(&svg).unwrap();
        assert!(s.contains("cs (50 % at 0.42)") && s.contains("linf") && s.contains("M/N"), "{}", &s[..200]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temporary files left");
        assert_eq!(ratio_label(0.5), "0.5");
        assert_eq!(ratio_label(1.0), "1");
        assert_eq!(ratio_label(0.125), "0.125");
    }
}
