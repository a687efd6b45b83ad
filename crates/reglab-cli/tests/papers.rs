//! Every paper reference `#N` in the repository resolves to an entry of `docs/papers.md`.
//!
//! Code comments, docs, experiment files and scripts cite the project catalog's papers by number.
//! `docs/papers.md` lists the catalog under the same numbers; an entry is a heading whose text
//! starts with the number (`### 97. GD doesn't make the cut …`) or a table row whose first cell is
//! the number (`| 97 | …`, `| #97 | …`).
//!
//! # What counts as a paper reference
//!
//! Grepping the repository for `#` followed by digits gives these forms (all counted):
//!
//! - `#97`, `(#97)`, `(#16, #90)`, `#103 and #28`, `` `#97` ``, `#8's claim`;
//! - `catalog #89`, `(catalog #1; …)`;
//! - `issue 19, #23` — issues are written without `#` in this repository ("issue 19"), so the `#23`
//!   there is the paper;
//! - a list that continues without `#`: `#5, 21, 31, 113 (20)` (the README's out-of-scope table)
//!   counts 5, 21, 31 and 113. A continuation number follows `, ` and must itself be followed by
//!   `,` `;` `)` `]` `|` `.`, ` (`, ` |` or the end of the line, so `#68, 1,000 MNIST images` and
//!   `#1, 10 inputs` add nothing.
//!
//! And these are not paper references:
//!
//! - colour codes: `fill="#1f77b4"` in SVG plots, `color:#222` in the HTML report's CSS, `'#d62728'`
//!   in Python — the `#` follows `=`, `:`, a quote or the digits run into letters; SVG files are not
//!   scanned at all;
//! - HTML entities `&#38;`, URL fragments `page#3`, `##1` (the `#` follows `&`, a word character or
//!   another `#`);
//! - `Friedman #1`, the Friedman benchmark regression function (the DE-ELBo data sets), and `issue
//!   #7` / `PR #7` should anyone write them: a `#N` right after one of those words is skipped;
//! - Rust attributes `#[…]`, `#![…]`, markdown headings `# Title`, shell and TOML comments `# text`:
//!   no digit follows the `#`.
//!
//! # Which files
//!
//! The tracked and untracked-but-not-ignored files (`git ls-files --cached --others
//! --exclude-standard`; without git, a walk of the top-level sources), minus binary files (a NUL
//! byte or invalid UTF-8), SVG plots, fuzz corpora and artifacts, `target*` directories,
//! `docs/papers.md` itself (the definitions) and this file (its examples).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A `#N` paper reference found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reference {
    number: u32,
    /// 1-based line number.
    line: usize,
    /// Which form it took: `catalog #N`, `#N` or `list` (a number continuing a `#N, M` list).
    form: &'static str,
}

/// Words after which `#N` is not a paper: the Friedman benchmark functions, issue and PR numbers.
const NOT_PAPERS: &[&str] = &["friedman", "issue", "issues", "pr", "pull"];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The word just before byte offset `at` (skipping spaces), lowercased.
fn previous_word(line: &str, at: usize) -> String {
    let before = line[..at].trim_end();
    let start = before.char_indices().rev().find(|&(_, c)| !is_word(c)).map_or(0, |(i, c)| i + c.len_utf8());
    before[start..].to_lowercase()
}

/// The digits at the start of `s` with their value, if the run ends at a non-word character.
fn leading_number(s: &str) -> Option<(u32, usize)> {
    let len = s.bytes().take_while(u8::is_ascii_digit).count();
    if len == 0 || s[len..].chars().next().is_some_and(is_word) {
        return None;
    }
    s[..len].parse().ok().map(|n| (n, len))
}

/// Whether the text after a list-continuation number ends that item.
fn ends_item(rest: &str) -> bool {
    match rest.chars().next() {
        None => true,
        Some(',') => !rest[1..].starts_with(|c: char| c.is_ascii_digit()),
        Some(';' | ')' | ']' | '|') => true,
        Some('.') => !rest[1..].starts_with(|c: char| c.is_ascii_digit()),
        Some(' ') => {
            let t = rest.trim_start();
            t.is_empty() || t.starts_with('(') || t.starts_with('|')
        }
        _ => false,
    }
}

/// The paper references in one line of text (`line_no` is 1-based).
fn references_in_line(line: &str, line_no: usize) -> Vec<Reference> {
    let mut out = Vec::new();
    for (at, _) in line.match_indices('#') {
        if let Some(prev) = line[..at].chars().next_back()
            && (is_word(prev) || matches!(prev, '&' | ':' | '=' | '"' | '\'' | '#' | '/'))
        {
            continue;
        }
        let Some((number, len)) = leading_number(&line[at + 1..]) else {
            continue;
        };
        let word = previous_word(line, at);
        if NOT_PAPERS.contains(&word.as_str()) {
            continue;
        }
        let form = if word == "catalog" { "catalog #N" } else { "#N" };
        out.push(Reference { number, line: line_no, form });
        // A list continuing without `#`: `#5, 21, 31 (3)`.
        let mut rest = &line[at + 1 + len..];
        while let Some(after) = rest.strip_prefix(", ") {
            match leading_number(after) {
                Some((n, l)) if ends_item(&after[l..]) => {
                    out.push(Reference { number: n, line: line_no, form: "list" });
                    rest = &after[l..];
                }
                _ => break,
            }
        }
    }
    out
}

/// The numbers that have an entry in `docs/papers.md`: headings `### 97. …` and table rows
/// `| 97 | …` or `| #97 | …`.
fn entries(papers_md: &str) -> BTreeSet<u32> {
    let mut set = BTreeSet::new();
    for line in papers_md.lines() {
        let heading = line.trim_start_matches('#');
        let number_text = if heading.len() < line.len() && heading.starts_with(' ') {
            heading.trim_start().split_once(". ").map(|(n, _)| n)
        } else if let Some(row) = line.strip_prefix('|') {
            row.split_once('|').map(|(cell, _)| cell.trim().trim_start_matches('#'))
        } else {
            None
        };
        if let Some(n) = number_text.and_then(|t| t.parse().ok()) {
            set.insert(n);
        }
    }
    set
}

fn skipped(path: &str) -> bool {
    path == "docs/papers.md"
        || path == "crates/reglab-cli/tests/papers.rs"
        || path.ends_with(".svg")
        || path.starts_with("fuzz/corpus/")
        || path.starts_with("fuzz/artifacts/")
        || path.split('/').any(|part| part.starts_with("target"))
}

/// The repository's files, relative to the root.
fn repo_files(root: &Path) -> Vec<String> {
    let git = Command::new("git").args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"]).current_dir(root).output();
    if let Ok(out) = git
        && out.status.success()
    {
        return String::from_utf8_lossy(&out.stdout).split('\0').filter(|p| !p.is_empty()).map(str::to_owned).collect();
    }
    // No git: walk the sources.
    let mut files = Vec::new();
    let mut stack: Vec<PathBuf> = ["crates", "docs", "experiments", "python", "bench", "examples"].iter().map(|d| root.join(d)).collect();
    stack.push(root.join("README.md"));
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            if let Ok(read) = std::fs::read_dir(&path) {
                stack.extend(read.flatten().map(|e| e.path()));
            }
        } else if let Ok(rel) = path.strip_prefix(root) {
            files.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    files
}

/// Every paper reference in the repository, by file.
fn scan(root: &Path) -> BTreeMap<String, Vec<Reference>> {
    let mut found = BTreeMap::new();
    for path in repo_files(root) {
        if skipped(&path) {
            continue;
        }
        let Ok(bytes) = std::fs::read(root.join(&path)) else {
            continue; // deleted in the work tree, or a directory (submodule)
        };
        if bytes.contains(&0) {
            continue;
        }
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        let refs: Vec<Reference> = text.lines().enumerate().flat_map(|(i, line)| references_in_line(line, i + 1)).collect();
        if !refs.is_empty() {
            found.insert(path, refs);
        }
    }
    found
}

#[test]
fn every_paper_reference_has_an_entry() {
    let root = repo_root();
    let papers_md = std::fs::read_to_string(root.join("docs/papers.md")).expect("docs/papers.md (the list of the catalog's papers) is readable");
    let known = entries(&papers_md);
    assert!(!known.is_empty(), "docs/papers.md has no entries (`### N. Title`)");

    let found = scan(&root);
    let mut forms: BTreeMap<&str, usize> = BTreeMap::new();
    let mut numbers = BTreeSet::new();
    let mut dangling = Vec::new();
    for (path, refs) in &found {
        for r in refs {
            *forms.entry(r.form).or_default() += 1;
            numbers.insert(r.number);
            if !known.contains(&r.number) {
                dangling.push(format!("{path}:{}: #{} ({}) has no entry in docs/papers.md", r.line, r.number, r.form));
            }
        }
    }
    let total: usize = forms.values().sum();
    println!("{total} paper references to {} papers in {} files; by form: {forms:?}; {} entries", numbers.len(), found.len(), known.len());
    // The scanner must see the references, or this test would pass vacuously.
    assert!(total >= 100, "only {total} paper references found: is the scan broken?");
    assert!(dangling.is_empty(), "{} paper reference(s) do not resolve:\n{}", dangling.len(), dangling.join("\n"));
}

#[test]
fn the_reference_forms() {
    let numbers = |line: &str| -> Vec<u32> { references_in_line(line, 1).iter().map(|r| r.number).collect() };
    // Paper references.
    assert_eq!(numbers("as in #16 and #90, the weight"), [16, 90]);
    assert_eq!(numbers("(catalog #89): the cost"), [89]);
    assert_eq!(numbers("(the direction of #8's claim)"), [8]);
    assert_eq!(numbers("ablations (issue 19, #23): the"), [23]);
    assert_eq!(numbers("| `#97` |"), [97]);
    assert_eq!(numbers("| #5, 21, 31, 113 (20) | need"), [5, 21, 31, 113]);
    assert_eq!(numbers("#22, 32, 39, 116"), [22, 32, 39, 116]);
    assert_eq!(numbers("(#18, E4)"), [18]);
    assert_eq!(references_in_line("catalog #3", 7)[0].form, "catalog #N");
    // Not paper references.
    assert_eq!(numbers("#68, 1,000 MNIST images"), [68]);
    assert!(numbers("/// Friedman #1, 10 inputs.").is_empty());
    assert!(numbers("see issue #7 and PR #12").is_empty());
    assert!(numbers(r##"<rect fill="#1f77b4" stroke="#222"/>"##).is_empty());
    assert!(numbers("p.note{color:#666;font-size:.9em}").is_empty());
    assert!(numbers("colors = ['#1f77b4', '#d62728']").is_empty());
    assert!(numbers("&#38; page.html#3 ##1").is_empty());
    assert!(numbers("#[derive(Debug)] #![deny(warnings)] # Heading").is_empty());

    let md = "### 1. A\n\n| 26 | B |\n| #7 | C |\n## 3 heading without a dot\n| # | paper |\n";
    assert_eq!(entries(md), BTreeSet::from([1, 26, 7]));
}
