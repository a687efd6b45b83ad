//! Marginals: the histograms `a ∈ ℝ^n_+` and `b ∈ ℝ^m_+` a transport plan must match.
//!
//! A plan `T ∈ ℝ^{n×m}_+` is admissible when `T 1_m = a` (row sums) and `Tᵀ 1_n = b`
//! (column sums). This needs `a` and `b` to be non-negative, finite, and to carry the same total
//! mass `Σ_i a_i = Σ_j b_j > 0`, which is checked up to a relative tolerance
//! [`MASS_RTOL`]. Zero weights are allowed (the corresponding rows or columns of the plan are
//! zero).

use crate::error::{Error, Result};
use crate::matrix::Matrix;

/// Relative tolerance on `|Σ a − Σ b| / max(Σ a, Σ b)` for two histograms to count as having
/// the same mass.
pub const MASS_RTOL: f64 = 1e-9;

/// The uniform histogram `(1/n, …, 1/n)` of length `n` (empty for `n = 0`).
pub fn uniform(n: usize) -> Vec<f64> {
    vec![1.0 / n as f64; n]
}

/// Checks one histogram and returns its total mass.
///
/// Errors, naming the histogram by `what`: [`Error::Empty`] for no weights,
/// [`Error::NonFinite`] at a NaN or infinite weight, [`Error::NegativeWeight`] at a negative
/// one, [`Error::ZeroMass`] when all weights are zero.
pub fn check_histogram(w: &[f64], what: &'static str) -> Result<f64> {
    if w.is_empty() {
        return Err(Error::Empty { what });
    }
    for (index, &value) in w.iter().enumerate() {
        if !value.is_finite() {
            return Err(Error::NonFinite { what, at: format!("index {index}"), value });
        }
        if value < 0.0 {
            return Err(Error::NegativeWeight { what, index, value });
        }
    }
    let total: f64 = w.iter().sum();
    if total <= 0.0 {
        return Err(Error::ZeroMass { what });
    }
    Ok(total)
}

/// Checks the pair `(a, b)` (each with [`check_histogram`]) and that they carry the same mass
/// up to [`MASS_RTOL`]; returns the mass of `a`.
pub fn check_marginals(a: &[f64], b: &[f64]) -> Result<f64> {
    let sa = check_histogram(a, "a")?;
    let sb = check_histogram(b, "b")?;
    if (sa - sb).abs() > MASS_RTOL * sa.max(sb) {
        return Err(Error::MassMismatch { a: sa, b: sb });
    }
    Ok(sa)
}

/// A plan of `U(a, b)` close to a non-negative `plan` (Altschuler, Weed & Rigollet, NeurIPS 2017,
/// Algorithm 2, "round"): scale down every row whose sum exceeds `a_i`, then every column whose
/// sum exceeds `b_j`, then add `e_r e_cᵀ / ‖e_r‖₁` for the remaining deficits
/// `e_r = a − T1 ≥ 0`, `e_c = b − Tᵀ1 ≥ 0` (equal masses when `Σa = Σb`). The result meets both
/// marginals up to rounding and is within `2(‖T1 − a‖₁ + ‖Tᵀ1 − b‖₁)` of `plan` in ℓ1; it may fill
/// the support (the last step is dense). Used to turn an approximate plan (a Sinkhorn iterate, a
/// non-converged solver) into a feasible one, e.g. to check weak duality. Panics on lengths that
/// do not match `plan`.
pub fn round_to_marginals(plan: &Matrix, a: &[f64], b: &[f64]) -> Matrix {
    let (n, m) = plan.shape();
    assert!(a.len() == n && b.len() == m, "lengths {}, {} for a {n}×{m} plan", a.len(), b.len());
    let mut t = plan.clone();
    for (i, r) in t.row_sums().iter().enumerate() {
        let f = if *r > a[i] { a[i] / r } else { 1.0 };
        t.data[i * m..(i + 1) * m].iter_mut().for_each(|v| *v *= f);
    }
    let cs = t.col_sums();
    for row in t.data.chunks_exact_mut(m) {
        for (j, v) in row.iter_mut().enumerate() {
            if cs[j] > b[j] {
                *v *= b[j] / cs[j];
            }
        }
    }
    let er: Vec<f64> = t.row_sums().iter().zip(a).map(|(r, w)| w - r).collect();
    let ec: Vec<f64> = t.col_sums().iter().zip(b).map(|(c, w)| w - c).collect();
    let total: f64 = er.iter().sum();
    if total > 0.0 {
        for (row, ei) in t.data.chunks_exact_mut(m).zip(&er) {
            row.iter_mut().zip(&ec).for_each(|(v, ej)| *v += ei * ej / total);
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_meets_both_marginals_and_keeps_a_feasible_plan() {
        let (a, b) = ([0.25, 0.25, 0.5], [0.625, 0.375]);
        // the first and last rows too heavy, the second too light; the first column too heavy
        let plan = Matrix::new(3, 2, vec![0.3, 0.1, 0.1, 0.05, 0.4, 0.3]).unwrap();
        let t = round_to_marginals(&plan, &a, &b);
        for (s, w) in t.row_sums().iter().zip(&a) {
            assert!((s - w).abs() < 1e-15, "{s} {w}");
        }
        for (s, w) in t.col_sums().iter().zip(&b) {
            assert!((s - w).abs() < 1e-15, "{s} {w}");
        }
        assert!(t.data.iter().all(|&v| v >= 0.0));
        // a feasible plan is a fixed point
        let feasible = Matrix::new(3, 2, vec![0.125, 0.125, 0.125, 0.125, 0.375, 0.125]).unwrap();
        assert_eq!(round_to_marginals(&feasible, &a, &b).data, feasible.data);
    }

    #[test]
    fn uniform_sums_to_one() {
        let u = uniform(7);
        assert_eq!(u.len(), 7);
        assert!((u.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert!(check_marginals(&u, &uniform(3)).is_ok());
    }

    #[test]
    fn equal_mass_within_tolerance_is_accepted_with_zero_weights() {
        let a = [0.5, 0.0, 1.5];
        let b = [1.0, 1.0 + 1e-12];
        assert_eq!(check_marginals(&a, &b).unwrap(), 2.0);
    }

    #[test]
    fn errors_name_what_is_wrong() {
        assert_eq!(check_marginals(&[0.5, -0.1, 0.6], &[1.0]), Err(Error::NegativeWeight { what: "a", index: 1, value: -0.1 }));
        assert_eq!(check_marginals(&[1.0], &[0.5, 0.48]), Err(Error::MassMismatch { a: 1.0, b: 0.98 }));
        assert_eq!(Error::MassMismatch { a: 1.0, b: 0.98 }.to_string(), "marginals carry different mass: a sums to 1, b sums to 0.98");
        assert_eq!(check_marginals(&[], &[1.0]), Err(Error::Empty { what: "a" }));
        assert_eq!(check_marginals(&[1.0], &[0.0, 0.0]), Err(Error::ZeroMass { what: "b" }));
        let e = check_marginals(&[1.0], &[f64::NAN]).unwrap_err();
        assert!(matches!(&e, Error::NonFinite { what: "b", at, .. } if at == "index 0"), "{e}");
        assert_eq!(Error::NegativeWeight { what: "a", index: 1, value: -0.1 }.to_string(), "a: negative weight -0.1 at index 1");
    }
}
