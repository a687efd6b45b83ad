//! Test images and noise.
//!
//! Phantoms live on the square `[−1, 1]²` with `x` to the right and `y` up, sampled at pixel
//! centres: pixel `(i, j)` of a `rows × cols` image is the point
//! `(x, y) = ((2j + 1)/cols − 1, 1 − (2i + 1)/rows)`.
//!
//! - [`shepp_logan`]: the **modified Shepp–Logan** phantom with Toft's higher-contrast
//!   intensities, exactly MATLAB's `phantom('Modified Shepp-Logan', n)` table (ten ellipses,
//!   values in `[0, 1]`: background 0, skull 1, brain 0.2, ventricles 0, small features 0.3–0.4).
//!   MATLAB samples the grid corners of `[−1, 1]²` inclusively; we sample pixel centres, so the
//!   images differ by at most a pixel on the ellipse rims. scikit-image's `shepp_logan_phantom()`
//!   is a stored 400×400 image, not generated; its grey levels (0, 0.1, 0.2, 0.3, 0.4, 1.0,
//!   checked with 0.26.0) are those of this modified phantom; no pixelwise comparison is made.
//! - [`piecewise_constant`]: a background of 0 with a rectangle (1.0), a second overlapping
//!   rectangle (+0.5), a disk (0.75) and a small disk (−0.5, a hole in the first rectangle).
//! - [`random_ellipse_phantom`]: seeded random ellipse phantoms (training images, not the test phantom).
//! - [`add_gaussian_noise`] / [`Rng`]: seeded i.i.d. `N(0, σ²)` noise (SplitMix64 + Box–Muller),
//!   reproducible from the seed on every platform.

use crate::error::{Error, Result};
use crate::image::Image;

/// One ellipse of the phantom: intensity `A`, semi-axes `a` (along `x` before rotation) and `b`,
/// centre `(x₀, y₀)`, rotation `φ` in degrees (counter-clockwise).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ellipse {
    /// Additive intensity `A`.
    pub value: f64,
    /// Semi-axis `a`.
    pub a: f64,
    /// Semi-axis `b`.
    pub b: f64,
    /// Centre `x₀`.
    pub x0: f64,
    /// Centre `y₀`.
    pub y0: f64,
    /// Rotation `φ` (degrees).
    pub phi_deg: f64,
}

impl Ellipse {
    /// Whether `(x, y)` lies in the closed ellipse:
    /// `((x−x₀)cos φ + (y−y₀)sin φ)²/a² + (−(x−x₀)sin φ + (y−y₀)cos φ)²/b² ≤ 1`.
    pub fn contains(&self, x: f64, y: f64) -> bool {
        let (s, c) = self.phi_deg.to_radians().sin_cos();
        let (dx, dy) = (x - self.x0, y - self.y0);
        let u = dx * c + dy * s;
        let v = -dx * s + dy * c;
        (u / self.a).powi(2) + (v / self.b).powi(2) <= 1.0
    }
}

/// MATLAB's `'Modified Shepp-Logan'` table (Toft 1996): `A, a, b, x₀, y₀, φ`.
pub const MODIFIED_SHEPP_LOGAN: [Ellipse; 10] = [
    Ellipse { value: 1.0, a: 0.69, b: 0.92, x0: 0.0, y0: 0.0, phi_deg: 0.0 },
    Ellipse { value: -0.8, a: 0.6624, b: 0.874, x0: 0.0, y0: -0.0184, phi_deg: 0.0 },
    Ellipse { value: -0.2, a: 0.11, b: 0.31, x0: 0.22, y0: 0.0, phi_deg: -18.0 },
    Ellipse { value: -0.2, a: 0.16, b: 0.41, x0: -0.22, y0: 0.0, phi_deg: 18.0 },
    Ellipse { value: 0.1, a: 0.21, b: 0.25, x0: 0.0, y0: 0.35, phi_deg: 0.0 },
    Ellipse { value: 0.1, a: 0.046, b: 0.046, x0: 0.0, y0: 0.1, phi_deg: 0.0 },
    Ellipse { value: 0.1, a: 0.046, b: 0.046, x0: 0.0, y0: -0.1, phi_deg: 0.0 },
    Ellipse { value: 0.1, a: 0.046, b: 0.023, x0: -0.08, y0: -0.605, phi_deg: 0.0 },
    Ellipse { value: 0.1, a: 0.023, b: 0.023, x0: 0.0, y0: -0.606, phi_deg: 0.0 },
    Ellipse { value: 0.1, a: 0.023, b: 0.046, x0: 0.06, y0: -0.605, phi_deg: 0.0 },
];

/// The point `(x, y) ∈ [−1, 1]²` at the centre of pixel `(i, j)`.
pub fn pixel_centre(rows: usize, cols: usize, i: usize, j: usize) -> (f64, f64) {
    ((2 * j + 1) as f64 / cols as f64 - 1.0, 1.0 - (2 * i + 1) as f64 / rows as f64)
}

/// The sum of the ellipses' intensities at each pixel centre.
pub fn ellipses(rows: usize, cols: usize, table: &[Ellipse]) -> Result<Image> {
    Image::from_fn(rows, cols, |i, j| {
        let (x, y) = pixel_centre(rows, cols, i, j);
        table.iter().filter(|e| e.contains(x, y)).map(|e| e.value).sum()
    })
}

/// The modified Shepp–Logan phantom, `rows × cols` (see the [module docs](self)).
pub fn shepp_logan(rows: usize, cols: usize) -> Result<Image> {
    ellipses(rows, cols, &MODIFIED_SHEPP_LOGAN)
}

/// A piecewise-constant phantom: 0 background; `+1.0` on `[−0.6, 0.1] × [−0.5, 0.4]`; `+0.5` on
/// `[−0.1, 0.6] × [−0.7, −0.1]`; `+0.75` on the disk of radius 0.25 at `(0.45, 0.5)`; `−0.5` on
/// the disk of radius 0.12 at `(−0.35, 0.15)` (rectangles as `[x₀, x₁] × [y₀, y₁]`).
pub fn piecewise_constant(rows: usize, cols: usize) -> Result<Image> {
    let rect = |x: f64, y: f64, x0: f64, x1: f64, y0: f64, y1: f64| x >= x0 && x <= x1 && y >= y0 && y <= y1;
    let disk = |x: f64, y: f64, cx: f64, cy: f64, r: f64| (x - cx).powi(2) + (y - cy).powi(2) <= r * r;
    Image::from_fn(rows, cols, |i, j| {
        let (x, y) = pixel_centre(rows, cols, i, j);
        let mut v = 0.0;
        if rect(x, y, -0.6, 0.1, -0.5, 0.4) {
            v += 1.0;
        }
        if rect(x, y, -0.1, 0.6, -0.7, -0.1) {
            v += 0.5;
        }
        if disk(x, y, 0.45, 0.5, 0.25) {
            v += 0.75;
        }
        if disk(x, y, -0.35, 0.15, 0.12) {
            v -= 0.5;
        }
        v
    })
}

/// A random phantom of ellipses for training (bilevel learning of [`crate::bilevel`]), built as
/// the Shepp–Logan phantom is: a rim ellipse of intensity 1 (semi-axes `a ∈ [0.6, 0.85]`,
/// `b ∈ [0.75, 0.95]`, rotation within ±15°), its interior lowered by `U[0.6, 0.85]` (a thickness
/// of 3–8 % of the axes), and 4–8 inner ellipses of intensity `±U[0.1, 0.3]` (sign even odds),
/// semi-axes `U[0.03, 0.25]`, centres uniform in the disk of radius 0.45, rotation `U[0°, 180°)`;
/// the sum clamped to `[0, 1]`. Everything is drawn from [`Rng::new(seed)`](Rng::new).
pub fn random_ellipse_phantom(rows: usize, cols: usize, seed: u64) -> Result<Image> {
    let mut rng = Rng::new(seed);
    let mut u = |lo: f64, hi: f64| lo + (hi - lo) * rng.uniform();
    let (a, b, phi) = (u(0.6, 0.85), u(0.75, 0.95), u(-15.0, 15.0));
    let (inner, thick) = (u(0.6, 0.85), u(0.03, 0.08));
    let mut table = vec![
        Ellipse { value: 1.0, a, b, x0: 0.0, y0: 0.0, phi_deg: phi },
        Ellipse { value: -inner, a: a * (1.0 - thick), b: b * (1.0 - thick), x0: 0.0, y0: 0.0, phi_deg: phi },
    ];
    let count = 4 + (u(0.0, 5.0) as usize).min(4);
    for _ in 0..count {
        let sign = if u(0.0, 1.0) < 0.5 { -1.0 } else { 1.0 };
        let (r, t) = (0.45 * u(0.0, 1.0).sqrt(), u(0.0, std::f64::consts::TAU));
        table.push(Ellipse {
            value: sign * u(0.1, 0.3),
            a: u(0.03, 0.25),
            b: u(0.03, 0.25),
            x0: r * t.cos(),
            y0: r * t.sin(),
            phi_deg: u(0.0, 180.0),
        });
    }
    let mut img = ellipses(rows, cols, &table)?;
    img.data.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
    Ok(img)
}

/// SplitMix64 with Box–Muller normals: small, seeded, reproducible.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
    spare: Option<f64>,
}

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self { state: seed, spare: None }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal `N(0, 1)` (Box–Muller, both values of each pair used).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let u1 = 1.0 - self.uniform(); // (0, 1]: ln is finite
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (2.0 * std::f64::consts::PI * u2).sin_cos();
        self.spare = Some(r * s);
        r * c
    }
}

/// `image + σ·z` with `z` i.i.d. standard normal from [`Rng::new(seed)`](Rng::new), drawn in
/// pixel order; `Err` unless `σ` is finite and `≥ 0`.
pub fn add_gaussian_noise(image: &Image, sigma: f64, seed: u64) -> Result<Image> {
    if !(sigma.is_finite() && sigma >= 0.0) {
        return Err(Error::Option { name: "sigma", why: format!("must be finite and ≥ 0, got {sigma}") });
    }
    let mut rng = Rng::new(seed);
    let data = image.data.iter().map(|v| v + sigma * rng.normal()).collect();
    Image::new(image.rows, image.cols, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value at the pixel whose centre is nearest `(x, y)`.
    fn at(im: &Image, x: f64, y: f64) -> f64 {
        let j = (((x + 1.0) / 2.0 * im.cols as f64) as usize).min(im.cols - 1);
        let i = (((1.0 - y) / 2.0 * im.rows as f64) as usize).min(im.rows - 1);
        im.get(i, j)
    }

    #[test]
    fn shepp_logan_values() {
        for (r, c) in [(256, 256), (255, 201)] {
            let p = shepp_logan(r, c).unwrap();
            let close = |v: f64, w: f64| (v - w).abs() < 1e-12;
            assert!(close(at(&p, 0.0, 0.0), 0.2), "brain");
            assert!(close(at(&p, 0.0, 0.35), 0.3), "large top ellipse");
            assert!(close(at(&p, 0.0, 0.075), 0.3), "small disk");
            assert!(close(at(&p, 0.0, 0.9), 1.0), "skull");
            assert!(close(at(&p, 0.22, 0.0), 0.0), "right ventricle");
            assert!(close(at(&p, -0.22, 0.0), 0.0), "left ventricle");
            assert!(close(at(&p, 0.95, 0.95), 0.0), "background");
            assert!(p.data.iter().all(|&v| (-1e-12..=1.0 + 1e-12).contains(&v)));
            // Exactly the contrast levels of the modified phantom.
            let levels = [0.0, 0.1, 0.2, 0.3, 0.4, 1.0];
            assert!(p.data.iter().all(|&v| levels.iter().any(|&l| close(v, l))));
        }
    }

    #[test]
    fn piecewise_constant_values() {
        let p = piecewise_constant(100, 120).unwrap();
        assert_eq!(at(&p, -0.9, -0.9), 0.0);
        assert_eq!(at(&p, -0.5, -0.3), 1.0);
        assert_eq!(at(&p, 0.0, -0.3), 1.5);
        assert_eq!(at(&p, 0.4, -0.5), 0.5);
        assert_eq!(at(&p, 0.45, 0.5), 0.75);
        assert_eq!(at(&p, -0.35, 0.15), 0.5);
    }

    #[test]
    fn noise_statistics_and_seed() {
        let z = Image::zeros(100, 100).unwrap();
        let a = add_gaussian_noise(&z, 0.3, 42).unwrap();
        let b = add_gaussian_noise(&z, 0.3, 42).unwrap();
        let c = add_gaussian_noise(&z, 0.3, 43).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let n = a.len() as f64;
        let mean = a.data.iter().sum::<f64>() / n;
        let sd = (a.data.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        assert!(mean.abs() < 4.0 * 0.3 / n.sqrt(), "mean {mean}");
        assert!((sd - 0.3).abs() < 0.3 * 0.03, "sd {sd}");
        assert!(matches!(add_gaussian_noise(&z, -1.0, 0), Err(Error::Option { .. })));
    }
}
