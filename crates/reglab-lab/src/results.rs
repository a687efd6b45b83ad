//! Results of an experiment: one row per (arm, seed, task) with named metrics, written as
//! `results.json` and `results.csv`. No timings here: the same seeds give the same files.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One row: the state of one arm and seed at the end of one task (or epoch, for single-task
/// experiments).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Arm name.
    pub arm: String,
    /// Seed.
    pub seed: u64,
    /// Task index, 1-based (epoch index in single-task experiments).
    pub task: usize,
    /// Metric name → value, e.g. `train_accuracy`, `test_accuracy`, `train_loss`,
    /// `feature_effective_rank`, `dead_fraction`, `weight_norm`, `distance_to_init`,
    /// `sigma_max/layers.0.weight`, `reg/spectral`.
    pub metrics: BTreeMap<String, f64>,
}

/// Sort rows by arm order (as given), seed, task.
pub fn sort_rows(rows: &mut [Row], arm_order: &[String]) {
    let pos = |a: &str| arm_order.iter().position(|x| x == a).unwrap_or(usize::MAX);
    rows.sort_by_key(|r| (pos(&r.arm), r.seed, r.task));
}

/// The CSV text: columns `arm,seed,task` and then every metric name (sorted) present in any row;
/// a missing value is an empty field. Numbers use Rust's shortest round-trip form.
pub fn to_csv(rows: &[Row]) -> String {
    let mut keys: Vec<&String> = rows.iter().flat_map(|r| r.metrics.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = String::from("arm,seed,task");
    for k in &keys {
        out.push(',');
        out.push_str(&csv_field(k));
    }
    out.push('\n');
    for r in rows {
        out.push_str(&format!("{},{},{}", csv_field(&r.arm), r.seed, r.task));
        for k in &keys {
            out.push(',');
            if let Some(v) = r.metrics.get(*k) {
                out.push_str(&v.to_string());
            }
        }
        out.push('\n');
    }
    out
}

/// A CSV field: quoted (quotes doubled) when it holds a comma, a quote or a newline.
pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// Split one CSV line written by [`to_csv`] into its fields (quotes as [`csv_field`] writes them).
fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    let (mut fields, mut cur, mut quoted, mut chars) = (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', false) if cur.is_empty() => quoted = true,
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            ('"', true) => quoted = false,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    if quoted {
        return Err("an unterminated quoted field".into());
    }
    fields.push(cur);
    Ok(fields)
}

/// Read back the rows of a `results.csv` written by [`to_csv`] (values are Rust's shortest
/// round-trip decimals, so they come back bit for bit; an empty cell is a metric the row
/// lacks). Errors name the line and column at fault.
pub fn from_csv(text: &str) -> Result<Vec<Row>, String> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or("empty: no header line")?;
    let header = split_csv_line(header).map_err(|e| format!("line 1: {e}"))?;
    if header.len() < 3 || header[..3] != ["arm", "seed", "task"] {
        return Err(format!("line 1: the header must start with arm,seed,task, found `{}`", header[..header.len().min(3)].join(",")));
    }
    let mut rows = Vec::new();
    for (i, line) in lines {
        let n = i + 1;
        let f = split_csv_line(line).map_err(|e| format!("line {n}: {e}"))?;
        if f.len() != header.len() {
            return Err(format!("line {n}: {} fields, the header has {}", f.len(), header.len()));
        }
        let seed = f[1].parse().map_err(|_| format!("line {n}: seed `{}` is not an integer", f[1]))?;
        let task = f[2].parse().map_err(|_| format!("line {n}: task `{}` is not an integer", f[2]))?;
        let mut metrics = BTreeMap::new();
        for (k, v) in header[3..].iter().zip(&f[3..]) {
            if v.is_empty() {
                continue;
            }
            let x: f64 = v.parse().map_err(|_| format!("line {n}: `{k}` = `{v}` is not a number"))?;
            metrics.insert(k.clone(), x);
        }
        rows.push(Row { arm: f[0].clone(), seed, task, metrics });
    }
    Ok(rows)
}

/// Mean and (population) standard deviation over seeds of `metric` for `arm` at each task,
/// in task order: `(task, mean, std, n)`.
pub fn summarize(rows: &[Row], arm: &str, metric: &str) -> Vec<(usize, f64, f64, usize)> {
    let mut by_task: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.arm == arm) {
        if let Some(v) = r.metrics.get(metric) {
            by_task.entry(r.task).or_default().push(*v);
        }
    }
    by_task
        .into_iter()
        .map(|(t, v)| {
            let n = v.len() as f64;
            let m = v.iter().sum::<f64>() / n;
            let s = (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n).sqrt();
            (t, m, s, v.len())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(arm: &str, seed: u64, task: usize, acc: f64) -> Row {
        Row { arm: arm.into(), seed, task, metrics: BTreeMap::from([("train_accuracy".to_string(), acc)]) }
    }

    #[test]
    fn csv_has_a_column_per_metric_and_a_line_per_row() {
        let mut rows = vec![row("b", 0, 1, 0.5), row("a", 1, 2, 0.25), row("a", 0, 1, 1.0)];
        rows[0].metrics.insert("reg/l2".into(), 3.0);
        sort_rows(&mut rows, &["a".into(), "b".into()]);
        let csv = to_csv(&rows);
        assert_eq!(csv, "arm,seed,task,reg/l2,train_accuracy\na,0,1,,1\na,1,2,,0.25\nb,0,1,3,0.5\n");
    }

    #[test]
    fn csv_reads_back_bit_for_bit() {
        let mut rows = vec![row("b,\"x\"", 0, 1, 0.1 + 0.2), row("a", 1, 2, 1.0 / 3.0), row("a", 0, 1, -1e-300)];
        rows[0].metrics.insert("reg/l2".into(), f64::MAX);
        rows[2].metrics.insert("sigma_max/layers.0.weight".into(), 9.164864633560926);
        sort_rows(&mut rows, &["a".into(), "b,\"x\"".into()]);
        let back = from_csv(&to_csv(&rows)).unwrap();
        assert_eq!(back, rows);
        for (a, b) in back.iter().zip(&rows) {
            for (k, v) in &a.metrics {
                assert_eq!(v.to_bits(), b.metrics[k].to_bits(), "{k}");
            }
        }
    }

    #[test]
    fn bad_csv_names_the_line() {
        assert!(from_csv("").unwrap_err().contains("empty"));
        assert!(from_csv("name,seed\n").unwrap_err().contains("arm,seed,task"));
        assert!(from_csv("arm,seed,task,acc\na,0,1\n").unwrap_err().contains("line 2: 3 fields"));
        assert!(from_csv("arm,seed,task,acc\na,0,1,0.5\na,x,1,0.5\n").unwrap_err().contains("line 3: seed `x`"));
        assert!(from_csv("arm,seed,task,acc\na,0,1,high\n").unwrap_err().contains("`acc` = `high`"));
        assert!(from_csv("arm,seed,task,acc\n\"a,0,1,1\n").unwrap_err().contains("unterminated"));
    }

    #[test]
    fn summary_over_seeds() {
        let rows = vec![row("a", 0, 1, 1.0), row("a", 1, 1, 0.5), row("a", 0, 2, 0.0), row("b", 0, 1, 9.0)];
        let s = summarize(&rows, "a", "train_accuracy");
        assert_eq!(s, vec![(1, 0.75, 0.25, 2), (2, 0.0, 0.0, 1)]);
    }
}
