//! The simulation against the closed form of OLS, ridge's limits, determinism and bad input.

use super::*;

fn setting(d: usize, t: usize, generations: usize) -> Setting {
    Setting { d, t, t0: t, sigma: 1.0, sigma0: 1.0, generations, generator: Fit::Ols, downstream: Fit::Ols }
}

/// Mean and standard error over `reps` seeds of `E_n`, per generation.
fn mean_and_se(s: &Setting, reps: u64) -> Vec<(f64, f64)> {
    let traces: Vec<Vec<f64>> = (0..reps).map(|r| simulate(s, 1000 + r).unwrap().excess).collect();
    (0..=s.generations)
        .map(|n| {
            let xs: Vec<f64> = traces.iter().map(|t| t[n]).collect();
            let m = xs.iter().sum::<f64>() / reps as f64;
            let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (reps as f64 - 1.0);
            (m, (var / reps as f64).sqrt())
        })
        .collect()
}

#[test]
fn ols_excess_grows_by_the_closed_form_per_generation() {
    // d = 10, T = T₀ = 40: slope = intercept = 10/29
    let s = setting(10, 40, 4);
    let stats = mean_and_se(&s, 400);
    for (n, (m, se)) in stats.iter().enumerate() {
        let expect = ols_expected_excess(&s, n).unwrap();
        eprintln!("n = {n}: simulated {m:.4} ± {se:.4}, closed form {expect:.4}");
        assert!((m - expect).abs() < 4.0 * se, "generation {n}: {m} ± {se} against {expect}");
    }
    assert!((ols_expected_excess(&s, 1).unwrap() - 2.0 * 10.0 / 29.0).abs() < 1e-12);
    // a different generator: T₀ = 100, σ₀ = 0.5 changes the slope, not the intercept
    let s2 = Setting { t0: 100, sigma0: 0.5, ..s.clone() };
    let stats = mean_and_se(&s2, 400);
    for (n, (m, se)) in stats.iter().enumerate() {
        let expect = ols_expected_excess(&s2, n).unwrap();
        assert!((m - expect).abs() < 4.0 * se, "T₀ = 100, generation {n}: {m} ± {se} against {expect}");
    }
    assert_eq!(ols_expected_excess(&setting(10, 11, 1), 0), None);
}

#[test]
fn ridge_interpolates_between_ols_and_zero() {
    let s = setting(8, 30, 3);
    let ols = simulate(&s, 7).unwrap();
    // λ = 0 is OLS (the same normal equations)
    let r0 = simulate(&Setting { downstream: Fit::Ridge { lambda: 0.0 }, generator: Fit::Ridge { lambda: 0.0 }, ..s.clone() }, 7).unwrap();
    for (a, b) in ols.excess.iter().zip(&r0.excess) {
        assert!((a - b).abs() <= 1e-12 * a.max(1.0), "{a} vs {b}");
    }
    // λ → ∞ shrinks ŵ to 0: E_n → ‖w₀‖², the same for every n
    let big = simulate(&Setting { downstream: Fit::Ridge { lambda: 1e12 }, ..s.clone() }, 7).unwrap();
    let w0_sq = big.excess[0];
    assert!(big.excess.iter().all(|e| (e - w0_sq).abs() < 1e-6 * w0_sq), "{:?}", big.excess);
    // and a moderate λ on the downstream fit lowers the mean error of a collapsed chain
    let chain = setting(20, 44, 10);
    let m = |s: &Setting| (0..60u64).map(|r| simulate(s, r).unwrap().excess[10]).sum::<f64>() / 60.0;
    let (e_ols, e_ridge) = (m(&chain), m(&Setting { downstream: Fit::Ridge { lambda: 0.5 }, ..chain.clone() }));
    assert!(e_ridge < e_ols, "ridge {e_ridge} vs OLS {e_ols}");
}

#[test]
fn same_seed_same_trace_and_generations_do_not_shift_the_draws() {
    let s = setting(6, 20, 5);
    assert_eq!(simulate(&s, 3).unwrap(), simulate(&s, 3).unwrap());
    assert_ne!(simulate(&s, 3).unwrap(), simulate(&s, 4).unwrap());
    let short = simulate(&Setting { generations: 2, ..s.clone() }, 3).unwrap();
    assert_eq!(short.excess[..], simulate(&s, 3).unwrap().excess[..3]);
}

#[test]
fn bad_settings_are_one_line_errors() {
    let ok = setting(5, 20, 2);
    for (s, what) in [
        (Setting { d: 0, ..ok.clone() }, "d must"),
        (Setting { sigma: -1.0, ..ok.clone() }, "σ must"),
        (Setting { sigma0: f64::NAN, ..ok.clone() }, "σ₀ must"),
        (Setting { t: 3, ..ok.clone() }, "at least d samples"),
        (Setting { t0: 0, ..ok.clone() }, "at least one sample"),
        (Setting { generator: Fit::Ridge { lambda: -0.1 }, ..ok.clone() }, "ridge λ"),
    ] {
        let e = simulate(&s, 1).unwrap_err();
        assert!(e.contains(what) && !e.contains('\n'), "{e}");
    }
    // ridge needs no more samples than dimensions
    assert!(simulate(&Setting { t: 3, downstream: Fit::Ridge { lambda: 0.1 }, ..ok }, 1).is_ok());
}
