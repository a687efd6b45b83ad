//! The HTML report of an experiment: one page, plain HTML with a little inline CSS, no
//! JavaScript and no external resources; the plots are PNG files beside it, referenced by
//! relative path. Every text given by the caller is escaped.

use std::fmt::Write as _;
use std::path::Path;

/// Everything the page shows, in this order: title, question, summary table, plots,
/// configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportInput {
    /// The experiment's name: the page's title and heading.
    pub title: String,
    /// The question the experiment asks. Plain text; a blank line starts a new paragraph.
    pub question: String,
    /// Names of the summary table's columns after the first ("arm").
    pub columns: Vec<String>,
    /// One row per arm, cells in the order of `columns` (missing trailing cells show as "—").
    pub rows: Vec<SummaryRow>,
    /// A note under the table, e.g. "mean ± std over 5 seeds at the last task". Plain text.
    pub table_note: String,
    /// The plots.
    pub figures: Vec<Figure>,
    /// The experiment's configuration as TOML text, shown verbatim.
    pub config_toml: String,
}

/// One row of the summary table.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// Arm name.
    pub arm: String,
    /// The cells, in the order of [`ReportInput::columns`].
    pub cells: Vec<Cell>,
}

/// One cell of the summary table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// A number, formatted by [`format_number`].
    Num(f64),
    /// A mean and its standard deviation, shown as `mean ± std`.
    MeanStd { mean: f64, std: f64 },
    /// Text, shown as given (escaped).
    Text(String),
    /// No value: "—".
    Missing,
}

/// One plot: the PNG, referenced from the page by `png` (a path relative to the page), with
/// its caption; `svg`, when given, is linked from the caption.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Relative path (URL) of the PNG, e.g. `plots/test_accuracy.png`.
    pub png: String,
    /// Relative path (URL) of the same plot as SVG, if any.
    pub svg: Option<String>,
    /// Caption, plain text; also the image's alt text.
    pub caption: String,
}

/// Escape text for HTML content and (double- or single-quoted) attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A number for people: integers as integers (up to 10¹⁵), 4 significant digits otherwise
/// (trailing zeros dropped), scientific notation below 10⁻³ or from 10⁶; "NaN", "∞", "−∞".
pub fn format_number(v: f64) -> String {
    format_sig(v, 4)
}

fn format_sig(v: f64, sig: usize) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "∞".into() } else { "−∞".into() };
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if v.fract() == 0.0 && a < 1e15 {
        return format!("{}", v as i64);
    }
    if !(1e-3..1e6).contains(&a) {
        let s = format!("{:.*e}", sig - 1, v);
        // 1.230e-5 → 1.23e-5
        return match s.split_once('e') {
            Some((m, e)) if m.contains('.') => format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.')),
            _ => s,
        };
    }
    let int_digits = a.log10().floor() as i32 + 1;
    let decimals = (sig as i32 - int_digits).max(0) as usize;
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    if s == "-0" { "0".into() } else { s }
}

/// `mean ± std`, the mean to as many decimals as the std's first two significant digits need.
fn format_mean_std(mean: f64, std: f64) -> String {
    if !mean.is_finite() || !std.is_finite() || std <= 0.0 || !(1e-3..1e6).contains(&mean.abs().max(std)) {
        return format!("{} ± {}", format_number(mean), format_sig(std, 2));
    }
    let decimals = ((1 - std.log10().floor() as i32).max(0) as usize).min(8);
    format!("{mean:.decimals$} ± {std:.decimals$}")
}

fn cell_html(c: &Cell) -> (String, bool) {
    match c {
        Cell::Num(v) => (escape(&format_number(*v)), true),
        Cell::MeanStd { mean, std } => (escape(&format_mean_std(*mean, *std)), true),
        Cell::Text(t) => (escape(t), false),
        Cell::Missing => ("—".into(), false),
    }
}

const STYLE: &str = "body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;max-width:1060px;\
margin:2em auto;padding:0 1em;color:#222;line-height:1.5}\
h1{font-size:1.7em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ddd}\
p.question{font-size:1.08em}\
table{border-collapse:collapse;margin:.6em 0}th,td{padding:.3em .8em;border-bottom:1px solid #e3e3e3;text-align:left}\
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
p.note{color:#666;font-size:.9em}\
figure{margin:1.2em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}\
figcaption{color:#444;font-size:.95em}\
pre{background:#f7f7f7;border:1px solid #e3e3e3;padding:.8em;overflow-x:auto;font-size:.9em}";

/// The page's HTML text.
pub fn render_html(input: &ReportInput) -> String {
    let mut h = String::new();
    let title = escape(&input.title);
    // `write!` into a String cannot fail.
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
    );

    if !input.question.trim().is_empty() {
        h.push_str("<h2>Question</h2>\n");
        for para in input.question.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
            let _ = writeln!(h, "<p class=\"question\">{}</p>", escape(para));
        }
    }

    if !input.rows.is_empty() {
        h.push_str("<h2>Summary</h2>\n<table>\n<thead><tr><th>arm</th>");
        for c in &input.columns {
            let _ = write!(h, "<th>{}</th>", escape(c));
        }
        h.push_str("</tr></thead>\n<tbody>\n");
        let width = input.columns.len().max(input.rows.iter().map(|r| r.cells.len()).max().unwrap_or(0));
        for r in &input.rows {
            let _ = write!(h, "<tr><td>{}</td>", escape(&r.arm));
            for i in 0..width {
                let (text, num) = cell_html(r.cells.get(i).unwrap_or(&Cell::Missing));
                let _ = write!(h, "<td{}>{text}</td>", if num { " class=\"num\"" } else { "" });
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</tbody>\n</table>\n");
        if !input.table_note.trim().is_empty() {
            let _ = writeln!(h, "<p class=\"note\">{}</p>", escape(input.table_note.trim()));
        }
    }

    if !input.figures.is_empty() {
        h.push_str("<h2>Plots</h2>\n");
        for (i, f) in input.figures.iter().enumerate() {
            let _ = write!(
                h,
                "<figure id=\"fig{n}\">\n<img src=\"{src}\" alt=\"{alt}\">\n<figcaption>Figure {n}. {cap}",
                n = i + 1,
                src = escape(&f.png),
                alt = escape(&f.caption),
                cap = escape(&f.caption),
            );
            if let Some(svg) = &f.svg {
                let _ = write!(h, " (<a href=\"{}\">SVG</a>)", escape(svg));
            }
            h.push_str("</figcaption>\n</figure>\n");
        }
    }

    if !input.config_toml.trim().is_empty() {
        let _ = writeln!(h, "<h2>Configuration</h2>\n<pre><code>{}</code></pre>", escape(input.config_toml.trim_end()));
    }

    h.push_str("</body>\n</html>\n");
    h
}

/// Write the page to `path` (a temporary file in its directory, then renamed).
pub fn write_report(path: &Path, input: &ReportInput) -> std::io::Result<()> {
    reglab_train::tensorfile::write_atomic(path, render_html(input).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people() {
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(0.97531), "0.9753");
        assert_eq!(format_number(0.5), "0.5");
        assert_eq!(format_number(123.456), "123.5");
        assert_eq!(format_number(-2.25), "-2.25");
        assert_eq!(format_number(1.5e-5), "1.5e-5");
        assert_eq!(format_number(2.5e7), "25000000");
        assert_eq!(format_number(2.55e7 + 0.5), "2.55e7");
        assert_eq!(format_number(f64::NAN), "NaN");
        assert_eq!(format_number(f64::NEG_INFINITY), "−∞");
        assert_eq!(format_mean_std(0.91234, 0.0123), "0.912 ± 0.012");
        assert_eq!(format_mean_std(0.9, 0.0), "0.9 ± 0");
        assert_eq!(format_mean_std(12.345, 1.5), "12.3 ± 1.5");
    }

    #[test]
    fn escapes_everything() {
        assert_eq!(escape("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
    }
}
