//! The catalog: every technique reglab has, one entry each, with what it acts on, its family,
//! formula, options and paper. `reglab list` prints it (`--json`: as JSON); the tables of the
//! README and of `reglab-regularizers`' crate documentation are checked against it by tests,
//! so they cannot drift.
//!
//! The entries live beside their code — [`reglab_regularizers::registry`] (penalties on the
//! weights, output terms, data perturbations), [`crate::hook::registry::HOOK_ENTRIES`] (the stochastic
//! perturbations of the step), [`crate::reparam::CATALOG`] and
//! [`crate::prune::CATALOG`] — and this module only joins them: adding a technique is one line
//! in its own list.

use crate::{prune, reparam};
use reglab_regularizers::registry::CatalogEntry;
use serde::Serialize;

/// What a technique acts on, and so how it is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A penalty (value, gradient, proximal step) or post-step transform on the weights:
    /// `--reg NAME=λ`.
    Penalty,
    /// A term on the logits of each batch, through the loss: `--reg NAME=λ`.
    Output,
    /// A transform of each training batch: `--reg NAME=VALUE`.
    Data,
    /// A perturbation of the forward pass or of how the step's gradient is taken:
    /// `--reg NAME=VALUE`.
    Stochastic,
    /// Adversarial training (the step trains on attacked inputs) and the terms that go with it:
    /// `--reg NAME=ε` / `--reg NAME=λ:…`.
    Adversarial,
    /// An effective weight `W = f(P, e)`: `--reparam SPEC`.
    Reparam,
    /// A mask on the weights: `--prune SPEC`.
    Prune,
    /// The hidden activation of an MLP: `--model mlp:H,act=NAME`.
    Activation,
}

impl Kind {
    /// What it acts on, in words.
    pub fn acts_on(self) -> &'static str {
        match self {
            Kind::Penalty => "weights",
            Kind::Output => "logits",
            Kind::Data => "inputs",
            Kind::Stochastic => "forward pass",
            Kind::Adversarial => "inputs (adversarial)",
            Kind::Reparam => "weights (reparameterized)",
            Kind::Prune => "weights (masked)",
            Kind::Activation => "hidden activations",
        }
    }

    /// The command-line flag that takes it.
    pub fn flag(self) -> &'static str {
        match self {
            Kind::Penalty | Kind::Output | Kind::Data | Kind::Stochastic | Kind::Adversarial => "--reg",
            Kind::Reparam => "--reparam",
            Kind::Prune => "--prune",
            Kind::Activation => "--model",
        }
    }
}

/// One technique.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Technique {
    /// Its name (`reglab list`, `--reg NAME=…`, `--reparam NAME`, `--prune NAME:…`).
    pub name: &'static str,
    /// What it acts on, and so which flag takes it.
    pub kind: Kind,
    /// Family (as in the catalog of papers).
    pub family: &'static str,
    /// What it acts on, in words.
    pub acts_on: &'static str,
    /// The flag that takes it.
    pub flag: &'static str,
    /// Formula, or what it does, in one line.
    pub formula: &'static str,
    /// Options, `key=default`.
    pub options: &'static str,
    /// The paper (authors, title, venue, year).
    pub paper: &'static str,
}

fn from<B>(kind: Kind, entries: &'static [CatalogEntry<B>]) -> impl Iterator<Item = Technique> {
    entries.iter().map(move |e| Technique {
        name: e.name,
        kind,
        family: e.family,
        acts_on: kind.acts_on(),
        flag: kind.flag(),
        formula: e.formula,
        options: e.options,
        paper: e.paper,
    })
}

/// Every technique, in the order `reglab list` prints them: penalties, output terms, data and
/// stochastic perturbations, adversarial training, reparameterizations, pruning methods,
/// activations.
pub fn all() -> Vec<Technique> {
    from(Kind::Penalty, reglab_regularizers::ENTRIES)
        .chain(from(Kind::Output, reglab_regularizers::OUTPUT_ENTRIES))
        .chain(from(Kind::Data, reglab_regularizers::BATCH_ENTRIES))
        .chain(from(Kind::Stochastic, crate::hook::registry::HOOK_ENTRIES).filter(|t| t.family != "adversarial"))
        .chain(from(Kind::Adversarial, crate::hook::registry::HOOK_ENTRIES).filter(|t| t.family == "adversarial"))
        .chain(from(Kind::Reparam, reparam::CATALOG))
        .chain(from(Kind::Prune, prune::CATALOG))
        .chain(from(Kind::Activation, reglab_regularizers::activation::CATALOG))
        .collect()
}

/// The technique named `name`.
pub fn find(name: &str) -> Option<Technique> {
    all().into_iter().find(|t| t.name == name)
}

/// The names in the first column of the Markdown table rows (`` | `name` | … ``) of `text`.
pub fn table_names(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim_start_matches("//!").trim().strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`').map(|(name, _)| name.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn names_are_unique_and_every_entry_is_filled_in() {
        let all = all();
        let names: BTreeSet<&str> = all.iter().map(|t| t.name).collect();
        assert_eq!(names.len(), all.len(), "a name is used twice");
        for t in &all {
            assert!(!t.family.is_empty() && !t.formula.is_empty() && !t.paper.is_empty(), "{t:?}");
        }
        for name in ["magnitude", "random", "er", "erk", "fish", "weight-norm", "spectral-norm", "multipliers", "lawn", "mixout", "sam", "l1"] {
            assert!(find(name).is_some(), "{name} missing");
        }
        assert_eq!(find("fish").unwrap().flag, "--prune");
        assert_eq!(find("lawn").unwrap().kind, Kind::Reparam);
        assert_eq!(find("elr").unwrap().acts_on, "logits");
        assert_eq!(find("elle").unwrap().kind, Kind::Adversarial);
        assert_eq!(find("pgd-at").unwrap().flag, "--reg");
        assert_eq!(find("hard-ash").unwrap().flag, "--model");
        // every activation entry names an activation that parses
        for t in from(Kind::Activation, reglab_regularizers::activation::CATALOG) {
            assert!(t.name.parse::<crate::model::activation::Act>().is_ok(), "{}", t.name);
        }
    }

    #[test]
    fn every_reparam_and_pruning_entry_names_a_spec_that_parses() {
        for t in from(Kind::Reparam, reparam::CATALOG) {
            let spec: Result<reparam::ReparamSpec, _> = t.name.parse();
            assert!(spec.is_ok(), "{}: {spec:?}", t.name);
        }
        for (name, spec) in [
            ("magnitude", "magnitude:sparsity=0.5:at=1"),
            ("random", "random:sparsity=0.5"),
            ("er", "random:sparsity=0.5:density=er"),
            ("erk", "random:sparsity=0.5:density=erk"),
            ("fish", "fish:keep=0.5"),
        ] {
            assert!(find(name).is_some_and(|t| t.kind == Kind::Prune), "{name}");
            let p: Result<prune::PruneSpec, _> = spec.parse();
            assert!(p.is_ok(), "{spec}: {p:?}");
        }
        assert_eq!(from(Kind::Prune, prune::CATALOG).count(), 5);
    }

    /// The README's technique tables name every technique of the catalog and nothing else.
    #[test]
    fn the_readme_tables_match_the_catalog() {
        let readme = include_str!("../../../README.md");
        let start = readme.find("## The regularizers").expect("README section");
        let end = start + readme[start..].find("\n## Reparameterizations").expect("README section after the tables");
        let listed: BTreeSet<String> = table_names(&readme[start..end]).into_iter().collect();
        let catalog: BTreeSet<String> = all().iter().map(|t| t.name.to_string()).collect();
        let missing: Vec<_> = catalog.difference(&listed).collect();
        let extra: Vec<_> = listed.difference(&catalog).collect();
        assert!(missing.is_empty() && extra.is_empty(), "README tables: missing {missing:?}, not in the catalog {extra:?}");
    }

    /// reglab-regularizers' crate table names every entry of its registries and nothing else.
    #[test]
    fn the_regularizers_crate_table_matches_its_registries() {
        let lib = include_str!("../../reglab-regularizers/src/lib.rs");
        let listed: BTreeSet<String> = lib
            .lines()
            .filter(|l| l.starts_with("//! |") && !l.contains("---") && !l.contains("| family |"))
            .filter_map(|l| l.rsplit('|').nth(1).map(str::to_string))
            .flat_map(|names| names.split(',').map(|n| n.trim().trim_matches('`').to_string()).collect::<Vec<_>>())
            .filter(|n| !n.is_empty())
            .collect();
        let registry: BTreeSet<String> = all()
            .iter()
            .filter(|t| matches!(t.kind, Kind::Penalty | Kind::Output | Kind::Data | Kind::Stochastic | Kind::Adversarial | Kind::Activation))
            .map(|t| t.name.to_string())
            .collect();
        let missing: Vec<_> = registry.difference(&listed).collect();
        let extra: Vec<_> = listed.difference(&registry).collect();
        assert!(missing.is_empty() && extra.is_empty(), "lib.rs table: missing {missing:?}, not in the registry {extra:?}");
    }
}
