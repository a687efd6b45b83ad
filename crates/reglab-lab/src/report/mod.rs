//! The plots and the HTML report of an experiment.
//!
//! - [`plot::plot_metric`]: one metric over tasks, one line per arm (mean over seeds) with a
//!   band of ± one standard deviation, as PNG and SVG. Text is drawn with an embedded font
//!   (DejaVu Sans, `assets/DejaVuSans.ttf`, license in `assets/LICENSE-DejaVu`): no system fonts.
//! - [`path_plot::plot_path`]: a quantity against λ on a log axis, one line per method (the
//!   solver kinds' λ-path plots).
//! - [`scatter::plot_scatter`]: one metric against another, one point per arm and seed at the
//!   end of training (accuracy against retention of the pretrained representation).
//! - [`html::write_report`]: one page with the question, a summary table, the plots and the
//!   configuration; plain HTML and inline CSS, no JavaScript, no external resources.
//!
//! Every file is written to a temporary file in its directory and then renamed.

pub mod by_arm;
pub mod html;
pub mod path_plot;
pub mod plot;
pub mod scatter;

pub use by_arm::{Curve, plot_by_arm, plot_curves};
pub use html::{Cell, Figure, ReportInput, SummaryRow, format_number, render_html, write_report};
pub use plot::{PLOT_HEIGHT, PLOT_WIDTH, plot_metric};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Row;
    use std::collections::BTreeMap;
    use std::path::Path;

    /// 2 arms × 2 seeds × 5 tasks: accuracy rising (arm a) or falling (arm b) with seed noise.
    fn rows() -> Vec<Row> {
        let mut out = Vec::new();
        for (ai, arm) in ["l2=1e-3", "spectral=1e-2"].iter().enumerate() {
            for seed in 0..2u64 {
                for task in 1..=5usize {
                    let t = task as f64;
                    let base = if ai == 0 { 0.80 - 0.04 * t } else { 0.78 + 0.01 * t };
                    let noise = if seed == 0 { 0.015 } else { -0.015 } * (1.0 + 0.3 * t);
                    let mut m = BTreeMap::new();
                    m.insert("test_accuracy".to_string(), base + noise);
                    m.insert("weight_norm".to_string(), 10.0 + t * (ai as f64 + 1.0) + seed as f64);
                    out.push(Row { arm: arm.to_string(), seed, task, metrics: m });
                }
            }
        }
        out
    }

    fn arms() -> Vec<String> {
        vec!["l2=1e-3".into(), "spectral=1e-2".into()]
    }

    /// Width and height from the PNG's IHDR chunk, after checking the signature.
    fn png_size(bytes: &[u8]) -> (u32, u32) {
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
        assert_eq!(&bytes[12..16], b"IHDR");
        let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
        (w, h)
    }

    fn decode(path: &Path) -> (u32, u32, Vec<u8>, png::ColorType) {
        let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf, info.color_type)
    }

    #[test]
    fn plot_writes_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let png_path = dir.path().join("test_accuracy.png");
        let svg_path = dir.path().join("test_accuracy.svg");
        plot_metric(&rows(), &arms(), "test_accuracy", "Test accuracy over tasks", "test accuracy", &png_path, &svg_path).unwrap();

        let bytes = std::fs::read(&png_path).unwrap();
        assert_eq!(png_size(&bytes), (PLOT_WIDTH, PLOT_HEIGHT));
        let (w, h, pixels, color) = decode(&png_path);
        assert_eq!((w, h), (PLOT_WIDTH, PLOT_HEIGHT));
        assert_eq!(color, png::ColorType::Rgb);
        // Not blank: both arms' colours are drawn.
        let has = |c: plotters::style::RGBColor| pixels.chunks(3).any(|p| p == [c.0, c.1, c.2]);
        assert!(has(plot::arm_color(0)) && has(plot::arm_color(1)));

        let svg = std::fs::read_to_string(&svg_path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..60]);
        assert!(svg.contains("Test accuracy over tasks"));
        assert!(svg.contains("l2=1e-3") && svg.contains("spectral=1e-2"));
        assert!(svg.contains("± 1 std"));
        // No temporary files left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        assert_eq!(names.len(), 2, "{names:?}");

        // Keep a copy to look at when asked (REGLAB_PLOT_SAMPLE=DIR).
        if let Ok(out) = std::env::var("REGLAB_PLOT_SAMPLE") {
            std::fs::create_dir_all(&out).unwrap();
            std::fs::copy(&png_path, Path::new(&out).join("test_accuracy.png")).unwrap();
            std::fs::copy(&svg_path, Path::new(&out).join("test_accuracy.svg")).unwrap();
        }
    }

    #[test]
    fn missing_metric_for_one_arm_and_no_data_at_all_do_not_panic() {
        let mut rows = rows();
        for r in rows.iter_mut().filter(|r| r.arm == "spectral=1e-2") {
            r.metrics.remove("test_accuracy");
        }
        // A diverged seed: a NaN at one task breaks the line there.
        rows[2].metrics.insert("test_accuracy".into(), f64::NAN);
        let dir = tempfile::tempdir().unwrap();
        let (p, s) = (dir.path().join("a.png"), dir.path().join("a.svg"));
        plot_metric(&rows, &arms(), "test_accuracy", "t", "y", &p, &s).unwrap();
        assert!(std::fs::read_to_string(&s).unwrap().contains("spectral=1e-2 (no data)"));
        assert_eq!(png_size(&std::fs::read(&p).unwrap()), (PLOT_WIDTH, PLOT_HEIGHT));

        plot_metric(&rows, &arms(), "absent", "t", "y", &p, &s).unwrap();
        assert!(std::fs::read_to_string(&s).unwrap().contains("no data for absent"));
        plot_metric(&[], &[], "absent", "t", "y", &p, &s).unwrap();
        // One task only, and an arm not in the rows.
        let one: Vec<Row> = rows.iter().filter(|r| r.task == 3).cloned().collect();
        plot_metric(&one, &["l2=1e-3".into(), "ghost".into()], "weight_norm", "t", "y", &p, &s).unwrap();
    }

    /// Six arms with long names, 60 tasks, a diverged seed (a gap), large values.
    #[test]
    fn many_arms_and_tasks() {
        let names: Vec<String> =
            (0..6).map(|i| if i == 5 { "l2-init=1e-3+spectral=1e-2:schedule=cosine,warmup=100".into() } else { format!("arm-{i}") }).collect();
        let mut rows = Vec::new();
        for (i, arm) in names.iter().enumerate() {
            for seed in 0..3u64 {
                for task in 1..=60usize {
                    let v = 1000.0 * (1.0 + i as f64) + 20.0 * (task as f64 * 0.2 + i as f64).sin() + 15.0 * seed as f64;
                    let v = if i == 2 && (20..25).contains(&task) && seed == 1 { f64::NAN } else { v };
                    let m = BTreeMap::from([("weight_norm".to_string(), v)]);
                    rows.push(Row { arm: arm.clone(), seed, task, metrics: m });
                }
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let (p, s) = (dir.path().join("w.png"), dir.path().join("w.svg"));
        plot_metric(&rows, &names, "weight_norm", "Weight norm, six arms", "‖W‖_F", &p, &s).unwrap();
        assert_eq!(png_size(&std::fs::read(&p).unwrap()), (PLOT_WIDTH, PLOT_HEIGHT));
        if let Ok(out) = std::env::var("REGLAB_PLOT_SAMPLE") {
            std::fs::create_dir_all(&out).unwrap();
            std::fs::copy(&p, Path::new(&out).join("many.png")).unwrap();
        }
    }

    #[test]
    fn plot_into_a_missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("no/such/a.png");
        let s = dir.path().join("no/such/a.svg");
        let e = plot_metric(&rows(), &arms(), "test_accuracy", "t", "y", &p, &s).unwrap_err();
        assert!(e.contains("a.png"), "{e}");
    }

    fn input() -> ReportInput {
        ReportInput {
            title: "Plasticity <on> digits".into(),
            question: "Does a spectral penalty keep the network trainable?\n\nCompare \"l2\" & spectral.".into(),
            columns: vec!["final test accuracy".into(), "weight norm".into(), "note".into()],
            rows: vec![
                SummaryRow {
                    arm: "l2=1e-3".into(),
                    cells: vec![Cell::MeanStd { mean: 0.61234, std: 0.0213 }, Cell::Num(12.3456), Cell::Text("ok".into())],
                },
                SummaryRow { arm: "<script>alert(1)</script>".into(), cells: vec![Cell::Num(0.8), Cell::Missing] },
            ],
            table_note: "mean ± std over 2 seeds at the last task".into(),
            figures: vec![
                Figure {
                    png: "plots/test_accuracy.png".into(),
                    svg: Some("plots/test_accuracy.svg".into()),
                    caption: "Test accuracy; band = ± 1 std".into(),
                },
                Figure { png: "plots/weight norm.png".into(), svg: None, caption: "Weight norm".into() },
            ],
            config_toml: "name = \"plasticity\"\n[arms]\nreg = \"<b>l2</b>\"\n".into(),
        }
    }

    #[test]
    fn html_report_has_everything_escaped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.html");
        write_report(&path, &input()).unwrap();
        let h = std::fs::read_to_string(&path).unwrap();
        assert!(h.starts_with("<!DOCTYPE html>"));
        assert!(h.contains("<title>Plasticity &lt;on&gt; digits</title>"));
        assert!(h.contains("<p class=\"question\">Does a spectral penalty keep the network trainable?</p>"));
        assert!(h.contains("Compare &quot;l2&quot; &amp; spectral."));
        assert!(h.contains("<th>final test accuracy</th>"));
        assert!(h.contains(">0.612 ± 0.021<") && h.contains(">12.35<") && h.contains(">0.8<") && h.contains(">—<"));
        assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!h.contains("<script"), "no script tag at all");
        assert!(h.contains("<img src=\"plots/test_accuracy.png\" alt=\"Test accuracy; band = ± 1 std\">"));
        assert!(h.contains("<img src=\"plots/weight norm.png\""));
        assert!(h.contains("<a href=\"plots/test_accuracy.svg\">SVG</a>"));
        assert!(h.contains("reg = &quot;&lt;b&gt;l2&lt;/b&gt;&quot;"));
        assert!(!h.contains("http://") && !h.contains("https://"), "no external resources");
        assert_eq!(h.matches("<img ").count(), 2);
    }

    /// The whole path: plots into `plots/`, the page beside them, as an experiment would.
    #[test]
    fn report_with_real_plots() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("plots")).unwrap();
        let mut figures = Vec::new();
        for (metric, label) in [("test_accuracy", "test accuracy"), ("weight_norm", "‖W‖_F")] {
            let png = dir.path().join(format!("plots/{metric}.png"));
            let svg = dir.path().join(format!("plots/{metric}.svg"));
            plot_metric(&rows(), &arms(), metric, metric, label, &png, &svg).unwrap();
            figures.push(Figure {
                png: format!("plots/{metric}.png"),
                svg: Some(format!("plots/{metric}.svg")),
                caption: format!("{label}: mean over seeds ± 1 std"),
            });
        }
        let input = ReportInput { figures, ..input() };
        write_report(&dir.path().join("report.html"), &input).unwrap();
        let h = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
        for f in &input.figures {
            assert!(h.contains(&format!("src=\"{}\"", f.png)));
            assert!(dir.path().join(&f.png).is_file());
        }
    }
}
