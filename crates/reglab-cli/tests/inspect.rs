//! End-to-end tests of `reglab inspect`: a real (tiny) training run, hand-made checkpoints with
//! known spectra, and the bad-input paths (exit code 2, one line).

mod common;

use common::{assert_input_error, run_args as run, stderr, stdout, write_safetensors as write};
use reglab_core::linalg::{seeded_unit_vector, top_singular};

fn inspect_json(args: &[&str]) -> Vec<serde_json::Value> {
    let mut a = vec!["inspect", "--json"];
    a.extend_from_slice(args);
    let o = run(&a);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap().as_array().unwrap().clone()
}

const KEYS: [&str; 11] = [
    "name",
    "shape",
    "matrix",
    "sigma_max",
    "top_singular_values",
    "effective_rank",
    "orthogonality_gap",
    "sparsity",
    "frobenius_norm",
    "distance_to_init",
    "non_finite",
];

#[test]
fn inspect_a_trained_run_against_its_init() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = run(&["train", "--data", "digits", "--model", "mlp:16", "--epochs", "1", "--seed", "0", "-q", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let model = out.join("model.safetensors");
    let init = out.join("init.safetensors");
    let (ms, is) = (model.to_str().unwrap(), init.to_str().unwrap());
    let rows = inspect_json(&[ms, "--init", is]);
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["layers.0.bias", "layers.0.weight", "layers.1.bias", "layers.1.weight"]);
    for r in &rows {
        let keys: Vec<&str> = r.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        let mut want = KEYS.to_vec();
        want.sort();
        let mut got = keys.clone();
        got.sort();
        assert_eq!(got, want, "stable key set");
        assert_eq!(r["non_finite"], 0);
        assert!(r["distance_to_init"].as_f64().unwrap() > 0.0, "{r}");
    }
    let shape = |i: usize| -> Vec<u64> { rows[i]["shape"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect() };
    assert_eq!(shape(1), [16, 64]);
    assert_eq!(shape(3), [10, 16]);
    assert_eq!(shape(0), [16]);
    assert!(rows[0]["sigma_max"].is_null() && rows[0]["effective_rank"].is_null() && rows[0]["matrix"].is_null());
    // σ_max and the norms against independent computations on the file's tensors
    let tensors = reglab_train::tensorfile::read(&model).unwrap();
    let inits = reglab_train::tensorfile::read(&init).unwrap();
    for (i, t) in tensors.iter().enumerate() {
        let r = &rows[i];
        let norm: f64 = t.data.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt();
        assert!((r["frobenius_norm"].as_f64().unwrap() - norm).abs() < 1e-9 * norm);
        let d: f64 = t.data.iter().zip(&inits[i].data).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum::<f64>().sqrt();
        assert!((r["distance_to_init"].as_f64().unwrap() - d).abs() < 1e-9 * d);
        if t.shape.len() == 2 {
            let m = t.view().matrix();
            let (s, _, _) = top_singular(m, &seeded_unit_vector(m.cols, "test"), 1e-14, 100_000);
            let got = r["sigma_max"].as_f64().unwrap();
            assert!((got - s).abs() < 1e-7 * s, "{}: {got} vs power iteration {s}", t.name);
            let top: Vec<f64> = r["top_singular_values"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
            assert_eq!(top.len(), 5);
            assert_eq!(top[0], got);
            assert!(top.windows(2).all(|w| w[0] >= w[1]));
            let er = r["effective_rank"].as_f64().unwrap();
            assert!(er > 1.0 && er <= t.shape[0].min(t.shape[1]) as f64, "{er}");
            assert_eq!(r["matrix"], serde_json::json!(t.shape));
        }
    }
    // a file is its own init: every distance is 0
    for r in inspect_json(&[ms, "--init", ms]) {
        assert_eq!(r["distance_to_init"].as_f64(), Some(0.0), "{r}");
    }
    // without --init: null distances
    assert!(inspect_json(&[ms]).iter().all(|r| r["distance_to_init"].is_null()));
    // the table: a header and one row per tensor
    let o = run(&["inspect", ms, "--init", is]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines.len(), 6, "{s}");
    for h in ["tensor", "shape", "sigma_max", "eff_rank", "orth_gap", "sparsity", "norm", "dist_init"] {
        assert!(lines[0].contains(h), "{h} in {}", lines[0]);
    }
    assert!(lines[2].starts_with("layers.0.weight") && lines[2].contains("16×64"), "{}", lines[2]);
    // the footer: zeros over the weights (rank ≥ 2), counted independently
    let (z, n) =
        tensors.iter().filter(|t| t.shape.len() >= 2).fold((0, 0), |(z, n), t| (z + t.data.iter().filter(|&&x| x == 0.0).count(), n + t.data.len()));
    assert_eq!(n, 16 * 64 + 10 * 16);
    assert_eq!(lines[5], format!("weights (rank ≥ 2): {z} of {n} entries are 0, sparsity {:.4}", z as f64 / n as f64));
}

#[test]
fn a_diagonal_matrix_gives_its_known_singular_values() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("diag.safetensors");
    let d = [4.0f32, -3.0, 2.0, 1.0, 0.5, 0.25];
    let mut w = vec![0.0f32; 36];
    for (i, v) in d.iter().enumerate() {
        w[i * 6 + i] = *v;
    }
    // a conv kernel [2, 1, 2, 2] = [[3, 0, 0, 0], [0, 0, 0, 2]] read as the 2×4 matrix
    let conv = vec![3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0];
    write(&p, &[("fc.weight", vec![6, 6], w), ("fc.bias", vec![6], vec![0.0, 1.0, 0.0, 0.0, 0.0, 0.0]), ("conv.weight", vec![2, 1, 2, 2], conv)]);
    let rows = inspect_json(&[p.to_str().unwrap()]);
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["conv.weight", "fc.bias", "fc.weight"]);
    let fc = &rows[2];
    let top: Vec<f64> = fc["top_singular_values"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    for (got, want) in top.iter().zip([4.0, 3.0, 2.0, 1.0, 0.5]) {
        assert!((got - want).abs() < 1e-12, "{top:?}");
    }
    assert_eq!(top.len(), 5);
    assert!((fc["sigma_max"].as_f64().unwrap() - 4.0).abs() < 1e-12);
    let sum: f64 = d.iter().map(|v| v.abs() as f64).sum();
    let h: f64 = d.iter().map(|v| v.abs() as f64 / sum).map(|p| -p * p.ln()).sum();
    assert!((fc["effective_rank"].as_f64().unwrap() - h.exp()).abs() < 1e-12);
    let gap: f64 = d.iter().map(|v| ((v * v) as f64 - 1.0).powi(2)).sum::<f64>() / 6.0;
    assert!((fc["orthogonality_gap"].as_f64().unwrap() - gap.sqrt()).abs() < 1e-12);
    assert_eq!(fc["sparsity"].as_f64().unwrap(), 30.0 / 36.0);
    assert_eq!(rows[1]["sparsity"].as_f64().unwrap(), 5.0 / 6.0);
    assert_eq!(rows[1]["frobenius_norm"].as_f64().unwrap(), 1.0);
    let conv = &rows[0];
    assert_eq!(conv["matrix"], serde_json::json!([2, 4]));
    assert_eq!(conv["top_singular_values"], serde_json::json!([3.0, 2.0]));
}

#[test]
fn help_documents_the_json_keys() {
    let o = run(&["inspect", "--help"]);
    assert!(o.status.success());
    let s = stdout(&o);
    for k in KEYS {
        assert!(s.contains(k), "`{k}` missing from the help:\n{s}");
    }
}

#[test]
fn inspect_errors_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    assert_input_error(&run(&["inspect", "/nonexistent/model.safetensors"]), "/nonexistent/model.safetensors");
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"this is not a safetensors file").unwrap();
    assert_input_error(&run(&["inspect", junk.to_str().unwrap()]), "junk.safetensors");
    let w = dir.path().join("w.safetensors");
    write(&w, &[("fc.weight", vec![2, 3], vec![1.0; 6])]);
    let ws = w.to_str().unwrap();
    assert_input_error(&run(&["inspect", ws, "--init", junk.to_str().unwrap()]), "junk.safetensors");
    assert_input_error(&run(&["inspect", ws, "--init", "/nonexistent/init.safetensors"]), "/nonexistent/init.safetensors");
    let bad = dir.path().join("bad.safetensors");
    write(&bad, &[("fc.weight", vec![3, 2], vec![1.0; 6])]);
    assert_input_error(&run(&["inspect", ws, "--init", bad.to_str().unwrap()]), "shape");
    let other = dir.path().join("other.safetensors");
    write(&other, &[("x", vec![1], vec![1.0])]);
    assert_input_error(&run(&["inspect", ws, "--init", other.to_str().unwrap()]), "shares no tensor name");
    let empty = dir.path().join("empty.safetensors");
    write(&empty, &[]);
    assert_input_error(&run(&["inspect", empty.to_str().unwrap()]), "no tensor");
    let o = run(&["inspect"]);
    assert_eq!(o.status.code(), Some(2));
}
