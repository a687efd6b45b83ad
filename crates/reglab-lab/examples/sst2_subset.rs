//! Print the SST-2 training subset that `sst2:train=N` selects (the first N sentences of the
//! fixed permutation, in that order) as `text<TAB>label` TSV, so that other implementations
//! (`bench/compare/finetune_sst2_torch.py`) train on exactly the same sentences.
//!
//! `cargo run --release -p reglab-lab --example sst2_subset -- N [SST2_DIR] > subset.tsv`
//! (SST2_DIR defaults to `$REGLAB_DATA/sst2`).

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or_else(|| {
        eprintln!("usage: sst2_subset N [SST2_DIR]");
        std::process::exit(2)
    });
    let dir = match args.get(2) {
        Some(d) => std::path::PathBuf::from(d),
        None => match std::env::var_os("REGLAB_DATA") {
            Some(r) => std::path::PathBuf::from(r).join("sst2"),
            None => {
                eprintln!("error: set REGLAB_DATA or give SST2_DIR");
                std::process::exit(2)
            }
        },
    };
    match reglab_lab::data::sst2::read_rows(&dir.join("train.tsv.gz"), Some(n)) {
        Ok(rows) => {
            println!("text\tlabel");
            for r in rows {
                println!("{}\t{}", r.text, r.label);
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2)
        }
    }
}
