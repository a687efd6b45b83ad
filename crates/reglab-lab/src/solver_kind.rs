//! What the solver experiment kinds ([`crate::recovery`], `kind = "cs-recovery"`, and
//! [`crate::lasso_path`], `kind = "lasso-path"`) share: reading the experiment file (TOML,
//! `--set` overrides, errors of one line that name the key), the checks of its `kind`, `name`
//! and `[[method]]` tables, and writing the run directory.

use crate::RunError;
use crate::experiment::config::{apply_override, one_line_parse_error};
use crate::train_run::write_json;
use reglab_train::tensorfile::write_atomic;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;
use std::time::Instant;

/// The experiment file as a TOML document with the `key=value` overrides applied (as
/// `reglab run --set`). Errors are one line.
pub(crate) fn toml_with_overrides(text: &str, overrides: &[String]) -> Result<toml::Value, String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| one_line_parse_error(text, &e))?;
    let mut doc = toml::Value::Table(table);
    for o in overrides {
        apply_override(&mut doc, o)?;
    }
    Ok(doc)
}

/// [`toml_with_overrides`], deserialized (unknown keys are errors where `T` denies them). Errors
/// are one line and name the key.
pub(crate) fn deserialize<T: DeserializeOwned>(text: &str, overrides: &[String]) -> Result<T, String> {
    T::deserialize(toml_with_overrides(text, overrides)?).map_err(|e| e.to_string().trim_end().replace('\n', " "))
}

/// `kind` must be `want`, and `name` not blank.
pub(crate) fn check_kind_and_name(kind: &str, name: &str, want: &str) -> Result<(), String> {
    if kind != want {
        return Err(format!("`kind` = \"{kind}\": expected \"{want}\" here"));
    }
    if name.trim().is_empty() {
        return Err("`name` is empty".into());
    }
    Ok(())
}

/// A list key of an experiment file: not empty (else `` `key` is empty: {empty_hint}``), every
/// value `valid` (else `` `key[i]` {rule}, got v``) and strictly increasing.
pub(crate) fn check_increasing_list<T: PartialOrd + std::fmt::Display + Copy>(
    key: &str,
    values: &[T],
    empty_hint: &str,
    rule: &str,
    valid: impl Fn(T) -> bool,
) -> Result<(), String> {
    if values.is_empty() {
        return Err(format!("`{key}` is empty: {empty_hint}"));
    }
    for (i, &v) in values.iter().enumerate() {
        if !valid(v) {
            return Err(format!("`{key}[{i}]` {rule}, got {v}"));
        }
        if i > 0 && v <= values[i - 1] {
            return Err(format!("`{key}` must be increasing: [{i}] = {v} after {}", values[i - 1]));
        }
    }
    Ok(())
}

/// The error for `[[method]]` number `i` with a `name` not among `names`.
pub(crate) fn unknown_method(i: usize, name: &str, names: &[&str]) -> String {
    let names: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    format!("`method[{i}].name` = \"{name}\": expected one of {}", names.join(", "))
}

/// Each key of `given` (`(key, present)`) that is present in `[[method]]` number `i`, named
/// `name`, must be in `allowed`.
pub(crate) fn check_method_keys(i: usize, name: &str, allowed: &[&str], given: &[(&str, bool)]) -> Result<(), String> {
    for &(k, present) in given {
        if present && !allowed.contains(&k) {
            return Err(format!("`method[{i}].{k}` is not a key of method `{name}`"));
        }
    }
    Ok(())
}

/// The `label` of `[[method]]` number `i` must not be blank nor one of `earlier` (the labels of
/// the methods before it).
pub(crate) fn check_method_label<S: AsRef<str>>(i: usize, label: &str, earlier: impl IntoIterator<Item = S>) -> Result<(), String> {
    if label.trim().is_empty() {
        return Err(format!("`method[{i}].label` is empty"));
    }
    if earlier.into_iter().any(|l| l.as_ref() == label) {
        return Err(format!("`method[{i}].label`: two methods are labelled `{label}` (give each a unique `label`)"));
    }
    Ok(())
}

/// Write a run directory `out`: `config.toml` (the resolved file) first, then the `sweep` on
/// `threads` threads, `results.json`, `results.csv` (by `to_csv`), the plots and the report (by
/// `plots_and_report`, into `out/plots` and `out`) and `timing.json`, every file atomically.
/// Errors before the sweep (`threads` = 0, `out` not creatable) are [`RunError::Input`].
pub(crate) fn write_run<R: Serialize>(
    out: &Path,
    threads: usize,
    resolved_toml: &str,
    sweep: impl FnOnce() -> Result<R, String>,
    to_csv: impl FnOnce(&R) -> String,
    plots_and_report: impl FnOnce(&R) -> Result<(), String>,
) -> Result<R, RunError> {
    let t0 = Instant::now();
    if threads == 0 {
        return Err(RunError::Input("threads must be ≥ 1".into()));
    }
    std::fs::create_dir_all(out.join("plots")).map_err(|e| RunError::Input(format!("{}: {e}", out.display())))?;
    write_atomic(&out.join("config.toml"), resolved_toml.as_bytes()).map_err(|e| RunError::Failed(e.to_string()))?;
    let res = sweep().map_err(RunError::Failed)?;
    write_json(&out.join("results.json"), &res)?;
    write_atomic(&out.join("results.csv"), to_csv(&res).as_bytes()).map_err(|e| RunError::Failed(e.to_string()))?;
    plots_and_report(&res).map_err(RunError::Failed)?;
    let timing = serde_json::json!({ "total_seconds": t0.elapsed().as_secs_f64(), "threads": threads });
    write_json(&out.join("timing.json"), &timing)?;
    Ok(res)
}

#[cfg(test)]
pub(crate) mod testing {
    //! For the tests of the experiment files.

    /// `base` with the first `from` replaced by `to` (which must be there).
    pub fn edited(base: &str, from: &str, to: &str) -> String {
        assert!(base.contains(from), "`{from}` not in the base file");
        base.replacen(from, to, 1)
    }

    /// `parse(text, overrides)` fails with an error of one line that contains each of `want`.
    pub fn assert_parse_error<T: std::fmt::Debug>(
        parse: impl Fn(&str, &[String]) -> Result<T, String>,
        text: &str,
        overrides: &[&str],
        want: &[&str],
    ) {
        let sets: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        let e = parse(text, &sets).expect_err("should fail");
        for w in want {
            assert!(e.contains(w), "expected `{w}` in: {e}");
        }
        assert!(!e.contains('\n'), "one line: {e}");
    }
}
