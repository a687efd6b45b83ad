//! Success rate against M/N, one curve per method, as PNG and SVG (the look, font and colours
//! of [`crate::report::plot`]).

use crate::report::plot::{arm_color, ensure_font, fit, font, temp_sibling, PLOT_HEIGHT, PLOT_WIDTH};
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
    ensure_font()?;
    let tmp_png = temp_sibling(png, "png");
    {
        let root = BitMapBackend::new(&tmp_png, (PLOT_WIDTH, PLOT_HEIGHT)).into_drawing_area();
        let drawn = draw(&root, curves, title, y_label, notes).and_then(|()| root.present().map_err(|e| e.to_string()));
        if let Err(e) = drawn {
            let _ = std::fs::remove_file(&tmp_png);
            return Err(format!("{}: {e}", png.display()));
        }
    }
    std::fs::rename(&tmp_png, png).map_err(|e| {
        let _ = std::fs::remove_file(&tmp_png);
        format!("{}: {e}", png.display())
    })?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (PLOT_WIDTH, PLOT_HEIGHT)).into_drawing_area();
        draw(&root, curves, title, y_label, notes)?;
        root.present().map_err(|e| e.to_string())?;
    }
    reglab_train::tensorfile::write_atomic(svg, text.as_bytes()).map_err(|e| format!("{}: {e}", svg.display()))
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
    root.fill(&WHITE).map_err(err)?;
    let (w, _) = root.dim_in_pixel();
    let root = root.margin(8, 0, 0, 0).titled(title, font(24.0)).map_err(err)?;
    let legend_font = font(16.0);
    let note_font = font(13.0).color(&RGBColor(0x55, 0x55, 0x55));
    let labels: Vec<String> = curves
        .iter()
        .map(|c| match c.crossing {
            Some(x) => format!("{} (50 % at {})", c.label, ratio_label(x)),
            None => c.label.clone(),
        })
        .collect();
    let mut text_w = 0u32;
    for l in &labels {
        text_w = text_w.max(root.estimate_text_size(l, &legend_font).map_err(err)?.0);
    }
    for n in notes {
        text_w = text_w.max(root.estimate_text_size(n, &note_font).map_err(err)?.0);
    }
    let panel_w = (text_w + 60).clamp(150, w * 7 / 20);
    let (plot_area, legend_area) = root.split_horizontally(w - panel_w);

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
    let mut chart = ChartBuilder::on(&plot_area)
        .margin_left(10)
        .margin_right(20)
        .margin_top(10)
        .margin_bottom(10)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d((x0 - pad)..(x1 + pad), -0.02f64..1.02f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("M/N")
        .y_desc(y_label)
        .axis_desc_style(font(17.0))
        .label_style(font(14.0))
        .x_label_formatter(&|x| ratio_label(*x))
        .y_label_formatter(&|y| ratio_label(*y))
        .x_labels(12)
        .y_labels(11)
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
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
            chart
                .draw_series(std::iter::once(PathElement::new(vec![(xc, 0.44), (xc, 0.56)], color.stroke_width(3))))
                .map_err(err)?;
        }
    }

    let legend_area = legend_area.margin(40, 10, 0, 10);
    let mut y = 0i32;
    let max_text = (panel_w as i32 - 60).max(40) as u32;
    for (i, label) in labels.iter().enumerate() {
        let color = arm_color(i);
        legend_area.draw(&Rectangle::new([(0, y + 3), (30, y + 17)], color.mix(0.15).filled())).map_err(err)?;
        legend_area.draw(&PathElement::new(vec![(0, y + 10), (30, y + 10)], color.stroke_width(2))).map_err(err)?;
        let label = fit(&legend_area, label, &legend_font, max_text).map_err(err)?;
        legend_area.draw(&Text::new(label, (38, y + 3), legend_font.clone())).map_err(err)?;
        y += 26;
    }
    y += 10;
    for n in notes {
        legend_area.draw(&Text::new(n.clone(), (0, y), note_font.clone())).map_err(err)?;
        y += 20;
    }
    Ok(())
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
