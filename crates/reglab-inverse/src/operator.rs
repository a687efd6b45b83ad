//! Linear operators `A : ℝⁿ → ℝᵐ` with their exact adjoints `Aᵀ : ℝᵐ → ℝⁿ`.
//!
//! Every operator acts on flat `f64` buffers; images are row-major `rows × cols`
//! (pixel `(i, j)` at index `i·cols + j`, see [`Image`]). The adjoint of each
//! operator is the exact transpose of its discrete forward map, so
//! `⟨A x, y⟩ = ⟨x, Aᵀ y⟩` holds to rounding for all `x ∈ ℝⁿ`, `y ∈ ℝᵐ` (tested below).
//!
//! - [`Identity`]: `A = I` on `ℝⁿ`.
//! - [`Convolution`]: `(k ∗ x)(i, j) = Σ_{a,b} k(a, b) · x(i + cᵣ − a, j + c_c − b)` with a
//!   `kr × kc` kernel `k`, centre `(cᵣ, c_c) = (⌊kr/2⌋, ⌊kc/2⌋)`, output of the input's size
//!   ("same"), and **zero boundary**: pixels of `x` outside the image are 0. Its adjoint is the
//!   correlation with `k` under the same zero boundary.
//! - [`Gradient`]: `∇ : ℝ^{rows·cols} → ℝ^{2·rows·cols}`, forward differences with Neumann
//!   boundary (Chambolle 2004, §2): `(∇x)¹(i, j) = x(i+1, j) − x(i, j)` for `i < rows−1`, 0 on the
//!   last row; `(∇x)²(i, j) = x(i, j+1) − x(i, j)` for `j < cols−1`, 0 on the last column. The
//!   output stores `(∇x)¹` (along rows, axis 0) in `[0, rows·cols)` and `(∇x)²` (along columns,
//!   axis 1) in `[rows·cols, 2·rows·cols)`. Its adjoint is `∇ᵀ = −div`, with Chambolle's
//!   discrete divergence `div p = (p¹(i, j) − p¹(i−1, j)) + (p²(i, j) − p²(i, j−1))`, where
//!   `p¹(−1, ·) = p¹(rows−1, ·) = 0` and `p²(·, −1) = p²(·, cols−1) = 0`. `‖∇‖² ≤ 8`.
//! - [`Radon`]: the parallel-beam Radon transform, pixel-driven (see its docs for the
//!   geometry), and its exact adjoint, the (unfiltered) back-projection.

use crate::error::{Error, Result, check_finite};
use crate::image::Image;

/// A linear map `A : ℝⁿ → ℝᵐ` with `n = input_len()`, `m = output_len()`, and its adjoint.
///
/// `apply` and `adjoint` overwrite `out`; they panic if a buffer has the wrong length (use
/// [`forward`](LinearOperator::forward) / [`transpose`](LinearOperator::transpose) for checked
/// versions that allocate).
pub trait LinearOperator {
    /// `n`, the length of `x`.
    fn input_len(&self) -> usize;
    /// `m`, the length of `A x`.
    fn output_len(&self) -> usize;
    /// `out ← A x`, with `x.len() = n`, `out.len() = m`.
    fn apply(&self, x: &[f64], out: &mut [f64]);
    /// `out ← Aᵀ y`, with `y.len() = m`, `out.len() = n`.
    fn adjoint(&self, y: &[f64], out: &mut [f64]);

    /// `A x` in a new buffer; `Err` if `x` has the wrong length.
    fn forward(&self, x: &[f64]) -> Result<Vec<f64>> {
        check_len("x", self.input_len(), x.len())?;
        let mut out = vec![0.0; self.output_len()];
        self.apply(x, &mut out);
        Ok(out)
    }

    /// `Aᵀ y` in a new buffer; `Err` if `y` has the wrong length.
    fn transpose(&self, y: &[f64]) -> Result<Vec<f64>> {
        check_len("y", self.output_len(), y.len())?;
        let mut out = vec![0.0; self.input_len()];
        self.adjoint(y, &mut out);
        Ok(out)
    }
}

fn check_len(what: &'static str, expected: usize, len: usize) -> Result<()> {
    if expected == len { Ok(()) } else { Err(Error::Length { what, expected, len }) }
}

fn assert_lens(op: &impl LinearOperator, input: usize, output: usize) {
    assert_eq!(input, op.input_len(), "input buffer length");
    assert_eq!(output, op.output_len(), "output buffer length");
}

/// The identity on `ℝⁿ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// `n`.
    pub n: usize,
}

impl LinearOperator for Identity {
    fn input_len(&self) -> usize {
        self.n
    }
    fn output_len(&self) -> usize {
        self.n
    }
    fn apply(&self, x: &[f64], out: &mut [f64]) {
        assert_lens(self, x.len(), out.len());
        out.copy_from_slice(x);
    }
    fn adjoint(&self, y: &[f64], out: &mut [f64]) {
        assert_lens(self, out.len(), y.len());
        out.copy_from_slice(y);
    }
}

/// 2-D convolution `x ↦ k ∗ x` of a `rows × cols` image with a kernel, "same" size output,
/// zero boundary (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq)]
pub struct Convolution {
    rows: usize,
    cols: usize,
    kernel: Image,
}

impl Convolution {
    /// The convolution of `rows × cols` images with `kernel` (any size, centre
    /// `(⌊kr/2⌋, ⌊kc/2⌋)`); `Err` if the image is empty or the kernel is not finite.
    pub fn new(rows: usize, cols: usize, kernel: Image) -> Result<Self> {
        if rows == 0 || cols == 0 {
            return Err(Error::Empty { what: "image" });
        }
        check_finite("kernel", &kernel.data)?;
        Ok(Self { rows, cols, kernel })
    }

    /// The kernel.
    pub fn kernel(&self) -> &Image {
        &self.kernel
    }

    /// Calls `f(out_index, in_index, weight)` for every non-zero term of the forward map
    /// `out[o] += weight · x[in]`; forward and adjoint share it, so they are exact transposes.
    fn for_each_term(&self, mut f: impl FnMut(usize, usize, f64)) {
        let (kr, kc) = (self.kernel.rows as isize, self.kernel.cols as isize);
        let (cr, cc) = (kr / 2, kc / 2);
        let (rows, cols) = (self.rows as isize, self.cols as isize);
        for i in 0..rows {
            for j in 0..cols {
                for a in 0..kr {
                    let si = i + cr - a;
                    if si < 0 || si >= rows {
                        continue;
                    }
                    for b in 0..kc {
                        let sj = j + cc - b;
                        if sj < 0 || sj >= cols {
                            continue;
                        }
                        let w = self.kernel.data[(a * kc + b) as usize];
                        f((i * cols + j) as usize, (si * cols + sj) as usize, w);
                    }
                }
            }
        }
    }
}

impl LinearOperator for Convolution {
    fn input_len(&self) -> usize {
        self.rows * self.cols
    }
    fn output_len(&self) -> usize {
        self.rows * self.cols
    }
    fn apply(&self, x: &[f64], out: &mut [f64]) {
        assert_lens(self, x.len(), out.len());
        out.fill(0.0);
        self.for_each_term(|o, s, w| out[o] += w * x[s]);
    }
    fn adjoint(&self, y: &[f64], out: &mut [f64]) {
        assert_lens(self, out.len(), y.len());
        out.fill(0.0);
        self.for_each_term(|o, s, w| out[s] += w * y[o]);
    }
}

/// The forward-difference gradient with Neumann boundary, `ℝ^{rows·cols} → ℝ^{2·rows·cols}`
/// (see the [module docs](self) for the layout); its adjoint is `−div`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gradient {
    /// Image rows.
    pub rows: usize,
    /// Image columns.
    pub cols: usize,
}

impl Gradient {
    /// The gradient of `rows × cols` images; `Err` if empty.
    pub fn new(rows: usize, cols: usize) -> Result<Self> {
        if rows == 0 || cols == 0 {
            return Err(Error::Empty { what: "image" });
        }
        Ok(Self { rows, cols })
    }

    /// Chambolle's discrete divergence, `div p = −∇ᵀ p` (`p.len() = 2·rows·cols`,
    /// `out.len() = rows·cols`).
    pub fn divergence(&self, p: &[f64], out: &mut [f64]) {
        self.adjoint(p, out);
        for v in out.iter_mut() {
            *v = -*v;
        }
    }
}

impl LinearOperator for Gradient {
    fn input_len(&self) -> usize {
        self.rows * self.cols
    }
    fn output_len(&self) -> usize {
        2 * self.rows * self.cols
    }
    fn apply(&self, x: &[f64], out: &mut [f64]) {
        assert_lens(self, x.len(), out.len());
        let (r, c) = (self.rows, self.cols);
        let (g1, g2) = out.split_at_mut(r * c);
        for i in 0..r {
            for j in 0..c {
                let k = i * c + j;
                g1[k] = if i + 1 < r { x[k + c] - x[k] } else { 0.0 };
                g2[k] = if j + 1 < c { x[k + 1] - x[k] } else { 0.0 };
            }
        }
    }
    /// `∇ᵀ p = −div p`.
    fn adjoint(&self, p: &[f64], out: &mut [f64]) {
        assert_lens(self, out.len(), p.len());
        let (r, c) = (self.rows, self.cols);
        let (p1, p2) = p.split_at(r * c);
        for i in 0..r {
            for j in 0..c {
                let k = i * c + j;
                // div p = (p1(i,j) − p1(i−1,j)) + (p2(i,j) − p2(i,j−1)), with the zero conventions.
                let mut d = 0.0;
                if i + 1 < r {
                    d += p1[k];
                }
                if i > 0 {
                    d -= p1[k - c];
                }
                if j + 1 < c {
                    d += p2[k];
                }
                if j > 0 {
                    d -= p2[k - 1];
                }
                out[k] = -d;
            }
        }
    }
}

/// The parallel-beam Radon transform of a `rows × cols` image at given angles, pixel-driven
/// with linear interpolation on the detector.
///
/// **Geometry.** Pixel `(i, j)` is the unit square centred at
/// `(x, y) = (j − (cols−1)/2, (rows−1)/2 − i)`: the image is centred on the rotation axis, `x`
/// points right (increasing column), `y` points up (decreasing row), unit pixel spacing. For an
/// angle `θ` (radians), the detector coordinate of a point is `t = x cos θ + y sin θ` (so at
/// `θ = 0` the rays run along `y` and the detector reads `x`). The detector has `n_det` bins of
/// width `spacing`, bin `k` centred at `t_k = (k − (n_det−1)/2) · spacing`. Each pixel's value is
/// placed at `u = t/spacing + (n_det−1)/2` (fractional bin) and split linearly between bins
/// `⌊u⌋` and `⌊u⌋+1` with weights `1 − (u − ⌊u⌋)` and `u − ⌊u⌋`; weights falling outside the
/// detector are dropped. The sinogram is `n_angles × n_det`, row-major (one row per angle), so
/// `sino[a·n_det + k] = Σ_pixels w_{a,k}(i, j) · x(i, j)`: a discrete line integral with unit
/// pixel area (a disk of radius `R` projects to ≈ its chord `2√(R² − t²)` per bin).
///
/// The adjoint, the unfiltered back-projection `x(i, j) = Σ_{a,k} w_{a,k}(i, j) · sino[a, k]`,
/// uses the same weights, so it is the exact transpose.
///
/// With [`Radon::new`]'s default detector (`n_det = ⌈√(rows² + cols²)⌉ + 1` bins of unit width,
/// covering the image's diagonal), no weight is dropped and every projection carries the image's
/// total mass.
///
/// **Other centres.** [`Radon::with_centres`] moves the rotation axis to any (fractional) pixel
/// position `(r₀, c₀)`, `(x, y) = (j − c₀, r₀ − i)`, and `t = 0` to any (fractional) bin
/// position `k₀`, `t_k = (k − k₀)·spacing`; the defaults are `((rows−1)/2, (cols−1)/2)` and
/// `(n_det−1)/2`. scikit-image's `radon`/`iradon` put both at `n // 2` (its centre pixel and bin),
/// which for even sizes is half a pixel off ours.
#[derive(Debug, Clone, PartialEq)]
pub struct Radon {
    rows: usize,
    cols: usize,
    angles: Vec<f64>,
    n_det: usize,
    spacing: f64,
    /// The rotation axis `(r₀, c₀)` in pixel positions (row, column).
    centre: (f64, f64),
    /// The bin position `k₀` of `t = 0`.
    centre_bin: f64,
}

impl Radon {
    /// The transform with the default detector: `⌈√(rows² + cols²)⌉ + 1` bins of unit spacing.
    pub fn new(rows: usize, cols: usize, angles: Vec<f64>) -> Result<Self> {
        let n_det = (((rows * rows + cols * cols) as f64).sqrt().ceil() as usize) + 1;
        Self::with_detector(rows, cols, angles, n_det, 1.0)
    }

    /// The transform with `n_det` detector bins of width `spacing > 0`.
    pub fn with_detector(rows: usize, cols: usize, angles: Vec<f64>, n_det: usize, spacing: f64) -> Result<Self> {
        if rows == 0 || cols == 0 {
            return Err(Error::Empty { what: "image" });
        }
        if angles.is_empty() {
            return Err(Error::Empty { what: "angles" });
        }
        if n_det == 0 {
            return Err(Error::Empty { what: "detector" });
        }
        check_finite("angles", &angles)?;
        if !(spacing.is_finite() && spacing > 0.0) {
            return Err(Error::Option { name: "spacing", why: format!("must be finite and > 0, got {spacing}") });
        }
        let centre = ((rows as f64 - 1.0) / 2.0, (cols as f64 - 1.0) / 2.0);
        Ok(Self { rows, cols, angles, n_det, spacing, centre, centre_bin: (n_det as f64 - 1.0) / 2.0 })
    }

    /// The same transform with the rotation axis at the pixel position `(row, col)` and `t = 0`
    /// at the bin position `bin` (fractional positions allowed; see the type's docs); `Err`
    /// unless all three are finite.
    pub fn with_centres(self, row: f64, col: f64, bin: f64) -> Result<Self> {
        check_finite("centres", &[row, col, bin])?;
        Ok(Self { centre: (row, col), centre_bin: bin, ..self })
    }

    /// The rotation axis `(row, col)` in pixel positions.
    pub fn centre(&self) -> (f64, f64) {
        self.centre
    }

    /// The bin position of `t = 0`.
    pub fn centre_bin(&self) -> f64 {
        self.centre_bin
    }

    /// `n` equispaced angles in `[0, π)`: `θ_a = a·π/n`.
    pub fn equispaced_angles(n: usize) -> Vec<f64> {
        (0..n).map(|a| a as f64 * std::f64::consts::PI / n as f64).collect()
    }

    /// The angles (radians).
    pub fn angles(&self) -> &[f64] {
        &self.angles
    }

    /// Number of detector bins.
    pub fn n_det(&self) -> usize {
        self.n_det
    }

    /// Detector bin width.
    pub fn spacing(&self) -> f64 {
        self.spacing
    }

    /// The detector coordinate `t_k` of bin `k`'s centre.
    pub fn bin_centre(&self, k: usize) -> f64 {
        (k as f64 - self.centre_bin) * self.spacing
    }

    /// Calls `f(sino_index, pixel_index, weight)` for every term of the forward map.
    fn for_each_term(&self, mut f: impl FnMut(usize, usize, f64)) {
        let (r, c) = (self.rows, self.cols);
        let (yc, xc) = self.centre;
        let half = self.centre_bin;
        for (a, &th) in self.angles.iter().enumerate() {
            let (s, co) = th.sin_cos();
            let row = a * self.n_det;
            for i in 0..r {
                let y = yc - i as f64;
                for j in 0..c {
                    let x = j as f64 - xc;
                    let u = (x * co + y * s) / self.spacing + half;
                    let k0 = u.floor();
                    let w = u - k0;
                    let k0 = k0 as isize;
                    let p = i * c + j;
                    if k0 >= 0 && (k0 as usize) < self.n_det {
                        f(row + k0 as usize, p, 1.0 - w);
                    }
                    let k1 = k0 + 1;
                    if k1 >= 0 && (k1 as usize) < self.n_det {
                        f(row + k1 as usize, p, w);
                    }
                }
            }
        }
    }
}

impl LinearOperator for Radon {
    fn input_len(&self) -> usize {
        self.rows * self.cols
    }
    fn output_len(&self) -> usize {
        self.angles.len() * self.n_det
    }
    fn apply(&self, x: &[f64], out: &mut [f64]) {
        assert_lens(self, x.len(), out.len());
        out.fill(0.0);
        self.for_each_term(|o, p, w| out[o] += w * x[p]);
    }
    fn adjoint(&self, y: &[f64], out: &mut [f64]) {
        assert_lens(self, out.len(), y.len());
        out.fill(0.0);
        self.for_each_term(|o, p, w| out[p] += w * y[o]);
    }
}

/// `⟨x, y⟩`.
pub fn dot(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

/// An estimate of `‖A‖²` (the largest eigenvalue of `AᵀA`) by `iters` power iterations from
/// the all-ones start plus a fixed ripple (never orthogonal to the top eigenvector in practice).
pub fn norm_squared_estimate(op: &impl LinearOperator, iters: usize) -> f64 {
    let n = op.input_len();
    let mut x: Vec<f64> = (0..n).map(|k| 1.0 + 0.5 * ((k as f64) * 0.7).sin()).collect();
    let mut ax = vec![0.0; op.output_len()];
    let mut atax = vec![0.0; n];
    let mut lambda = 0.0;
    for _ in 0..iters {
        let nx = dot(&x, &x).sqrt();
        if nx == 0.0 {
            return 0.0;
        }
        x.iter_mut().for_each(|v| *v /= nx);
        op.apply(&x, &mut ax);
        op.adjoint(&ax, &mut atax);
        lambda = dot(&x, &atax);
        std::mem::swap(&mut x, &mut atax);
    }
    lambda
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phantom::Rng;

    fn random(rng: &mut Rng, n: usize) -> Vec<f64> {
        (0..n).map(|_| rng.normal()).collect()
    }

    /// `|⟨Ax, y⟩ − ⟨x, Aᵀy⟩| ≤ 1e-10 · ‖Ax‖‖y‖` on three random pairs.
    fn check_adjoint(op: &impl LinearOperator, seed: u64, what: &str) {
        let mut rng = Rng::new(seed);
        for _ in 0..3 {
            let x = random(&mut rng, op.input_len());
            let y = random(&mut rng, op.output_len());
            let ax = op.forward(&x).unwrap();
            let aty = op.transpose(&y).unwrap();
            let (l, r) = (dot(&ax, &y), dot(&x, &aty));
            let scale = dot(&ax, &ax).sqrt() * dot(&y, &y).sqrt() + dot(&x, &x).sqrt() * dot(&aty, &aty).sqrt();
            assert!(scale > 0.0, "{what}: zero operator output");
            assert!((l - r).abs() <= 1e-10 * scale, "{what}: ⟨Ax,y⟩ = {l}, ⟨x,Aᵀy⟩ = {r}");
        }
    }

    const SHAPES: [(usize, usize); 5] = [(1, 1), (4, 4), (5, 7), (8, 3), (16, 17)];

    #[test]
    fn identity_adjoint() {
        for n in [1, 7, 64] {
            check_adjoint(&Identity { n }, n as u64, "identity");
        }
    }

    #[test]
    fn convolution_adjoint() {
        let mut rng = Rng::new(1);
        for (s, &(r, c)) in SHAPES.iter().enumerate() {
            for (kr, kc) in [(1, 1), (3, 3), (2, 4), (5, 3)] {
                let k = Image::new(kr, kc, random(&mut rng, kr * kc)).unwrap();
                let op = Convolution::new(r, c, k).unwrap();
                check_adjoint(&op, 100 + s as u64, &format!("conv {r}×{c} kernel {kr}×{kc}"));
            }
        }
    }

    #[test]
    fn convolution_values() {
        // A delta kernel shifted off-centre moves the image by one pixel, zero-filled.
        let k = Image::new(1, 3, vec![1.0, 0.0, 0.0]).unwrap(); // centre (0, 1); k(0,0): x(i, j + 1)
        let op = Convolution::new(2, 3, k).unwrap();
        let y = op.forward(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!(y, vec![2.0, 3.0, 0.0, 5.0, 6.0, 0.0]);
        // A 3×3 box blur of a constant image: 9 inside, fewer at the zero boundary.
        let op = Convolution::new(4, 5, Image::new(3, 3, vec![1.0; 9]).unwrap()).unwrap();
        let y = op.forward(&[1.0; 20]).unwrap();
        assert_eq!(y[6], 9.0);
        assert_eq!(y[0], 4.0);
        assert_eq!(y[1], 6.0);
    }

    #[test]
    fn gradient_adjoint_and_values() {
        // (1×1 has ∇ = 0: nothing to test.)
        for (s, &(r, c)) in SHAPES[1..].iter().chain(&[(1, 6), (7, 1)]).enumerate() {
            check_adjoint(&Gradient::new(r, c).unwrap(), 200 + s as u64, &format!("gradient {r}×{c}"));
        }
        let g = Gradient::new(2, 3).unwrap();
        let d = g.forward(&[0.0, 1.0, 3.0, 2.0, 2.0, 2.0]).unwrap();
        assert_eq!(d, vec![2.0, 1.0, -1.0, 0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 0.0]);
        // div of a constant-free field: div p sums to zero (Σ div p = −⟨∇1, p⟩ = 0).
        let mut rng = Rng::new(3);
        let p = random(&mut rng, 12);
        let mut div = vec![0.0; 6];
        g.divergence(&p, &mut div);
        assert!(div.iter().sum::<f64>().abs() < 1e-12);
    }

    #[test]
    fn gradient_norm_at_most_8() {
        for &(r, c) in &[(4, 4), (9, 8), (32, 32)] {
            let l = norm_squared_estimate(&Gradient::new(r, c).unwrap(), 500);
            assert!(l <= 8.0 + 1e-9, "{r}×{c}: ‖∇‖² ≈ {l}");
            if r >= 32 {
                assert!(l > 7.5, "{r}×{c}: ‖∇‖² ≈ {l} (tends to 8)");
            }
        }
    }

    #[test]
    fn radon_adjoint() {
        let angle_sets = [vec![0.0], Radon::equispaced_angles(4), Radon::equispaced_angles(7), vec![0.1, 1.0, 2.5, -0.7, 4.0]];
        for (s, &(r, c)) in SHAPES.iter().enumerate() {
            for (t, angles) in angle_sets.iter().enumerate() {
                let op = Radon::new(r, c, angles.clone()).unwrap();
                check_adjoint(&op, 300 + 10 * s as u64 + t as u64, &format!("radon {r}×{c} set {t}"));
                // A narrow detector drops weights: still an exact transpose.
                let op = Radon::with_detector(r, c, angles.clone(), 3, 0.7).unwrap();
                check_adjoint(&op, 400 + 10 * s as u64 + t as u64, &format!("narrow radon {r}×{c} set {t}"));
                // So does one with moved centres (scikit-image's `n // 2`, and off the grid).
                let op = Radon::new(r, c, angles.clone()).unwrap();
                let nd = op.n_det();
                let op = op.with_centres((r / 2) as f64, (c / 2) as f64, (nd / 2) as f64).unwrap();
                check_adjoint(&op, 500 + 10 * s as u64 + t as u64, &format!("skimage-centred radon {r}×{c} set {t}"));
                let op = Radon::with_detector(r, c, angles.clone(), 5, 1.3).unwrap().with_centres(0.3, -1.2, 3.7).unwrap();
                check_adjoint(&op, 600 + 10 * s as u64 + t as u64, &format!("off-centre radon {r}×{c} set {t}"));
            }
        }
    }

    #[test]
    fn radon_of_centred_disk_is_angle_independent() {
        for n in [64usize, 65] {
            let radius = 0.35 * n as f64;
            let centre = (n as f64 - 1.0) / 2.0;
            let disk = Image::from_fn(n, n, |i, j| {
                let (y, x) = (i as f64 - centre, j as f64 - centre);
                if x * x + y * y <= radius * radius { 1.0 } else { 0.0 }
            })
            .unwrap();
            let mass: f64 = disk.data.iter().sum();
            let op = Radon::new(n, n, Radon::equispaced_angles(12)).unwrap();
            let sino = op.forward(&disk.data).unwrap();
            let nd = op.n_det();
            let mean: Vec<f64> = (0..nd).map(|k| (0..12).map(|a| sino[a * nd + k]).sum::<f64>() / 12.0).collect();
            for a in 0..12 {
                let row = &sino[a * nd..(a + 1) * nd];
                // Every projection carries the whole mass (no weight leaves the detector).
                assert!((row.iter().sum::<f64>() - mass).abs() < 1e-9 * mass);
                // Same profile at every angle, to discretization accuracy (≈ 2R = 45 at the peak).
                // Same profile at every angle, to discretization accuracy: pixel-driven projection
                // aliases at oblique angles (pixel centres land √2/2 apart at 45°), so compare
                // profiles averaged over 3 bins; the peak is 2R ≈ 45.
                let sm = |v: &[f64], k: usize| (v[k - 1] + v[k] + v[k + 1]) / 3.0;
                let dev = (1..nd - 1).map(|k| (sm(row, k) - sm(&mean, k)).abs()).fold(0.0, f64::max);
                assert!(dev < 0.04 * 2.0 * radius, "n = {n}, angle {a}: deviation {dev}");
                // And close to the chord length 2√(R² − t²), away from the rim.
                for k in 1..nd - 1 {
                    let t = op.bin_centre(k);
                    if t.abs() < 0.8 * radius {
                        let chord = |t: f64| 2.0 * (radius * radius - t * t).sqrt();
                        let want = (chord(t - 1.0) + chord(t) + chord(t + 1.0)) / 3.0;
                        let v = sm(row, k);
                        assert!((v - want).abs() < 0.04 * 2.0 * radius, "n = {n}, angle {a}, t = {t}: {v} vs {want}");
                    }
                }
            }
        }
    }

    /// Moving the centres is the same as padding: on an even `rows × cols` image with an even
    /// detector, centres at `(rows/2, cols/2)` and bin `n_det/2` give the default transform of
    /// the image with a zero row and column appended (odd sizes, default centres `rows/2`,
    /// `cols/2`) on `n_det + 1` bins (default centre `n_det/2`), its last bin dropped.
    #[test]
    fn moved_centres_are_padding() {
        let mut rng = Rng::new(8);
        let angles = vec![0.0, 0.4, 1.3, 2.9, -0.6];
        let (r, c, nd) = (6, 8, 10);
        let x = random(&mut rng, r * c);
        let op = Radon::with_detector(r, c, angles.clone(), nd, 1.0).unwrap().with_centres(3.0, 4.0, 5.0).unwrap();
        assert_eq!((op.centre(), op.centre_bin(), op.bin_centre(5)), ((3.0, 4.0), 5.0, 0.0));
        let sino = op.forward(&x).unwrap();
        let padded: Vec<f64> =
            (0..(r + 1) * (c + 1)).map(|p| if p / (c + 1) < r && p % (c + 1) < c { x[p / (c + 1) * c + p % (c + 1)] } else { 0.0 }).collect();
        let big = Radon::with_detector(r + 1, c + 1, angles.clone(), nd + 1, 1.0).unwrap();
        assert_eq!((big.centre(), big.centre_bin()), ((3.0, 4.0), 5.0));
        let want = big.forward(&padded).unwrap();
        for a in 0..angles.len() {
            for k in 0..nd {
                assert!((sino[a * nd + k] - want[a * (nd + 1) + k]).abs() < 1e-12, "angle {a}, bin {k}");
            }
        }
        assert!(matches!(op.clone().with_centres(f64::NAN, 0.0, 0.0), Err(Error::NonFinite { .. })));
        assert!(matches!(op.with_centres(0.0, 0.0, f64::INFINITY), Err(Error::NonFinite { .. })));
    }

    #[test]
    fn errors() {
        assert!(matches!(Radon::new(3, 3, vec![]), Err(Error::Empty { .. })));
        assert!(matches!(Radon::with_detector(3, 3, vec![0.0], 5, 0.0), Err(Error::Option { .. })));
        assert!(matches!(Radon::new(3, 3, vec![f64::NAN]), Err(Error::NonFinite { .. })));
        assert!(matches!(Gradient::new(0, 3), Err(Error::Empty { .. })));
        let g = Gradient::new(2, 2).unwrap();
        assert!(matches!(g.forward(&[0.0; 3]), Err(Error::Length { expected: 4, len: 3, .. })));
        assert!(matches!(g.transpose(&[0.0; 4]), Err(Error::Length { expected: 8, .. })));
    }
}
