//! The BERT encoder against the PyTorch reference: all-MiniLM-L6-v2's sentence embeddings of
//! 24 fixed sentences (1 to 256 tokens; `tests/fixtures/minilm_reference.json`, written by
//! `bench/compare/minilm_reference.py` with transformers and sentence-transformers) to 1e-4
//! absolute, one sentence at a time and as one padded batch. Needs `$REGLAB_DATA/minilm`
//! (skipped without it, except in CI).

use burn::tensor::Device;
use reglab_train::model::bert::{BertEncoder, batch_tensors};
use std::path::PathBuf;

fn model_dir() -> Option<PathBuf> {
    reglab_core::testing::shared_data("minilm/model.safetensors").map(|p| p.parent().expect("a folder").to_path_buf())
}

struct Reference {
    text: String,
    ids: Vec<u32>,
    embedding: Vec<f32>,
}

fn reference() -> Vec<Reference> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/minilm_reference.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Reference {
            text: s["text"].as_str().unwrap().to_string(),
            ids: s["ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect(),
            embedding: s["embedding"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect(),
        })
        .collect()
}

fn rows(t: burn::tensor::Tensor<2>) -> Vec<Vec<f32>> {
    let [b, h] = t.dims();
    let d: Vec<f32> = t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
    (0..b).map(|i| d[i * h..(i + 1) * h].to_vec()).collect()
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn sentence_embeddings_match_the_pytorch_reference() {
    let Some(dir) = model_dir() else { return };
    let device = Device::flex();
    let (enc, config) = BertEncoder::load(&dir, &device).unwrap();
    assert_eq!((config.hidden_size, config.num_hidden_layers, config.num_attention_heads), (384, 6, 12));
    let refs = reference();
    assert!(refs.len() >= 20 && refs.iter().any(|r| r.ids.len() == 256) && refs.iter().any(|r| r.ids.len() < 6));
    // one at a time
    let mut worst = 0.0f32;
    for r in &refs {
        let (ids, mask) = batch_tensors(std::slice::from_ref(&r.ids), 0, &device);
        let e = &rows(enc.embed(ids, mask))[0];
        let err = max_abs(e, &r.embedding);
        assert!(err < 1e-4, "{:?} ({} tokens): max |Δ| = {err}", r.text, r.ids.len());
        worst = worst.max(err);
    }
    // one padded batch: padding changes nothing
    let seqs: Vec<Vec<u32>> = refs.iter().map(|r| r.ids.clone()).collect();
    let (ids, mask) = batch_tensors(&seqs, 0, &device);
    for (e, r) in rows(enc.embed(ids, mask)).iter().zip(&refs) {
        let err = max_abs(e, &r.embedding);
        assert!(err < 1e-4, "batched {:?}: max |Δ| = {err}", r.text);
    }
    eprintln!("worst |Δ| one at a time: {worst:e}");
}

#[test]
fn a_config_that_does_not_match_the_weights_is_an_error_naming_the_tensor() {
    let Some(dir) = model_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(dir.join("model.safetensors"), tmp.path().join("model.safetensors")).unwrap();
    let config = std::fs::read_to_string(dir.join("config.json")).unwrap();
    let device = Device::flex();
    let load = |text: String| {
        std::fs::write(tmp.path().join("config.json"), text).unwrap();
        BertEncoder::load(tmp.path(), &device).expect_err("an error")
    };
    let e = load(config.replace("\"intermediate_size\": 1536", "\"intermediate_size\": 1024"));
    assert!(e.contains("encoder.layer.0.intermediate.dense.weight") && e.contains("[1536, 384]") && e.contains("[1024, 384]"), "{e}");
    let e = load(config.replace("\"num_hidden_layers\": 6", "\"num_hidden_layers\": 7"));
    assert!(e.contains("no tensor `encoder.layer.6."), "{e}");
    let e = load(config.replace("\"num_attention_heads\": 12", "\"num_attention_heads\": 7"));
    assert!(e.contains("config.json") && e.contains("num_attention_heads"), "{e}");
    let e = load(config.replace("\"gelu\"", "\"relu\""));
    assert!(e.contains("hidden_act"), "{e}");
    let e = load("{\"hidden_size\": 384".into());
    assert!(e.contains("config.json"), "{e}");
    // a truncated weights file
    std::fs::remove_file(tmp.path().join("model.safetensors")).unwrap();
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    std::fs::write(tmp.path().join("model.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    let e = load(config.clone());
    assert!(e.contains("model.safetensors") && e.contains("not a valid safetensors"), "{e}");
}
