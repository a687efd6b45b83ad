//! One metric of an experiment over the task stream, one line per arm: PNG and SVG.
//!
//! x is the task index, the line is the mean over seeds (at each task, over the seeds that have
//! the metric there) and the shaded band is the mean ± one population standard deviation over
//! those seeds, as [`crate::results::summarize`] computes them; the legend says so. Tasks where
//! the mean is not finite (a diverged seed) are gaps in the line and the band.
//!
//! Text is drawn with DejaVu Sans embedded in the binary (plotters' `ab_glyph` feature): no system
//! fonts, no fontconfig, the same pixels on every machine.

use crate::results::{Row, summarize};
use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;
use std::sync::OnceLock;

/// Width of the images, pixels (the SVG uses the same user units).
pub const PLOT_WIDTH: u32 = 1000;
/// Height of the images, pixels.
pub const PLOT_HEIGHT: u32 = 600;

/// DejaVu Sans 2.37 (Bitstream Vera license, see `assets/LICENSE-DejaVu`).
static FONT_TTF: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
/// The family every text of the plots asks for; the SVG names it too, so a browser uses its own
/// sans-serif there.
const FAMILY: &str = "sans-serif";

/// Colour-blind-safe first (Okabe & Ito, without the yellow that vanishes on white), then
/// Tableau 10 and a few more; cycles beyond 16 arms.
const PALETTE: [(u8, u8, u8); 16] = [
    (0x00, 0x72, 0xB2), // blue
    (0xD5, 0x5E, 0x00), // vermillion
    (0x00, 0x9E, 0x73), // bluish green
    (0xCC, 0x79, 0xA7), // reddish purple
    (0xE6, 0x9F, 0x00), // orange
    (0x56, 0xB4, 0xE9), // sky blue
    (0x33, 0x33, 0x33), // near black
    (0x8C, 0x56, 0x4B), // brown
    (0x7F, 0x3C, 0x8D), // purple
    (0x59, 0xA1, 0x4F), // green
    (0xE1, 0x57, 0x59), // red
    (0x9C, 0x9E, 0xDE), // lavender
    (0x17, 0xBE, 0xCF), // cyan
    (0xBC, 0xBD, 0x22), // olive
    (0xF7, 0xB6, 0xD2), // pink
    (0x1F, 0x3A, 0x5F), // navy
];

/// The colour of the `i`-th arm in plots (the same order as `arms`).
pub fn arm_color(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// Register the embedded font with plotters, once per process.
pub(crate) fn ensure_font() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT_TTF)
            .map_err(|_| "the embedded font DejaVuSans.ttf could not be parsed".to_string())
    })
    .clone()
}

/// One arm's points: `(task, mean, std)` with finite values, and the seed counts seen.
struct Series {
    name: String,
    color: RGBColor,
    points: Vec<(f64, f64, f64)>,
    min_n: usize,
    max_n: usize,
}

impl Series {
    /// Runs of consecutive tasks (no gap from a non-finite mean), each at least one point.
    fn segments(&self) -> Vec<&[(f64, f64, f64)]> {
        let mut out = Vec::new();
        let mut start = 0;
        for i in 1..=self.points.len() {
            if i == self.points.len() || self.points[i].0 - self.points[i - 1].0 > 1.5 {
                if i > start {
                    out.push(&self.points[start..i]);
                }
                start = i;
            }
        }
        out
    }
}

/// Plot `metric` for `arms` (in this order, which fixes the colours) over tasks and write it as
/// `png` and `svg` (each written to a temporary file in its directory, then renamed).
///
/// An arm without the metric is listed in the legend as "(no data)"; with no data at all the
/// axes are drawn empty with a note. Errors (unwritable directory, …) are one line of text.
pub fn plot_metric(rows: &[Row], arms: &[String], metric: &str, title: &str, y_label: &str, png: &Path, svg: &Path) -> Result<(), String> {
    plot_metric_x(rows, arms, metric, title, ("task", 1.0), y_label, png, svg)
}

/// [`plot_metric`] with another name for the x axis and a scale (`x = task·scale`), e.g.
/// `("epoch", 1/k)` for the rows at `k` parts of each epoch of a single-task experiment.
#[allow(clippy::too_many_arguments)]
pub fn plot_metric_x(
    rows: &[Row],
    arms: &[String],
    metric: &str,
    title: &str,
    (x_label, x_scale): (&str, f64),
    y_label: &str,
    png: &Path,
    svg: &Path,
) -> Result<(), String> {
    let series: Vec<Series> = arms
        .iter()
        .enumerate()
        .map(|(i, arm)| {
            let s = summarize(rows, arm, metric);
            let min_n = s.iter().map(|p| p.3).min().unwrap_or(0);
            let max_n = s.iter().map(|p| p.3).max().unwrap_or(0);
            let points = s
                .into_iter()
                .filter(|&(_, m, _, _)| m.is_finite())
                .map(|(t, m, sd, _)| (t as f64 * x_scale, m, if sd.is_finite() { sd } else { 0.0 }))
                .collect();
            Series { name: arm.clone(), color: arm_color(i), points, min_n, max_n }
        })
        .collect();

    write_png_svg(png, svg, |root| draw(root, &series, title, x_label, y_label, metric), |root| draw(root, &series, title, x_label, y_label, metric))
}

/// Register the font, draw a figure of `PLOT_WIDTH × PLOT_HEIGHT` with `draw_png` on a bitmap
/// and with `draw_svg` on an SVG document (the same drawing code, once per backend) and write
/// them as `png` and `svg`, each to a temporary file in its directory and then renamed. Errors
/// are one line; a failed PNG names its file and leaves no temporary file behind.
pub(crate) fn write_png_svg(
    png: &Path,
    svg: &Path,
    draw_png: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), String>,
    draw_svg: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>,
) -> Result<(), String> {
    ensure_font()?;
    // PNG: plotters' bitmap encoder picks the format from the extension, so the temporary file
    // ends in `.png`.
    let tmp_png = temp_sibling(png, "png");
    {
        let root = BitMapBackend::new(&tmp_png, (PLOT_WIDTH, PLOT_HEIGHT)).into_drawing_area();
        let drawn = draw_png(&root).and_then(|()| root.present().map_err(|e| e.to_string()));
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
        draw_svg(&root)?;
        root.present().map_err(|e| e.to_string())?;
    }
    reglab_train::tensorfile::write_atomic(svg, text.as_bytes()).map_err(|e| format!("{}: {e}", svg.display()))
}

/// `.NAME.tmp-PID-N.EXT` beside `path`.
pub(crate) fn temp_sibling(path: &Path, ext: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_stem().and_then(|n| n.to_str()).unwrap_or("plot");
    let n = N.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".{name}.tmp-{}-{n}.{ext}", std::process::id()))
}

pub(crate) fn font(size: f64) -> TextStyle<'static> {
    (FAMILY, size).into_font().into()
}

/// Integer tick positions from `lo` to `hi` with a 1-2-5 step, at most about 12 of them.
fn task_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (lo, hi) = (lo.round() as i64, hi.round() as i64);
    let span = (hi - lo).max(1);
    let mut step = 1i64;
    'outer: loop {
        for m in [1, 2, 5] {
            if span / (step * m) <= 11 {
                step *= m;
                break 'outer;
            }
        }
        step *= 10;
    }
    let first = if step == 1 { lo } else { lo.div_euclid(step) * step + if lo.rem_euclid(step) == 0 { 0 } else { step } };
    let mut ticks: Vec<f64> = (0..).map(|k| first + k * step).take_while(|&t| t <= hi).map(|t| t as f64).collect();
    if ticks.is_empty() {
        ticks.push(lo as f64);
    }
    ticks
}

/// The x axis: tasks as f64 (so that the points sit inside a little padding), ticks only at the
/// given integers.
struct TaskAxis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ranged for TaskAxis {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let f = (value - self.lo) / (self.hi - self.lo);
        limit.0 + (f * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// A y tick label: as many decimals as the tick spacing needs, scientific for very large or
/// very small magnitudes.
fn y_tick_label(v: f64, span: f64) -> String {
    let step = span / 10.0;
    let mag = v.abs().max(span.abs());
    if mag != 0.0 && !(1e-3..1e5).contains(&mag) {
        return format!("{v:.2e}");
    }
    let decimals = if step > 0.0 { (-(step.log10().floor()) as i32).clamp(0, 6) as usize } else { 2 };
    let s = format!("{v:.decimals$}");
    if s.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') { "0".into() } else { s }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    series: &[Series],
    title: &str,
    x_label: &str,
    y_label: &str,
    metric: &str,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let (w, _) = root.dim_in_pixel();

    // Title, then the legend as a panel on the right, so that it never covers a line.
    let root = root.margin(8, 0, 0, 0).titled(title, font(24.0)).map_err(err)?;
    let legend_font = font(16.0);
    let note_font = font(13.0).color(&RGBColor(0x55, 0x55, 0x55));
    let labels: Vec<String> = series.iter().map(legend_label).collect();
    let notes = ["line: mean over seeds", "band: mean ± 1 std", "(population std over seeds)"];
    let mut text_w = 0u32;
    for l in &labels {
        text_w = text_w.max(root.estimate_text_size(l, &legend_font).map_err(err)?.0);
    }
    for n in &notes {
        text_w = text_w.max(root.estimate_text_size(n, &note_font).map_err(err)?.0);
    }
    let max_panel = w * 7 / 20;
    let panel_w = (text_w + 60).clamp(150, max_panel);
    let (plot_area, legend_area) = root.split_horizontally(w - panel_w);

    // Ranges from the finite points, band included.
    let all = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for &(t, m, sd) in all {
        x0 = x0.min(t);
        x1 = x1.max(t);
        y0 = y0.min(m - sd);
        y1 = y1.max(m + sd);
    }
    let empty = !x0.is_finite();
    if empty {
        (x0, x1, y0, y1) = (1.0, 2.0, 0.0, 1.0);
    }
    let y_pad = if y1 > y0 { (y1 - y0) * 0.06 } else { y0.abs().max(1.0) * 0.05 };
    let (y0, y1) = (y0 - y_pad, y1 + y_pad);
    let x_pad = ((x1 - x0) * 0.02).max(0.25);
    let ticks = task_ticks(x0, x1);
    let y_span = y1 - y0;

    let mut chart = ChartBuilder::on(&plot_area)
        .margin_left(10)
        .margin_right(20)
        .margin_top(10)
        .margin_bottom(10)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(TaskAxis { lo: x0 - x_pad, hi: x1 + x_pad, ticks }, y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .axis_desc_style(font(17.0))
        .label_style(font(14.0))
        .x_label_formatter(&|x| format!("{}", x.round() as i64))
        .y_label_formatter(&|y| y_tick_label(*y, y_span))
        .y_labels(8)
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()
        .map_err(err)?;

    if empty {
        let msg = format!("no data for {metric}");
        let style = font(18.0).color(&RGBColor(0x80, 0x80, 0x80)).pos(Pos::new(HPos::Center, VPos::Center));
        chart.draw_series(std::iter::once(Text::new(msg, ((x0 + x1) / 2.0, (y0 + y1) / 2.0), style))).map_err(err)?;
    }

    // Bands first (all arms), then lines and markers on top.
    for s in series {
        let fill = s.color.mix(0.18).filled();
        for seg in s.segments() {
            if seg.len() == 1 {
                let (t, m, sd) = seg[0];
                chart
                    .draw_series(std::iter::once(PathElement::new(vec![(t, m - sd), (t, m + sd)], s.color.mix(0.5).stroke_width(3))))
                    .map_err(err)?;
                continue;
            }
            let mut poly: Vec<(f64, f64)> = seg.iter().map(|&(t, m, sd)| (t, m + sd)).collect();
            poly.extend(seg.iter().rev().map(|&(t, m, sd)| (t, m - sd)));
            chart.draw_series(std::iter::once(Polygon::new(poly, fill))).map_err(err)?;
        }
    }
    let many = series.iter().map(|s| s.points.len()).max().unwrap_or(0) > 40;
    for s in series {
        for seg in s.segments() {
            let line: Vec<(f64, f64)> = seg.iter().map(|&(t, m, _)| (t, m)).collect();
            chart.draw_series(std::iter::once(PathElement::new(line, s.color.stroke_width(2)))).map_err(err)?;
            if !many {
                chart.draw_series(seg.iter().map(|&(t, m, _)| Circle::new((t, m), 3, s.color.filled()))).map_err(err)?;
            }
        }
    }

    // The legend panel: a swatch (band colour behind the line colour) and the arm name.
    let legend_area = legend_area.margin(40, 10, 0, 10);
    let row_h = 26i32;
    let mut y = 0i32;
    let max_text = (panel_w as i32 - 60).max(40) as u32;
    for (s, label) in series.iter().zip(&labels) {
        legend_area.draw(&Rectangle::new([(0, y + 3), (30, y + 17)], s.color.mix(0.18).filled())).map_err(err)?;
        legend_area.draw(&PathElement::new(vec![(0, y + 10), (30, y + 10)], s.color.stroke_width(2))).map_err(err)?;
        let label = fit(&legend_area, label, &legend_font, max_text).map_err(err)?;
        legend_area.draw(&Text::new(label, (38, y + 3), legend_font.clone())).map_err(err)?;
        y += row_h;
    }
    y += 10;
    for n in notes {
        legend_area.draw(&Text::new(n.to_string(), (0, y), note_font.clone())).map_err(err)?;
        y += 20;
    }
    Ok(())
}

/// "arm", "arm (no data)", and the seed count when it is not the same for every arm's task.
fn legend_label(s: &Series) -> String {
    if s.points.is_empty() {
        return format!("{} (no data)", s.name);
    }
    if s.min_n == s.max_n { format!("{} (n={})", s.name, s.min_n) } else { format!("{} (n={}–{})", s.name, s.min_n, s.max_n) }
}

/// The grey notes under a side legend.
pub(crate) fn note_font() -> TextStyle<'static> {
    font(13.0).color(&RGBColor(0x55, 0x55, 0x55))
}

/// A figure with a legend panel at its right (the solver experiments' plots): `root` filled
/// white and titled, then split into the plot area and the legend panel, as wide as the widest
/// of `labels` (in `legend_font`) and `notes` (in [`note_font`]) plus 60 px, at least 150 px and
/// at most `max_share = (a, b)`, i.e. `a/b`, of the width.
pub(crate) struct SideLegend<DB: DrawingBackend> {
    /// Where the chart goes.
    pub plot: DrawingArea<DB, Shift>,
    legend: DrawingArea<DB, Shift>,
    width: u32,
}

impl<DB: DrawingBackend> SideLegend<DB> {
    /// Lay out the figure (see the type).
    pub(crate) fn new(
        root: &DrawingArea<DB, Shift>,
        title: &str,
        labels: &[String],
        legend_font: &TextStyle,
        notes: &[String],
        max_share: (u32, u32),
    ) -> Result<Self, DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let (w, _) = root.dim_in_pixel();
        let root = root.margin(8, 0, 0, 0).titled(title, font(24.0))?;
        let mut text_w = 0u32;
        for l in labels {
            text_w = text_w.max(root.estimate_text_size(l, legend_font)?.0);
        }
        for n in notes {
            text_w = text_w.max(root.estimate_text_size(n, &note_font())?.0);
        }
        let width = (text_w + 60).clamp(150, w * max_share.0 / max_share.1);
        let (plot, legend) = root.split_horizontally(w - width);
        Ok(Self { plot, legend, width })
    }

    /// A chart on the plot area: margins of 10 px (20 at the right), axis label areas of 50 px
    /// (x) and 70 px (y).
    pub(crate) fn chart<'a, 'b>(&'a self) -> ChartBuilder<'a, 'b, DB> {
        let mut b = ChartBuilder::on(&self.plot);
        b.margin_left(10).margin_right(20).margin_top(10).margin_bottom(10).x_label_area_size(50).y_label_area_size(70);
        b
    }

    /// Draw the legend: one 26 px line per label, its swatch drawn by `swatch(i, area, y)` in
    /// the 30 px at the left of line `i` (top at `y`), the label cut to fit; then the `notes`.
    pub(crate) fn draw(
        &self,
        labels: &[String],
        legend_font: &TextStyle,
        notes: &[String],
        mut swatch: impl FnMut(usize, &DrawingArea<DB, Shift>, i32) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let area = self.legend.margin(40, 10, 0, 10);
        let mut y = 0i32;
        let max_text = (self.width as i32 - 60).max(40) as u32;
        for (i, label) in labels.iter().enumerate() {
            swatch(i, &area, y)?;
            let label = fit(&area, label, legend_font, max_text)?;
            area.draw(&Text::new(label, (38, y + 3), legend_font.clone()))?;
            y += 26;
        }
        y += 10;
        for n in notes {
            area.draw(&Text::new(n.clone(), (0, y), note_font()))?;
            y += 20;
        }
        Ok(())
    }
}

/// The mesh of the solver experiments' plots: 17 px axis descriptions, 14 px labels, no light
/// lines, faint bold lines.
pub(crate) fn side_mesh<'m, 'a, 'b, X: Ranged, Y: Ranged, DB: DrawingBackend>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>,
) -> &'m mut MeshStyle<'a, 'b, X, Y, DB> {
    mesh.axis_desc_style(font(17.0)).label_style(font(14.0)).light_line_style(WHITE.mix(0.0)).bold_line_style(BLACK.mix(0.12))
}

/// `text`, cut with an ellipsis until it is at most `max_w` pixels wide.
pub(crate) fn fit<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    max_w: u32,
) -> Result<String, DrawingAreaErrorKind<DB::ErrorType>> {
    if area.estimate_text_size(text, style)?.0 <= max_w {
        return Ok(text.to_string());
    }
    let chars: Vec<char> = text.chars().collect();
    let mut n = chars.len();
    while n > 1 {
        n -= 1;
        let cut: String = chars[..n].iter().collect::<String>() + "…";
        if area.estimate_text_size(&cut, style)?.0 <= max_w {
            return Ok(cut);
        }
    }
    Ok("…".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_integers_and_few() {
        assert_eq!(task_ticks(1.0, 5.0), vec![1.0, 2.0, 3.0, 4.0, 5.0]);
        let t = task_ticks(1.0, 100.0);
        assert!(t.len() <= 12 && t.len() >= 5, "{t:?}");
        assert!(t.iter().all(|x| x.fract() == 0.0 && (1.0..=100.0).contains(x)));
        assert_eq!(task_ticks(3.0, 3.0), vec![3.0]);
    }

    #[test]
    fn y_labels_are_short() {
        assert_eq!(y_tick_label(0.85, 0.3), "0.85");
        assert_eq!(y_tick_label(0.0, 0.3), "0");
        assert_eq!(y_tick_label(1234.0, 2000.0), "1234");
        assert_eq!(y_tick_label(2e-5, 1e-5), "2.00e-5");
    }
}
