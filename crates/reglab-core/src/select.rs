//! Selection: which tensors a regularizer sees (the optax "masking as a wrapper" idea).
//!
//! By default, training regularizes the weights of linear and convolution layers and leaves
//! biases and normalisation parameters alone; a pattern overrides that. Patterns are globs over
//! PyTorch-style names (`layers.0.weight`), with `|` between alternatives:
//! `select=layers.0.*|layers.2.weight`.

/// What a parameter is, as far as selection is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The weight of a linear or convolution layer.
    LayerWeight,
    /// A bias.
    Bias,
    /// Anything else (norm scales, multipliers, embeddings...).
    Other,
}

/// A selection of tensors.
#[derive(Debug, Clone, Default)]
pub enum Selection {
    /// Layer weights only (the default in training).
    #[default]
    LayerWeights,
    /// Every tensor (the default of `reglab penalty`).
    All,
    /// Tensors whose name matches one of the glob patterns.
    Pattern(Vec<glob::Pattern>),
}

impl Selection {
    /// Parse `PATTERN[|PATTERN...]`.
    pub fn pattern(p: &str) -> Result<Self, String> {
        let pats = p
            .split('|')
            .map(|x| glob::Pattern::new(x.trim()).map_err(|e| format!("bad select pattern `{x}`: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Selection::Pattern(pats))
    }

    /// Whether the tensor `name` with `role` is selected.
    pub fn matches(&self, name: &str, role: Role) -> bool {
        match self {
            Selection::LayerWeights => role == Role::LayerWeight,
            Selection::All => true,
            Selection::Pattern(p) => p.iter().any(|p| p.matches(name)),
        }
    }
}

/// The role of a tensor judged from its PyTorch-style name and rank: `*.bias` is a bias,
/// `*.weight` of rank ≥ 2 is a layer weight, everything else is other.
pub fn role_from_name(name: &str, rank: usize) -> Role {
    if name.ends_with("bias") {
        Role::Bias
    } else if name.ends_with("weight") && rank >= 2 {
        Role::LayerWeight
    } else {
        Role::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_takes_layer_weights_only() {
        let s = Selection::default();
        assert!(s.matches("layers.0.weight", Role::LayerWeight));
        assert!(!s.matches("layers.0.bias", Role::Bias));
        assert!(!s.matches("norm.weight", Role::Other));
    }

    #[test]
    fn patterns_with_alternatives() {
        let s = Selection::pattern("layers.0.*|head.weight").unwrap();
        assert!(s.matches("layers.0.bias", Role::Bias));
        assert!(s.matches("head.weight", Role::LayerWeight));
        assert!(!s.matches("layers.1.weight", Role::LayerWeight));
        assert!(Selection::pattern("[").is_err());
    }

    #[test]
    fn roles_from_names() {
        assert_eq!(role_from_name("0.weight", 2), Role::LayerWeight);
        assert_eq!(role_from_name("conv.weight", 4), Role::LayerWeight);
        assert_eq!(role_from_name("bn.weight", 1), Role::Other);
        assert_eq!(role_from_name("0.bias", 1), Role::Bias);
    }
}
