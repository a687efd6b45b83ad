//! Full-reference image-quality metrics: the peak signal-to-noise ratio ([`psnr`]) and the
//! structural similarity index ([`ssim`], [`ssim_map`]).
//!
//! Both compare an image `x` with a reference `r` of the same shape `rows × cols`
//! (`n = rows · cols` pixels) given the **data range** `R > 0`, the difference between the
//! largest and smallest value the pixels can take (`1` for images in `[0, 1]`, `255` for 8-bit
//! images). `R` is an input, never estimated from the data.
//!
//! **PSNR** (in decibels):
//!
//! `PSNR(x, r) = 10 · log₁₀(R² / MSE)`,  `MSE = (1/n) Σ_i (x_i − r_i)²`.
//!
//! Larger is better; it is `+∞` (`f64::INFINITY`) when `x = r` (`MSE = 0`). This is
//! scikit-image's `skimage.metrics.peak_signal_noise_ratio(r, x, data_range=R)`.
//!
//! **SSIM** (Wang, Bovik, Sheikh & Simoncelli, "Image quality assessment: from error visibility
//! to structural similarity", IEEE Trans. Image Process. 13(4):600–612, 2004, eqs. (13)–(17)).
//! With `G` the normalised Gaussian filter below, the local (weighted) statistics at each pixel
//! are the means `μ_x = G x`, `μ_r = G r`, the variances `σ_x² = G(x²) − μ_x²`,
//! `σ_r² = G(r²) − μ_r²` and the covariance `σ_xr = G(x r) − μ_x μ_r` (population, i.e.
//! normalised by the weight sum `1`, not `N − 1`), all taken pixel-wise. The SSIM map is
//!
//! `S = (2 μ_x μ_r + C₁)(2 σ_xr + C₂) / ((μ_x² + μ_r² + C₁)(σ_x² + σ_r² + C₂))`,
//!
//! with `C₁ = (K₁ R)²`, `C₂ = (K₂ R)²`, `K₁ = 0.01`, `K₂ = 0.03`. `S ≤ 1` pixel-wise (up to
//! rounding), with equality everywhere when `x = r`; `S` is symmetric in `(x, r)`.
//! The **mean SSIM** ([`ssim`]) is the average of `S` over the pixels at least `p = 5` (the
//! window's half-width) away from every border, i.e. over the `(rows − 10) × (cols − 10)`
//! interior (non-empty because `rows, cols ≥ 11` is required).
//!
//! **Gaussian filter `G`.** Separable, `σ = 1.5`, truncated at radius `p = ⌊3.5 σ + ½⌋ = 5`
//! (an `11 × 11` window, as in the paper): the 1-D weights are
//! `w_k = exp(−k² / (2σ²)) / Σ_{|l|≤5} exp(−l² / (2σ²))` for `k = −5, …, 5`, applied first along
//! the rows axis (down each column), then along the columns axis, as
//! `(G f)_{i,j} = Σ_{a,b} w_a w_b f_{ρ(i+a), ρ(j+b)}`. At the borders `f` is extended by
//! half-sample symmetric **reflection** (`d c b a | a b c d | d c b a`, SciPy's `'reflect'`):
//! index `q` of an axis of length `m` maps to `ρ(q) = q mod 2m` if that is `< m`, else
//! `2m − 1 − (q mod 2m)`.
//!
//! **Convention.** This is exactly scikit-image 0.26's
//! `skimage.metrics.structural_similarity(x, r, data_range=R, gaussian_weights=True, sigma=1.5,
//! use_sample_covariance=False)` (its `full=True` map is [`ssim_map`]): SciPy's
//! `gaussian_filter(…, sigma=1.5, truncate=3.5, mode='reflect')` for `G`, population
//! covariances, and the mean over the map cropped by `p = (11 − 1)/2 = 5` on every side. The
//! tests below check both against values printed by `bench/compare/metrics_skimage.py`.
//!
//! Both images must have the same shape and finite pixels, and `R` must be finite and `> 0`;
//! SSIM also needs `rows ≥ 11` and `cols ≥ 11` (the window; the cropped interior is then
//! non-empty).

use crate::error::{Error, Result, check_finite};
use crate::image::Image;

/// SSIM's first stabilising constant factor `K₁` (`C₁ = (K₁ R)²`).
const K1: f64 = 0.01;
/// SSIM's second stabilising constant factor `K₂` (`C₂ = (K₂ R)²`).
const K2: f64 = 0.03;
/// Standard deviation of SSIM's Gaussian window, in pixels.
const SIGMA: f64 = 1.5;
/// Half-width of SSIM's window: `⌊3.5 σ + ½⌋ = 5`, an `11 × 11` window.
const RADIUS: usize = 5;
/// Side of SSIM's window, `2 · RADIUS + 1 = 11`.
const WIN: usize = 2 * RADIUS + 1;

/// Peak signal-to-noise ratio `10 · log₁₀(R² / MSE)` of `x` against `reference`, in decibels,
/// with `R = data_range` and `MSE = (1/n) Σ_i (x_i − reference_i)²`.
///
/// Returns `f64::INFINITY` when the images are identical (`MSE = 0`). Symmetric in its two
/// images. `Err` on a shape mismatch, a non-finite pixel, or `data_range` not finite and `> 0`.
/// See the [module docs](self).
pub fn psnr(x: &Image, reference: &Image, data_range: f64) -> Result<f64> {
    check_inputs(x, reference, data_range)?;
    let sum_sq: f64 = x.data.iter().zip(&reference.data).map(|(a, b)| (a - b) * (a - b)).sum();
    let mse = sum_sq / x.len() as f64;
    if mse == 0.0 {
        return Ok(f64::INFINITY);
    }
    Ok(10.0 * (data_range * data_range / mse).log10())
}

/// Mean structural similarity (Wang et al. 2004) of `x` and `reference` with data range
/// `R = data_range`: the average of the [`ssim_map`] over the pixels at least 5 away from every
/// border, exactly as scikit-image's `structural_similarity(x, reference, data_range=R,
/// gaussian_weights=True, sigma=1.5, use_sample_covariance=False)`.
///
/// Equals `1` when the images are identical; symmetric in its two images; `≤ 1`.
/// `Err` on a shape mismatch, a non-finite pixel, `data_range` not finite and `> 0`, or an
/// image smaller than the `11 × 11` window. See the [module docs](self).
pub fn ssim(x: &Image, reference: &Image, data_range: f64) -> Result<f64> {
    let s = ssim_map(x, reference, data_range)?;
    let mut sum = 0.0;
    for i in RADIUS..s.rows - RADIUS {
        let row = &s.data[i * s.cols..(i + 1) * s.cols];
        sum += row[RADIUS..s.cols - RADIUS].iter().sum::<f64>();
    }
    let count = (s.rows - 2 * RADIUS) * (s.cols - 2 * RADIUS);
    Ok(sum / count as f64)
}

/// The full SSIM map `S` (same shape as the inputs) of `x` and `reference` with data range
/// `R = data_range`: pixel-wise
/// `S = (2 μ_x μ_r + C₁)(2 σ_xr + C₂) / ((μ_x² + μ_r² + C₁)(σ_x² + σ_r² + C₂))`
/// with the Gaussian-weighted local statistics of the [module docs](self) (border pixels use
/// reflected data; [`ssim`] averages only the interior). scikit-image's `full=True` output.
///
/// `Err` as for [`ssim`].
pub fn ssim_map(x: &Image, reference: &Image, data_range: f64) -> Result<Image> {
    check_inputs(x, reference, data_range)?;
    if x.rows < WIN || x.cols < WIN {
        return Err(Error::Option {
            name: "image size",
            why: format!("SSIM needs at least {WIN}×{WIN} pixels (its Gaussian window), got {}×{}", x.rows, x.cols),
        });
    }
    let (rows, cols) = (x.rows, x.cols);
    let w = gaussian_weights();
    let product = |a: &Image, b: &Image| -> Image {
        let data = a.data.iter().zip(&b.data).map(|(u, v)| u * v).collect();
        Image { rows, cols, data }
    };
    let mu_x = gaussian_filter(x, &w);
    let mu_r = gaussian_filter(reference, &w);
    let m_xx = gaussian_filter(&product(x, x), &w);
    let m_rr = gaussian_filter(&product(reference, reference), &w);
    let m_xr = gaussian_filter(&product(x, reference), &w);

    let c1 = (K1 * data_range) * (K1 * data_range);
    let c2 = (K2 * data_range) * (K2 * data_range);
    let data = (0..rows * cols)
        .map(|k| {
            let (ux, ur) = (mu_x[k], mu_r[k]);
            let var_x = m_xx[k] - ux * ux;
            let var_r = m_rr[k] - ur * ur;
            let cov = m_xr[k] - ux * ur;
            let a1 = 2.0 * ux * ur + c1;
            let a2 = 2.0 * cov + c2;
            let b1 = ux * ux + ur * ur + c1;
            let b2 = var_x + var_r + c2;
            (a1 * a2) / (b1 * b2)
        })
        .collect();
    Ok(Image { rows, cols, data })
}

/// Shape, finiteness and data-range checks shared by the metrics.
fn check_inputs(x: &Image, reference: &Image, data_range: f64) -> Result<()> {
    if !(data_range.is_finite() && data_range > 0.0) {
        return Err(Error::Option { name: "data_range", why: format!("must be finite and > 0, got {data_range}") });
    }
    if x.rows != reference.rows || x.cols != reference.cols {
        return Err(Error::Option {
            name: "reference",
            why: format!("shape {}×{} differs from the image's {}×{}", reference.rows, reference.cols, x.rows, x.cols),
        });
    }
    check_finite("image", &x.data)?;
    check_finite("reference", &reference.data)
}

/// The normalised 1-D Gaussian weights `w_k ∝ exp(−k²/(2σ²))`, `k = −5, …, 5`, summing to 1.
fn gaussian_weights() -> [f64; WIN] {
    let mut w = [0.0; WIN];
    for (idx, wk) in w.iter_mut().enumerate() {
        let k = idx as f64 - RADIUS as f64;
        *wk = (-0.5 / (SIGMA * SIGMA) * k * k).exp();
    }
    let total: f64 = w.iter().sum();
    for wk in &mut w {
        *wk /= total;
    }
    w
}

/// Index `q` of an axis of length `m`, extended by half-sample symmetric reflection.
fn reflect(q: isize, m: usize) -> usize {
    let period = 2 * m as isize;
    let r = q.rem_euclid(period) as usize;
    if r < m { r } else { 2 * m - 1 - r }
}

/// Separable correlation of `f` with `w` along rows-axis then columns-axis, reflect boundary.
fn gaussian_filter(f: &Image, w: &[f64; WIN]) -> Vec<f64> {
    let (rows, cols) = (f.rows, f.cols);
    let mut tmp = vec![0.0; rows * cols];
    for i in 0..rows {
        for (a, wa) in w.iter().enumerate() {
            let src = reflect(i as isize + a as isize - RADIUS as isize, rows);
            let src_row = &f.data[src * cols..(src + 1) * cols];
            let dst = &mut tmp[i * cols..(i + 1) * cols];
            for (d, s) in dst.iter_mut().zip(src_row) {
                *d += wa * s;
            }
        }
    }
    let mut out = vec![0.0; rows * cols];
    for i in 0..rows {
        let src_row = &tmp[i * cols..(i + 1) * cols];
        for (j, o) in out[i * cols..(i + 1) * cols].iter_mut().enumerate() {
            *o = w.iter().enumerate().map(|(b, wb)| wb * src_row[reflect(j as isize + b as isize - RADIUS as isize, cols)]).sum();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phantom::{add_gaussian_noise, shepp_logan};

    fn pattern(i: usize, j: usize) -> f64 {
        let (i, j) = (i as f64, j as f64);
        0.5 + 0.4 * (0.3 * i).sin() * (0.2 * j).cos() + 0.01 * i
    }

    fn perturbed(i: usize, j: usize) -> f64 {
        pattern(i, j) + 0.05 * (1.7 * i as f64 + 2.3 * j as f64).sin()
    }

    fn steps(i: usize, j: usize) -> f64 {
        ((i * j + 3 * i) % 7) as f64 / 6.0
    }

    fn steps_noisy(i: usize, j: usize) -> f64 {
        steps(i, j) + 0.1 * (0.9 * i as f64 - 1.3 * j as f64).cos()
    }

    /// One line of `bench/compare/metrics_skimage.py`'s output:
    /// `(data_range, ssim, psnr, S[0,0], S[5,7], S[-1,-2], ΣS)`.
    type Row = (f64, f64, f64, f64, f64, f64, f64);

    fn check_case(x: &Image, y: &Image, rows: &[Row]) {
        for &(dr, m, p, s00, s57, slast, sum) in rows {
            let tol = 1e-10;
            let got = ssim(x, y, dr).unwrap();
            assert!((got - m).abs() < tol, "ssim dr={dr}: {got} vs {m}");
            let got = psnr(x, y, dr).unwrap();
            assert!((got - p).abs() < tol, "psnr dr={dr}: {got} vs {p}");
            let s = ssim_map(x, y, dr).unwrap();
            assert!((s.get(0, 0) - s00).abs() < tol, "S[0,0] dr={dr}");
            assert!((s.get(5, 7) - s57).abs() < tol, "S[5,7] dr={dr}");
            assert!((s.get(s.rows - 1, s.cols - 2) - slast).abs() < tol, "S[-1,-2] dr={dr}");
            let total: f64 = s.data.iter().sum();
            assert!((total - sum).abs() < tol * 10.0, "ΣS dr={dr}: {total} vs {sum}");
        }
    }

    #[test]
    fn metrics_match_skimage_pattern_24x20() {
        let x = Image::from_fn(24, 20, pattern).unwrap();
        let y = Image::from_fn(24, 20, perturbed).unwrap();
        check_case(
            &x,
            &y,
            &[
                (1.0, 0.930660361648162, 29.03109606127493, 0.9519505909630366, 0.9481149534822677, 0.9185012612182829, 445.2485347647099),
                (2.0, 0.9408100979365797, 35.051695974554555, 0.9569129369860652, 0.9533438017167111, 0.9301264648940746, 450.87080310410227),
                (0.5, 0.927442418278348, 23.010496147995305, 0.9505259348008561, 0.9466193355177307, 0.9149643096082146, 443.38696704038347),
            ],
        );
    }

    #[test]
    fn metrics_match_skimage_steps_32x27() {
        let x = Image::from_fn(32, 27, steps).unwrap();
        let y = Image::from_fn(32, 27, steps_noisy).unwrap();
        check_case(
            &x,
            &y,
            &[
                (1.0, 0.9800258522532824, 23.008700158653994, 0.977723299170836, 0.9792171879002017, 0.9731787866622582, 846.5183742014219),
                (2.0, 0.9802398167179254, 29.02930007193362, 0.9778986742131796, 0.9794478443317225, 0.9735334688012012, 846.7074185048627),
                (0.5, 0.9799716296767165, 16.98810024537437, 0.9776788902368636, 0.9791587125301341, 0.9730885779630994, 846.4704552808021),
            ],
        );
    }

    #[test]
    fn metrics_match_skimage_min_11x13() {
        // The smallest admissible size: the cropped interior is a single row of 3 pixels.
        let x = Image::from_fn(11, 13, pattern).unwrap();
        let y = Image::from_fn(11, 13, steps).unwrap();
        check_case(
            &x,
            &y,
            &[
                (1.0, -0.06250823993655168, 7.239423002963151, 0.32835333049067267, -0.022671912479774254, 0.09984651511495936, 4.619413107557891),
                (2.0, -0.04291630816751523, 13.260022916242775, 0.33803695189552896, -0.001659421233154528, 0.12043929584944987, 7.185197456842329),
                (0.5, -0.06753041686996838, 1.2188230896835273, 0.3258742099110855, -0.028066110899745124, 0.09453373824692904, 3.9606991289136033),
            ],
        );
    }

    #[test]
    fn metrics_invariants() {
        let clean = shepp_logan(64, 64).unwrap();
        for dr in [0.5, 1.0, 3.0] {
            assert_eq!(psnr(&clean, &clean, dr).unwrap(), f64::INFINITY);
            let s = ssim(&clean, &clean, dr).unwrap();
            assert!((s - 1.0).abs() < 1e-12, "ssim(x, x) = {s}");
        }
        let mut last_psnr = f64::INFINITY;
        let mut last_ssim = 1.0 + 1e-12;
        for (k, sigma) in [0.01, 0.03, 0.1, 0.3].into_iter().enumerate() {
            let y = add_gaussian_noise(&clean, sigma, 11 + k as u64).unwrap();
            let p = psnr(&y, &clean, 1.0).unwrap();
            let s = ssim(&y, &clean, 1.0).unwrap();
            assert!(p.is_finite() && p < last_psnr, "psnr not decreasing at σ = {sigma}");
            assert!(s < last_ssim && s <= 1.0, "ssim not decreasing at σ = {sigma}");
            assert_eq!(p, psnr(&clean, &y, 1.0).unwrap());
            assert_eq!(s, ssim(&clean, &y, 1.0).unwrap(), "ssim not symmetric");
            let map = ssim_map(&y, &clean, 1.0).unwrap();
            assert!(map.data.iter().all(|v| *v <= 1.0 + 1e-12));
            last_psnr = p;
            last_ssim = s;
        }
        // PSNR against its definition: a constant offset c gives MSE = c².
        let shifted = Image { data: clean.data.iter().map(|v| v + 0.1).collect(), ..clean.clone() };
        let p = psnr(&shifted, &clean, 2.0).unwrap();
        assert!((p - 10.0 * (4.0f64 / 0.01).log10()).abs() < 1e-9);
    }

    #[test]
    fn metrics_errors() {
        let a = Image::from_fn(12, 12, pattern).unwrap();
        let b = Image::from_fn(12, 13, pattern).unwrap();
        assert!(matches!(psnr(&a, &b, 1.0), Err(Error::Option { .. })));
        assert!(matches!(ssim(&a, &b, 1.0), Err(Error::Option { .. })));
        for dr in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(psnr(&a, &a, dr), Err(Error::Option { .. })));
            assert!(matches!(ssim(&a, &a, dr), Err(Error::Option { .. })));
        }
        let mut bad = a.clone();
        bad.set(3, 4, f64::NAN);
        assert!(matches!(psnr(&a, &bad, 1.0), Err(Error::NonFinite { .. })));
        assert!(matches!(ssim(&bad, &a, 1.0), Err(Error::NonFinite { .. })));
        let small = Image::from_fn(10, 30, pattern).unwrap();
        assert!(matches!(ssim(&small, &small, 1.0), Err(Error::Option { .. })));
        assert!(matches!(ssim_map(&small, &small, 1.0), Err(Error::Option { .. })));
        assert_eq!(psnr(&small, &small, 1.0).unwrap(), f64::INFINITY);
    }
}
