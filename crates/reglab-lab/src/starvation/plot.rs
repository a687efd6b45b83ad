//! The decision function of the toy on its square: shaded by the sign and size of the logit,
//! the boundary (logit 0) in black, the training points on top; PNG and SVG.

use crate::report::plot::{font, write_png_svg};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

/// What one figure shows.
pub struct Boundary<'a> {
    /// Title.
    pub title: &'a str,
    /// The logit on the `grid × grid` lattice of `[−extent, extent]²` (row-major, `x₂` along rows).
    pub lattice: &'a [f32],
    /// Lattice points per side.
    pub grid: usize,
    /// Half-width of the square.
    pub extent: f64,
    /// Training points and their labels (±1).
    pub points: &'a [[f64; 2]],
    /// Their labels.
    pub labels: &'a [f64],
}

/// Shades per side of the square (the SVG stays small; the boundary uses the full lattice).
const SHADES: usize = 60;

/// Draw `b` and write `png` and `svg`.
pub fn plot_boundary(b: &Boundary<'_>, png: &Path, svg: &Path) -> Result<(), String> {
    write_png_svg(png, svg, |r| draw(r, b), |r| draw(r, b))
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, b: &Boundary<'_>) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let (w, _) = root.dim_in_pixel();
    let square = root.margin(8, 8, (w as i32 - 620).max(8) as u32 / 2, (w as i32 - 620).max(8) as u32 / 2);
    let e = b.extent;
    let mut chart = ChartBuilder::on(&square)
        .caption(b.title, font(20.0))
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(-e..e, -e..e)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("x₁ (linear feature)")
        .y_desc("x₂ (moons)")
        .label_style(font(14.0))
        .axis_desc_style(font(15.0))
        .draw()
        .map_err(err)?;
    let g = b.grid;
    let at = |i: usize| -e + 2.0 * e * i as f64 / (g - 1) as f64;
    let value = |x: f64, y: f64| {
        let c = (((x + e) / (2.0 * e)) * (g - 1) as f64).round().clamp(0.0, (g - 1) as f64) as usize;
        let r = (((y + e) / (2.0 * e)) * (g - 1) as f64).round().clamp(0.0, (g - 1) as f64) as usize;
        f64::from(b.lattice[r * g + c])
    };
    let step = 2.0 * e / SHADES as f64;
    let mut cells = Vec::with_capacity(SHADES * SHADES);
    for i in 0..SHADES {
        for j in 0..SHADES {
            let (x0, y0) = (-e + j as f64 * step, -e + i as f64 * step);
            let v = value(x0 + step / 2.0, y0 + step / 2.0).tanh();
            // red for class +1 (logit > 0), blue for class −1, white at 0
            let (r, gc, bl) = if v > 0.0 {
                (255.0, 255.0 * (1.0 - 0.45 * v), 255.0 * (1.0 - 0.45 * v))
            } else {
                (255.0 * (1.0 + 0.45 * v), 255.0 * (1.0 + 0.45 * v), 255.0)
            };
            cells.push(Rectangle::new([(x0, y0), (x0 + step, y0 + step)], RGBColor(r as u8, gc as u8, bl as u8).filled()));
        }
    }
    chart.draw_series(cells).map_err(err)?;
    let mut edge = Vec::new();
    for r in 0..g {
        for c in 0..g {
            let v = b.lattice[r * g + c] > 0.0;
            if (c + 1 < g && (b.lattice[r * g + c + 1] > 0.0) != v) || (r + 1 < g && (b.lattice[(r + 1) * g + c] > 0.0) != v) {
                edge.push((at(c), at(r)));
            }
        }
    }
    chart.draw_series(edge.into_iter().map(|p| Circle::new(p, 1, BLACK.filled()))).map_err(err)?;
    let (red, blue) = (RGBColor(0xc0, 0x20, 0x20), RGBColor(0x20, 0x40, 0xc0));
    chart
        .draw_series(b.points.iter().zip(b.labels).map(|(p, &l)| Circle::new((p[0], p[1]), 3, if l > 0.0 { red } else { blue }.filled())))
        .map_err(err)?;
    Ok(())
}
