//! Names → regularizers. One line per regularizer in [`ENTRIES`]; `reglab list` prints it.

use reglab_core::{Error, RegSet, Regularizer, Result, Selection, Spec, Term};

/// A catalog entry.
pub struct Entry {
    /// Command-line name.
    pub name: &'static str,
    /// Family (as in the catalog).
    pub family: &'static str,
    /// The formula in one line, with the default options.
    pub formula: &'static str,
    /// The paper (authors, title, venue, year).
    pub paper: &'static str,
    /// Options, `key=default` (empty: none).
    pub options: &'static str,
    /// Builder.
    pub build: fn(&Spec) -> Result<Box<dyn Regularizer>>,
}

fn boxed<R: Regularizer + 'static>(r: Result<R>) -> Result<Box<dyn Regularizer>> {
    r.map(|r| Box::new(r) as Box<dyn Regularizer>)
}

/// Every regularizer reglab knows.
pub const ENTRIES: &[Entry] = &[
    Entry {
        name: "l2",
        family: "weight size",
        formula: "λ/2·‖W‖²_F  (gradient λW, = weight_decay=λ)",
        paper: "Krogh & Hertz, A Simple Weight Decay Can Improve Generalization, NIPS 1991",
        options: "",
        build: |s| boxed(crate::weight::l2::L2::from_spec(s)),
    },
    // -- sparsity and anchor entries (l1, l2-init, wasserstein-init) go here --
    // -- spectral and orthogonality entries (spectral, soft-orth) go here --
];

/// The entry for `name`.
pub fn entry(name: &str) -> Result<&'static Entry> {
    ENTRIES.iter().find(|e| e.name == name).ok_or_else(|| Error::Unknown {
        name: name.to_string(),
        known: ENTRIES.iter().map(|e| e.name).collect::<Vec<_>>().join(", "),
    })
}

/// Build one regularizer from a spec.
pub fn build(spec: &Spec) -> Result<Box<dyn Regularizer>> {
    (entry(&spec.name)?.build)(spec)
}

/// Parse and build a sum of regularizers from spec strings.
pub fn build_set(specs: &[String], default_selection: Selection) -> Result<RegSet> {
    let mut terms = Vec::new();
    for s in specs {
        let spec = Spec::parse(s)?;
        let reg = build(&spec)?;
        terms.push(Term::new(spec, reg)?);
    }
    Ok(RegSet::new(terms, default_selection))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_list_the_known_ones() {
        let e = build(&Spec::parse("l3=1").unwrap()).err().unwrap().to_string();
        assert!(e.contains("unknown regularizer `l3`") && e.contains("l2"), "{e}");
    }

    #[test]
    fn every_entry_builds_with_its_defaults_and_reports_its_name() {
        for e in ENTRIES {
            let spec = Spec::parse(&format!("{}=0.5", e.name)).unwrap();
            let r = (e.build)(&spec).unwrap_or_else(|err| panic!("{}: {err}", e.name));
            assert_eq!(r.name(), e.name);
        }
    }

    #[test]
    fn names_are_unique() {
        let mut n: Vec<_> = ENTRIES.iter().map(|e| e.name).collect();
        n.sort();
        n.dedup();
        assert_eq!(n.len(), ENTRIES.len());
    }
}
