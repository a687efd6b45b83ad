//! End-to-end tests of `reglab embed`: token ids and sentence embeddings of the reference
//! sentences (`crates/reglab-train/tests/fixtures/minilm_reference.json`, from the PyTorch
//! implementation) and bad input. Needs `$REGLAB_DATA/minilm` (skipped without it, except in CI).

mod common;

use common::{assert_input_error_all as assert_input_error, reglab, stdout};
use std::path::PathBuf;

fn model_dir() -> Option<PathBuf> {
    reglab_core::testing::shared_data("minilm/model.safetensors").map(|p| p.parent().expect("a folder").to_path_buf())
}

#[test]
fn embeddings_and_ids_match_the_reference() {
    let Some(model) = model_dir() else { return };
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../reglab-train/tests/fixtures/minilm_reference.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    // one sentence per line: the reference sentences without a line break
    let refs: Vec<&serde_json::Value> =
        v["sentences"].as_array().unwrap().iter().filter(|s| !s["text"].as_str().unwrap().contains(['\n', '\r'])).collect();
    assert!(refs.len() >= 20);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sentences.txt");
    let lines: Vec<&str> = refs.iter().map(|s| s["text"].as_str().unwrap()).collect();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    for batch in ["1", "7"] {
        let o = reglab().args(["embed", "--json", "--batch", batch, "--model"]).arg(&model).arg("--text").arg(&file).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let got: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(got.len(), refs.len());
        for (g, r) in got.iter().zip(&refs) {
            assert_eq!(g["text"], r["text"]);
            assert_eq!(g["ids"], r["ids"], "{}", r["text"]);
            let (a, b) = (g["embedding"].as_array().unwrap(), r["embedding"].as_array().unwrap());
            assert_eq!(a.len(), 384);
            let err = a.iter().zip(b).map(|(x, y)| (x.as_f64().unwrap() - y.as_f64().unwrap()).abs()).fold(0.0, f64::max);
            assert!(err < 1e-4, "{}: max |Δ| {err}", r["text"]);
        }
    }
    // the table form
    let o = reglab().args(["embed", "--model"]).arg(&model).arg("--text").arg(&file).output().unwrap();
    assert!(stdout(&o).lines().count() == refs.len() && stdout(&o).contains("Hello world."), "{}", stdout(&o));
}

#[test]
fn bad_input_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = d.join("good.txt");
    std::fs::write(&good, "one sentence\n").unwrap();
    let embed = |model: &std::path::Path, text: &std::path::Path, extra: &[&str]| {
        reglab().args(["embed", "--json", "--model"]).arg(model).arg("--text").arg(text).args(extra).output().unwrap()
    };
    // a folder without the model
    assert_input_error(&embed(d, &good, &[]), &["tokenizer.json"]);
    let Some(model) = model_dir() else { return };
    let empty_line = d.join("gap.txt");
    std::fs::write(&empty_line, "first\n\nthird\n").unwrap();
    assert_input_error(&embed(&model, &empty_line, &[]), &["gap.txt:2", "empty line"]);
    let none = d.join("none.txt");
    std::fs::write(&none, "").unwrap();
    assert_input_error(&embed(&model, &none, &[]), &["none.txt", "no sentences"]);
    let latin1 = d.join("latin1.txt");
    std::fs::write(&latin1, b"caf\xe9\n").unwrap();
    assert_input_error(&embed(&model, &latin1, &[]), &["latin1.txt", "UTF-8"]);
    assert_input_error(&embed(&model, &d.join("missing.txt"), &[]), &["missing.txt"]);
    assert_input_error(&embed(&model, &good, &["--max-length", "600"]), &["max length 600", "512"]);
    assert_input_error(&embed(&model, &good, &["--batch", "0"]), &["--batch"]);
    // a truncated weights file
    let broken = d.join("broken");
    std::fs::create_dir(&broken).unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(model.join(f), broken.join(f)).unwrap();
    }
    let bytes = std::fs::read(model.join("model.safetensors")).unwrap();
    std::fs::write(broken.join("model.safetensors"), &bytes[..1000]).unwrap();
    assert_input_error(&embed(&broken, &good, &[]), &["model.safetensors", "not a valid safetensors"]);
}
