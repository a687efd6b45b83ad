//! Print the SST-2 training subset that `sst2:train=N` selects (the first N sentences of the
//! fixed permutation, in that order) as `text<TAB>label` TSV, so that other implementations
//! (`bench/compare/finetune_sst2_torch.py`) train on exactly the same sentences.
//!
//! `cargo run --release -p reglab-lab --example sst2_subset -- N [SST2_DIR] > subset.tsv`
//! (SST2_DIR defaults to `$REGLAB_DATA/sst2`).

use std::io::Read;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or_else(|| {
        eprintln!("usage: sst2_subset N [SST2_DIR]");
        std::process::exit(2)
    });
    let dir = match args.get(2) {
        Some(d) => std::path::PathBuf::from(d),
        None => std::path::PathBuf::from(std::env::var_os("REGLAB_DATA").expect("REGLAB_DATA or SST2_DIR")).join("sst2"),
    };
    let path = dir.join("train.tsv.gz");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(file).read_to_string(&mut text).expect("gzip UTF-8 text");
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert!(n <= rows.len(), "{n} > {} rows", rows.len());
    let perm = reglab_lab::data::seeded_permutation(rows.len(), 0);
    println!("text\tlabel");
    for &j in &perm[..n] {
        println!("{}", rows[j]);
    }
}
