//! The adversarial-training terms against their official codes' formulas: values and gradients
//! on fixed logits, from `tests/fixtures/adversarial_terms.json`, written by
//! `bench/compare/adversarial_terms_torch.py` (PyTorch autograd in float64 on float32 logits; see
//! that script for which line of which repository each block transcribes).

use reglab_core::Spec;
use reglab_regularizers::adversarial::{aaer::Aaer, arow::RobustKl, attack::cross_entropy_rows, elle::linearity_error_logits};
use serde_json::Value;

fn fixture() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/adversarial_terms.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn labels(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect()
}

fn close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * (1.0 + w.abs()), "{what}[{i}]: {g} vs official {w}");
    }
}

#[test]
fn elle_linearity_error_and_gradient_equal_the_official_formula() {
    let f = fixture();
    let (c, e) = (f["classes"].as_u64().unwrap() as usize, &f["elle"]);
    let (err, g) = linearity_error_logits(&f32s(&e["z"]), &labels(&e["y"]), &f64s(&e["alpha"]), c);
    close(&[err], &[e["value"].as_f64().unwrap()], 1e-12, "E_lin");
    close(&g, &f64s(&e["grad"]), 1e-12, "∂E_lin/∂z");
}

#[test]
fn arow_loss_and_gradients_equal_the_official_formula() {
    let f = fixture();
    let (c, a) = (f["classes"].as_u64().unwrap() as usize, &f["arow"]);
    let spec = format!("arow={}:eps=0.1:ls={}", a["lambda"], a["smoothing"]);
    let r = RobustKl::from_spec(&Spec::parse(&spec).unwrap()).unwrap();
    let (z, za, y) = (f32s(&a["z"]), f32s(&a["za"]), labels(&a["y"]));
    let n = y.len() as f64;
    // reglab adds its term R to the run's cross-entropy: CE + R is the official loss
    let (ce, gce) = cross_entropy_rows(&z, &y, c);
    let (ls, rob, gz, ga) = r.term(&z, &za, &y, c);
    let value = ce.iter().sum::<f64>() / n + ls + rob;
    let grad_z: Vec<f64> = gce.iter().zip(&gz).map(|(a, b)| a / n + b).collect();
    // the official code takes log(q + 1e-12) where reglab takes the exact log-softmax: relative
    // differences of order 1e-12/q, up to ~1e-8 for this fixture's smallest q (1.9·10⁻⁴)
    close(&[value], &[a["value"].as_f64().unwrap()], 1e-9, "ARoW loss");
    close(&grad_z, &f64s(&a["grad_z"]), 1e-9, "∂/∂z");
    close(&ga, &f64s(&a["grad_za"]), 1e-7, "∂/∂ẑ");
}

#[test]
fn aaer_loss_and_gradient_equal_the_official_formula() {
    let f = fixture();
    let (c, a) = (f["classes"].as_u64().unwrap() as usize, &f["aaer"]);
    let l = f64s(&a["lambdas"]);
    let spec = format!("aaer={}:eps=0.1:l2={}:l3={}", l[0], l[1], l[2]);
    let r = Aaer::from_spec(&Spec::parse(&spec).unwrap()).unwrap();
    let (z0, z, y) = (f32s(&a["z0"]), f32s(&a["z"]), labels(&a["y"]));
    let n = y.len() as f64;
    let (l0, _) = cross_entropy_rows(&z0, &y, c);
    let (ce, gce) = cross_entropy_rows(&z, &y, c);
    let t = r.term(&z0, &l0, &z, &y, c);
    assert_eq!(t.abnormal as u64, a["abnormal"].as_u64().unwrap());
    assert!(t.grad.iter().any(|g| *g != 0.0), "the fixture exercises the variation term's gradient");
    let value = ce.iter().sum::<f64>() / n + t.value;
    let grad: Vec<f64> = gce.iter().zip(&t.grad).map(|(a, b)| a / n + b).collect();
    close(&[value], &[a["value"].as_f64().unwrap()], 1e-12, "AAER loss");
    close(&grad, &f64s(&a["grad"]), 1e-12, "∂/∂z");
}
