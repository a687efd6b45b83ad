//! Fine-tuning the BERT classifier through the trainer: parameters named and laid out as in the
//! Hugging Face checkpoint (plus `classifier.*`), the same seed gives the same weights bit for
//! bit, a checkpoint restores exactly, an anchored penalty sees every parameter, and the loss
//! falls. Needs `$REGLAB_DATA/minilm` (skipped without it, except in CI).

use burn::tensor::Device;
use reglab_core::Dataset;
use reglab_train::model::{LayerKind, ModelSpec};
use reglab_train::optim::OptimSpec;
use reglab_train::trainer::{TrainConfig, Trainer};
use std::path::PathBuf;

fn model_dir() -> Option<PathBuf> {
    reglab_core::testing::shared_data("minilm/model.safetensors").map(|p| p.parent().expect("a folder").to_path_buf())
}

const MAX_LEN: usize = 32;

/// The reference sentences of at most `MAX_LEN` tokens as a 2-class data set: ids padded with 0,
/// label = whether the sentence has more than 10 tokens (learnable from the lengths alone).
fn sentences() -> Dataset {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/minilm_reference.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut features = Vec::new();
    let mut labels = Vec::new();
    for s in v["sentences"].as_array().unwrap() {
        let ids: Vec<f32> = s["ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as f32).collect();
        if ids.len() > MAX_LEN {
            continue;
        }
        labels.push(u8::from(ids.len() > 10));
        features.extend(ids.iter().copied().chain(std::iter::repeat_n(0.0, MAX_LEN - ids.len())));
    }
    Dataset { name: "sentences".into(), example_shape: vec![MAX_LEN], features, labels, classes: 2 }
}

fn config(dir: &std::path::Path, regs: &[&str], seed: u64) -> TrainConfig {
    TrainConfig {
        model: ModelSpec::Bert { dir: Some(dir.to_path_buf()), train: Default::default() },
        optim: OptimSpec::Adamw { weight_decay: 0.01 },
        lr: 1e-4,
        batch: 8,
        epochs: 2,
        seed,
        regs: regs.iter().map(|r| reglab_core::Spec::parse(r).unwrap()).collect(),
        reparam: None,
        prune: None,
    }
}

#[test]
fn fine_tuning_is_deterministic_restorable_and_named_like_the_checkpoint() {
    let Some(dir) = model_dir() else { return };
    let data = sentences();
    assert!(data.len() >= 16);
    let dev = Device::flex().autodiff();
    let cfg = config(&dir, &["l2-init=1e-2", "l2-sp=1e-2"], 3);
    let mut a = Trainer::new(&cfg, &[MAX_LEN], 2, &dev, None, 100).unwrap();

    // the layers: 3 embeddings, 1 + 2 per layer LayerNorms, 6 linear per layer, the head
    let layers = a.net.layers();
    assert_eq!(layers.len(), 4 + 6 * 8 + 1);
    assert_eq!(
        (layers[0].name.as_str(), layers[0].kind, layers[0].shape.clone()),
        ("embeddings.word_embeddings", LayerKind::Embedding, vec![30522, 384])
    );
    assert_eq!(layers[3].kind, LayerKind::Norm);
    let head = layers.last().unwrap();
    assert_eq!((head.name.as_str(), head.kind, head.shape.clone()), ("classifier", LayerKind::Linear, vec![2, 384]));
    // to_pytorch: the checkpoint's tensors by name and value, plus the head
    let st = a.net.to_pytorch();
    let q = st.iter().find(|t| t.name == "encoder.layer.2.attention.self.query.weight").unwrap();
    assert_eq!(q.shape, vec![384, 384]);
    assert_eq!(st.len(), 101 + 2, "every F32 tensor but the pooler's 2, and the head's 2");

    let before = a.evaluate(&data);
    let mut b = Trainer::new(&cfg, &[MAX_LEN], 2, &dev, None, 100).unwrap();
    for e in 1..=2 {
        a.train_epoch(&data, e, &mut |_| {}).unwrap();
    }
    b.train_epoch(&data, 1, &mut |_| {}).unwrap();
    // a checkpoint after one epoch restores into a fresh trainer and continues identically
    let ckpt = b.checkpoint().unwrap();
    let mut c = Trainer::new(&cfg, &[MAX_LEN], 2, &dev, None, 100).unwrap();
    c.restore(ckpt).unwrap();
    b.train_epoch(&data, 2, &mut |_| {}).unwrap();
    c.train_epoch(&data, 2, &mut |_| {}).unwrap();
    let (pa, pb, pc) = (a.net.to_pytorch(), b.net.to_pytorch(), c.net.to_pytorch());
    assert!(pa == pb, "same seed, same weights");
    assert!(pb == pc, "restored from the checkpoint, same weights");
    // the loss falls; the anchored penalty sees the moved encoder weights
    let after = a.evaluate(&data);
    assert!(after.0 < before.0, "loss {} → {}", before.0, after.0);
    let reg = a.reg_values().unwrap();
    assert!(reg["l2-init"] > 0.0, "{reg:?}");
    // L2-SP is l2-init without the head (which moved from its random start too)
    assert!(reg["l2-sp"] > 0.0 && reg["l2-sp"] < reg["l2-init"], "{reg:?}");
    let head_only = a
        .net
        .to_pytorch()
        .iter()
        .zip(&st)
        .filter(|(t, _)| t.name == "classifier.weight")
        .map(|(t, t0)| t.data.iter().zip(&t0.data).map(|(x, y)| 0.5 * ((x - y) as f64).powi(2)).sum::<f64>())
        .sum::<f64>();
    assert!(((reg["l2-init"] - reg["l2-sp"]) / 1e-2 - head_only).abs() < 1e-3 * head_only.max(1e-9), "{reg:?} {head_only}");
    // another seed: another head, same encoder start
    let d = Trainer::new(&config(&dir, &[], 4), &[MAX_LEN], 2, &dev, None, 100).unwrap();
    let b0 = Trainer::new(&config(&dir, &[], 3), &[MAX_LEN], 2, &dev, None, 100).unwrap();
    let (hd, hb) = (d.net.to_pytorch(), b0.net.to_pytorch());
    let find = |v: &[reglab_core::NamedTensor], n: &str| v.iter().find(|t| t.name == n).unwrap().data.clone();
    assert_ne!(find(&hd, "classifier.weight"), find(&hb, "classifier.weight"));
    assert_eq!(find(&hd, "embeddings.word_embeddings.weight"), find(&hb, "embeddings.word_embeddings.weight"));
}

#[test]
fn a_bert_on_data_that_is_not_token_ids_is_an_error() {
    let Some(dir) = model_dir() else { return };
    let dev = Device::flex().autodiff();
    let err = |cfg: &TrainConfig, shape: &[usize], classes: usize| match Trainer::new(cfg, shape, classes, &dev, None, 1) {
        Ok(_) => panic!("an error expected for {shape:?}"),
        Err(e) => e.to_string(),
    };
    let e = err(&config(&dir, &[], 0), &[1, 8, 8], 10);
    assert!(e.contains("token-id inputs") && e.contains("[1, 8, 8]"), "{e}");
    let e = err(&config(&dir, &[], 0), &[600], 2);
    assert!(e.contains("512"), "{e}");
    let missing = dir.join("no-such-folder");
    let e = err(&config(&missing, &[], 0), &[MAX_LEN], 2);
    assert!(e.contains("config.json"), "{e}");
}

#[test]
fn mixout_toward_the_pretrained_weights_is_deterministic_and_differs_from_plain_fine_tuning() {
    let Some(dir) = model_dir() else { return };
    let data = sentences();
    let dev = Device::flex().autodiff();
    let run = |regs: &[&str]| {
        let mut t = Trainer::new(&config(&dir, regs, 5), &[MAX_LEN], 2, &dev, None, 100).unwrap();
        t.train_epoch(&data, 1, &mut |_| {}).unwrap();
        t.net.to_pytorch()
    };
    let (a, b, plain) = (run(&["mixout=0.3"]), run(&["mixout=0.3"]), run(&[]));
    assert!(a == b, "same seed, same mixout masks, same weights");
    let q = |v: &[reglab_core::NamedTensor]| v.iter().find(|t| t.name == "encoder.layer.0.attention.self.query.weight").unwrap().data.clone();
    assert_ne!(q(&a), q(&plain), "mixout changes the encoder's updates");
}

#[test]
fn a_linear_probe_and_top_layers_train_only_what_they_name() {
    let Some(dir) = model_dir() else { return };
    let data = sentences();
    let dev = Device::flex().autodiff();
    let spec = |train: &str| -> ModelSpec { format!("bert:dir={},train={train}", dir.display()).parse().unwrap() };
    assert_eq!(spec("top2").to_string(), format!("bert:dir={},train=top2", dir.display()));
    let run = |train: &str| {
        let cfg = TrainConfig { model: spec(train), ..config(&dir, &["l2-sp=1e-2"], 1) };
        let mut t = Trainer::new(&cfg, &[MAX_LEN], 2, &dev, None, 100).unwrap();
        let before = t.net.to_pytorch();
        t.train_epoch(&data, 1, &mut |_| {}).unwrap();
        let reg = t.reg_values().unwrap()["l2-sp"];
        let changed: Vec<String> = t.net.to_pytorch().iter().zip(&before).filter(|(a, b)| a.data != b.data).map(|(a, _)| a.name.clone()).collect();
        (changed, reg)
    };
    // head: only the classifier moves, and L2-SP (which never sees the head) is 0
    let (changed, reg) = run("head");
    assert_eq!(changed, vec!["classifier.weight".to_string(), "classifier.bias".to_string()], "{changed:?}");
    assert_eq!(reg, 0.0);
    // top1: the last layer and the head move; the embeddings and layers 0-4 do not
    let (changed, reg) = run("top1");
    assert!(changed.iter().all(|n| n.starts_with("encoder.layer.5.") || n.starts_with("classifier.")), "{changed:?}");
    assert!(changed.iter().any(|n| n.starts_with("encoder.layer.5.")) && reg > 0.0, "{changed:?} {reg}");
    // a bad choice
    let e = match Trainer::new(&TrainConfig { model: spec("top7"), ..config(&dir, &[], 1) }, &[MAX_LEN], 2, &dev, None, 1) {
        Ok(_) => panic!("top7 of 6 layers"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("6 layers"), "{e}");
    assert!("bert:train=middle".parse::<ModelSpec>().unwrap_err().contains("expected all, head or topK"));
}
