//! Reading an experiment file, for every experiment kind: the TOML text with the `--set`
//! overrides applied, deserialized into the kind's typed config (errors of one line that name
//! the key), the file's `kind`, and the checks that several kinds share (`kind` and `name`,
//! increasing lists, `[[method]]` names, keys and labels).

use serde::de::DeserializeOwned;

/// The experiment file as a TOML document with the `key=value` overrides applied (as
/// `reglab run --set`). Errors are one line.
pub fn toml_with_overrides(text: &str, overrides: &[String]) -> Result<toml::Value, String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| one_line_parse_error(text, &e))?;
    let mut doc = toml::Value::Table(table);
    for o in overrides {
        apply_override(&mut doc, o)?;
    }
    Ok(doc)
}

/// [`toml_with_overrides`], deserialized (unknown keys are errors where `T` denies them). Errors
/// are one line and name the key.
pub fn deserialize<T: DeserializeOwned>(text: &str, overrides: &[String]) -> Result<T, String> {
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

/// The most points a generated λ grid may have (`path.points`, `grid.points`,
/// `best_grid.points`): the grid is built when the file is checked, so a larger count is
/// refused there instead of asking for an allocation the machine cannot make.
pub const MAX_GRID_POINTS: usize = 10_000;

/// `key` = `points`: at most [`MAX_GRID_POINTS`].
pub(crate) fn check_grid_points(key: &str, points: usize) -> Result<(), String> {
    if points > MAX_GRID_POINTS {
        return Err(format!("`{key}` must be ≤ {MAX_GRID_POINTS}, got {points}"));
    }
    Ok(())
}

/// `seeds`: not empty, no seed twice.
pub(crate) fn check_seeds(seeds: &[u64]) -> Result<(), String> {
    if seeds.is_empty() {
        return Err("`seeds` is empty: give at least one seed".into());
    }
    for (i, s) in seeds.iter().enumerate() {
        if seeds[..i].contains(s) {
            return Err(format!("`seeds[{i}]` = {s} repeats an earlier seed"));
        }
    }
    Ok(())
}

/// The `name`s of a list of tables (`arm`, `method`): each non-empty and used once.
pub(crate) fn check_names<'a>(key: &str, names: impl IntoIterator<Item = &'a str>) -> Result<(), String> {
    let names: Vec<&str> = names.into_iter().collect();
    for (i, n) in names.iter().enumerate() {
        if n.trim().is_empty() {
            return Err(format!("`{key}[{i}].name` is empty"));
        }
        if names[..i].contains(n) {
            return Err(format!("`{key}[{i}].name` = \"{n}\" is used twice"));
        }
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

/// The `kind` of an experiment file (after the overrides), `None` when absent (a training
/// experiment) or when the file does not parse (the kind's own parser then names the error).
pub fn file_kind(text: &str, overrides: &[String]) -> Option<String> {
    let doc = toml_with_overrides(text, overrides).ok()?;
    doc.get("kind")?.as_str().map(str::to_string)
}

/// A TOML syntax error as one line: `TOML parse error at line L, column C: message`.
pub fn one_line_parse_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim_end().replace('\n', "; ");
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
            format!("TOML parse error at line {line}, column {column}: {msg}")
        }
        None => format!("TOML parse error: {msg}"),
    }
}

/// Set `a.b.c = value` in a TOML table. The value is read as TOML (`3`, `1e-3`, `[1, 2]`,
/// `"x"`, `true`), or taken as a string when it does not parse. Array-of-table entries are
/// addressed by index: `arm.1.reg=["l2=1e-4"]`.
pub fn apply_override(doc: &mut toml::Value, o: &str) -> Result<(), String> {
    let (key, raw) = o.split_once('=').ok_or_else(|| format!("--set `{o}`: expected KEY=VALUE"))?;
    let value: toml::Value =
        format!("v = {raw}").parse::<toml::Table>().ok().and_then(|mut t| t.remove("v")).unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let parts: Vec<&str> = key.trim().split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("--set `{o}`: bad key `{key}`"));
    }
    let mut cur: &mut toml::Value = doc;
    for (i, p) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        cur = match cur {
            toml::Value::Table(t) => {
                if last {
                    t.insert(p.to_string(), value);
                    return Ok(());
                }
                t.entry(p.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()))
            }
            toml::Value::Array(a) => {
                let idx: usize = p.parse().map_err(|_| format!("--set `{o}`: `{p}` must be an index into the array"))?;
                let len = a.len();
                let slot = a.get_mut(idx).ok_or_else(|| format!("--set `{o}`: index {idx} out of range (length {len})"))?;
                if last {
                    *slot = value;
                    return Ok(());
                }
                slot
            }
            _ => return Err(format!("--set `{o}`: `{}` is not a table", parts[..i].join("."))),
        };
    }
    Ok(())
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
