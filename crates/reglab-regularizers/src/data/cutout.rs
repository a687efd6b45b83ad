//! `cutout=L[:holes=1][:extent=half|full]`: zero a square patch of each training image.
//!
//! ## What it does
//! For each image of a batch (shape `[C, H, W]`, or `[H, W]`) and each of `holes` patches: draw a
//! centre `(c_y, c_x)` uniformly over all `H·W` pixels, and set to 0 the rows
//! `[clip(c_y − h, 0, H), clip(c_y + h, 0, H))` and the columns `[clip(c_x − h, 0, W),
//! clip(c_x + h, 0, W))` in every channel, with `h = ⌊L/2⌋` (`extent=half`, the default: a square
//! of side `L` for even `L`, `L − 1` for odd, as the official code's current version) or `h = L`
//! (`extent=full`: the repository's first version, a `2L` square). The centre can lie near the
//! border, so the patch may be cut off by it (the paper found that important). Inputs here are
//! in `[0, 1]`, not mean-normalized: the hole is 0, the background of MNIST and Fashion-MNIST
//! (the official code zeroes after normalization, i.e. fills with the dataset mean).
//!
//! ## Paper
//! DeVries & Taylor, "Improved Regularization of Convolutional Neural Networks with Cutout",
//! arXiv 1708.04552, 2017 (code: uoguelph-mlrg/Cutout).

use rand::Rng;
use reglab_core::batch::{BatchMut, BatchTransform, LabelMix};
use reglab_core::{Error, Result, Spec};

/// Cutout. See the module documentation.
#[derive(Debug, Clone)]
pub struct Cutout {
    length: usize,
    holes: usize,
    full: bool,
}

impl Cutout {
    /// Build from a spec (`cutout=L`, `L` a whole number ≥ 1).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut o = spec.options();
        let holes = o.usize("holes", 1)?;
        let full = o.choice("extent", &["half", "full"], "half")? == "full";
        o.finish()?;
        let l = spec.strength;
        if l < 1.0 || l.fract() != 0.0 {
            return Err(Error::Spec { spec: spec.raw().into(), why: format!("the patch side L = {l} must be a whole number of pixels ≥ 1") });
        }
        if holes == 0 {
            return Err(Error::Spec { spec: spec.raw().into(), why: "holes must be ≥ 1".into() });
        }
        Ok(Self { length: l as usize, holes, full })
    }

    /// The half-side `h`.
    fn half(&self) -> usize {
        if self.full { self.length } else { self.length / 2 }
    }

    /// The `[H, W]` 0/1 mask of one image with holes centred at `centres`.
    pub fn mask(&self, h: usize, w: usize, centres: &[(usize, usize)]) -> Vec<f32> {
        let mut m = vec![1.0f32; h * w];
        let r = self.half();
        for &(cy, cx) in centres {
            let (y1, y2) = (cy.saturating_sub(r), (cy + r).min(h));
            let (x1, x2) = (cx.saturating_sub(r), (cx + r).min(w));
            for y in y1..y2 {
                m[y * w + x1..y * w + x2].iter_mut().for_each(|v| *v = 0.0);
            }
        }
        m
    }
}

/// `(H, W)` of an example shape `[C, H, W]` or `[H, W]`.
fn image_dims(shape: &[usize]) -> Option<(usize, usize)> {
    match shape {
        [_, h, w] | [h, w] => Some((*h, *w)),
        _ => None,
    }
}

impl BatchTransform for Cutout {
    fn name(&self) -> &'static str {
        "cutout"
    }

    fn check_shape(&self, shape: &[usize]) -> Result<()> {
        image_dims(shape).map(drop).ok_or_else(|| Error::Shape {
            tensor: "cutout".into(),
            why: format!("examples of shape {shape:?} are not images ([C, H, W] or [H, W]): cutout needs a CNN input"),
        })
    }

    fn apply(&self, b: &mut BatchMut<'_>, rng: &mut rand_chacha::ChaCha8Rng) -> Result<Option<LabelMix>> {
        self.check_shape(b.example_shape)?;
        let (h, w) = image_dims(b.example_shape).expect("checked");
        let len = b.example_len();
        let channels = len / (h * w);
        for i in 0..b.n {
            let centres: Vec<(usize, usize)> = (0..self.holes).map(|_| (rng.random_range(0..h), rng.random_range(0..w))).collect();
            let m = self.mask(h, w, &centres);
            let x = &mut b.x[i * len..(i + 1) * len];
            for c in 0..channels {
                for (v, &k) in x[c * h * w..(c + 1) * h * w].iter_mut().zip(&m) {
                    *v *= k;
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn cutout(s: &str) -> Cutout {
        Cutout::from_spec(&Spec::parse(s).unwrap()).unwrap()
    }

    /// Zeros of a mask as (rows, cols) ranges: the bounding box, and the count.
    fn zero_box(m: &[f32], w: usize) -> (usize, usize, usize, usize, usize) {
        let z: Vec<usize> = (0..m.len()).filter(|&i| m[i] == 0.0).collect();
        let (ys, xs): (Vec<usize>, Vec<usize>) = z.iter().map(|&i| (i / w, i % w)).unzip();
        (*ys.iter().min().unwrap(), *ys.iter().max().unwrap() + 1, *xs.iter().min().unwrap(), *xs.iter().max().unwrap() + 1, z.len())
    }

    #[test]
    fn masks_match_the_official_formula_at_fixed_centres() {
        // The official Cutout.__call__ (uoguelph-mlrg/Cutout util/cutout.py, 02f333a4, the
        // `±length` version) run with np.random.randint patched to return these centres, on a
        // 1×28×28 image of ones, length 8: the zeroed boxes [y1, y2) × [x1, x2) it produced.
        let full = cutout("cutout=8:extent=full");
        for ((cy, cx), want) in [((14, 14), (6, 22, 6, 22)), ((0, 0), (0, 8, 0, 8)), ((27, 3), (19, 28, 0, 11)), ((5, 27), (0, 13, 19, 28))] {
            let (y1, y2, x1, x2, n) = zero_box(&full.mask(28, 28, &[(cy, cx)]), 28);
            assert_eq!((y1, y2, x1, x2), want, "centre ({cy}, {cx})");
            assert_eq!(n, (y2 - y1) * (x2 - x1), "a full rectangle");
        }
        // current version: ⌊L/2⌋ each side, side L (even) or L − 1 (odd), clipped at the border
        let half = cutout("cutout=8");
        assert_eq!(zero_box(&half.mask(28, 28, &[(14, 14)]), 28), (10, 18, 10, 18, 64));
        assert_eq!(zero_box(&half.mask(28, 28, &[(1, 27)]), 28), (0, 5, 23, 28, 25));
        assert_eq!(zero_box(&cutout("cutout=7").mask(28, 28, &[(14, 14)]), 28), (11, 17, 11, 17, 36));
    }

    #[test]
    fn every_channel_of_each_image_loses_the_same_square_and_seeds_repeat() {
        let shape = [2usize, 10, 10];
        let mut x = vec![1.0f32; 3 * 200];
        let labels = [0, 1, 2];
        let c = cutout("cutout=4");
        let mut b = BatchMut { x: &mut x, n: 3, example_shape: &shape, labels: &labels };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        assert!(c.apply(&mut b, &mut rng).unwrap().is_none());
        for i in 0..3 {
            let img = &x[i * 200..(i + 1) * 200];
            assert_eq!(img[..100], img[100..], "channels share the mask");
            let zeros = img[..100].iter().filter(|&&v| v == 0.0).count();
            assert!(zeros > 0 && zeros <= 16, "{zeros}");
        }
        let mut y = vec![1.0f32; 600];
        let mut b = BatchMut { x: &mut y, n: 3, example_shape: &shape, labels: &labels };
        c.apply(&mut b, &mut rand_chacha::ChaCha8Rng::seed_from_u64(1)).unwrap();
        assert_eq!(x, y);
    }

    #[test]
    fn centres_are_uniform_so_patches_cross_the_border() {
        // over many draws on 10×10 with L = 4 (rows [c − 2, c + 2) clipped): pixel (0, 0) is
        // zeroed when c_y, c_x ≤ 2, pixel (5, 5) when c_y, c_x ∈ 4..=7: the centre is uniform
        // over all pixels, so patches at the border are cut off by it
        let c = cutout("cutout=4");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let (mut corner, mut middle) = (0, 0);
        for _ in 0..4000 {
            let m = c.mask(10, 10, &[(rng.random_range(0..10), rng.random_range(0..10))]);
            corner += (m[0] == 0.0) as usize;
            middle += (m[55] == 0.0) as usize;
        }
        // P(corner) = (3/10)² = 0.09, P(middle) = (4/10)² = 0.16
        assert!((corner as f64 / 4000.0 - 0.09).abs() < 0.015, "{corner}");
        assert!((middle as f64 / 4000.0 - 0.16).abs() < 0.02, "{middle}");
    }

    #[test]
    fn bad_specs_and_shapes_are_errors() {
        for s in ["cutout=0", "cutout=2.5", "cutout=4:holes=0", "cutout=4:extent=big", "cutout=4:k=1"] {
            assert!(Cutout::from_spec(&Spec::parse(s).unwrap()).is_err(), "{s}");
        }
        assert!(cutout("cutout=4").check_shape(&[784]).unwrap_err().to_string().contains("not images"));
        assert!(cutout("cutout=4").check_shape(&[1, 28, 28]).is_ok());
    }
}
