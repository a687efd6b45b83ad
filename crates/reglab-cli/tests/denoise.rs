//! End-to-end tests of `reglab denoise`.

mod common;

use common::{assert_input_error_all, run_args, stderr, stdout};
use std::path::Path;

const N: usize = 32;

/// A piecewise-constant clean image in [0.2, 0.8] and a seeded noisy copy (σ ≈ 0.1, clamped).
fn clean_and_noisy() -> (Vec<f64>, Vec<f64>) {
    let clean: Vec<f64> = (0..N * N)
        .map(|k| {
            let (i, j) = (k / N, k % N);
            if (8..24).contains(&i) && (8..24).contains(&j) {
                0.8
            } else if i > j + 10 {
                0.5
            } else {
                0.2
            }
        })
        .collect();
    // A small LCG with a Box–Muller transform: deterministic, no dependency.
    let mut s: u64 = 12345;
    let mut unif = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let noisy = clean
        .iter()
        .map(|&c| {
            let g = (-2.0 * unif().ln()).sqrt() * (2.0 * std::f64::consts::PI * unif()).cos();
            (c + 0.1 * g).clamp(0.0, 1.0)
        })
        .collect();
    (clean, noisy)
}

/// Write `v` (in [0, 1]) as an 8-bit grayscale N×N PNG with the png crate; return the quantized values.
fn write_gray8(path: &Path, v: &[f64]) -> Vec<f64> {
    let bytes: Vec<u8> = v.iter().map(|x| (x * 255.0).round() as u8).collect();
    let f = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(f), N as u32, N as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().unwrap();
    w.write_image_data(&bytes).unwrap();
    w.finish().unwrap();
    bytes.iter().map(|&b| f64::from(b) / 255.0).collect()
}

/// Read a grayscale PNG with the png crate: (width, height, bit depth, values in [0, 1]).
fn read_gray(path: &Path) -> (u32, u32, png::BitDepth, Vec<f64>) {
    let f = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut r = png::Decoder::new(f).read_info().unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let v = match info.bit_depth {
        png::BitDepth::Eight => buf.iter().map(|&b| f64::from(b) / 255.0).collect(),
        png::BitDepth::Sixteen => buf.chunks(2).map(|c| f64::from(u16::from_be_bytes([c[0], c[1]])) / 65535.0).collect(),
        d => panic!("bit depth {d:?}"),
    };
    (info.width, info.height, info.bit_depth, v)
}

fn psnr(x: &[f64], clean: &[f64]) -> f64 {
    let mse = x.iter().zip(clean).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / x.len() as f64;
    10.0 * (1.0 / mse).log10()
}

#[test]
fn denoise_raises_psnr_and_writes_a_png_of_the_same_size() {
    let dir = tempfile::tempdir().unwrap();
    let (clean, noisy) = clean_and_noisy();
    let input = dir.path().join("noisy.png");
    let noisy_q = write_gray8(&input, &noisy);
    for (bits, depth) in [("8", png::BitDepth::Eight), ("16", png::BitDepth::Sixteen)] {
        let out = dir.path().join(format!("out{bits}.png"));
        let o = run_args(&["denoise", input.to_str().unwrap(), "--reg", "tv=0.1", "--iters", "200", "--bits", bits, "--out", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
        let s = stdout(&o);
        for w in ["iterations:", "objective:", "converged:", "seconds:"] {
            assert!(s.contains(w), "{w} in {s}");
        }
        let (w, h, d, x) = read_gray(&out);
        assert_eq!((w, h, d), (N as u32, N as u32, depth));
        let (before, after) = (psnr(&noisy_q, &clean), psnr(&x, &clean));
        assert!(after > before + 3.0, "PSNR {before:.2} → {after:.2} dB");
    }
    // Only the input and the two outputs: no temporary files left.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
}

#[test]
fn denoise_bad_input_exits_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, noisy) = clean_and_noisy();
    let good = dir.path().join("noisy.png");
    write_gray8(&good, &noisy);
    let text = dir.path().join("text.png");
    std::fs::write(&text, "not a png").unwrap();
    let out = dir.path().join("out.png");
    let (g, t, o) = (good.to_str().unwrap(), text.to_str().unwrap(), out.to_str().unwrap());
    let missing = dir.path().join("missing.png");
    let no_dir = dir.path().join("no-such-dir").join("out.png");
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec![missing.to_str().unwrap(), "--reg", "tv=0.1", "--out", o], vec!["missing.png"]),
        (vec![t, "--reg", "tv=0.1", "--out", o], vec!["text.png", "not a PNG"]),
        (vec![g, "--reg", "l1=0.1", "--out", o], vec!["l1", "tv"]),
        (vec![g, "--reg", "tv", "--out", o], vec!["tv=0.1"]),
        (vec![g, "--reg", "tv=-0.1", "--out", o], vec!["> 0"]),
        (vec![g, "--reg", "tv=abc", "--out", o], vec!["abc"]),
        (vec![g, "--reg", "tv=0.1", "--bits", "12", "--out", o], vec!["--bits"]),
        (vec![g, "--reg", "tv=0.1", "--out", no_dir.to_str().unwrap()], vec!["no-such-dir", "does not exist"]),
    ];
    for (args, want) in cases {
        let mut a = vec!["denoise"];
        a.extend(args);
        let r = run_args(&a);
        assert_input_error_all(&r, &want);
        assert!(!out.exists() && !no_dir.exists(), "{a:?} wrote output");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "{a:?} left a file");
    }
}
