#!/usr/bin/env python3
"""Reference fine-tuning of the BERT sentence classifier on an SST-2 subset in PyTorch (CPU).

Mirrors reglab's

    reglab train --data sst2:train=1000,max_len=64 --model bert --optim adamw:0.01 --lr 5e-5 \
        --batch 16 --epochs 4 --seed S

with the same model as bench/compare/bert_step_torch.py (reglab's `BertClassifier`,
crates/reglab-train/src/model/bert.rs):

- encoder: `transformers.BertModel` from the local folder (`--model`, default
  /work/shared/data/minilm, all-MiniLM-L6-v2) without the pooler, float32, token type 0, in eval
  mode throughout: NO dropout anywhere (reglab has none), but every parameter trains;
- pooling: masked mean of the last hidden state, sum(h * m) / clamp(sum(m), 1e-9), not normalized;
- head: `torch.nn.Linear(384, 2)` with PyTorch's default init, created right after
  `torch.manual_seed(seed)`;
- tokenization: the folder's tokenizer (`AutoTokenizer`), truncation to `--max-len` tokens
  including [CLS]/[SEP]; each mini-batch padded to its longest sentence (attention mask 0 on the
  padding);
- optimizer: `torch.optim.AdamW(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)` over the
  encoder and the head, constant learning rate, no warm-up, no gradient clipping; loss: mean
  cross-entropy over the mini-batch;
- training: `--epochs` epochs; each epoch a fresh random permutation of the training sentences
  drawn from one `torch.Generator` seeded with the seed (one generator per run, so epoch e uses
  its e-th permutation), mini-batches of `--batch` (the last one smaller: 1000 = 62 x 16 + 8).

After each epoch: accuracy and mean cross-entropy on the whole dev set and on the whole training
set (no grad, batches of `--eval-batch`, each padded to its longest sentence).

Output: `--out` CSV with columns seed,epoch,train_loss,train_accuracy,dev_loss,dev_accuracy,seconds
(one row per seed and epoch; `seconds` = wall-clock of that epoch's training steps, evaluation
excluded) and a printed summary: per epoch, mean +- sample std of dev accuracy over the seeds.

    taskset -c 0 .venv/bin/python bench/compare/finetune_sst2_torch.py --seeds 0,1,2 \
        --out docs/results/finetuning/torch-plain-1000.csv

Data files are TSV with header `text<TAB>label`. Nothing is downloaded (HF_HUB_OFFLINE=1,
TRANSFORMERS_OFFLINE=1). `torch.set_num_threads(--threads)` (default 1), one inter-op thread.
"""

import argparse
import csv
import os
import statistics
import sys
import time

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoTokenizer, BertModel  # noqa: E402

DEFAULT_MODEL = "/work/shared/data/minilm"
DEFAULT_TRAIN = "/tmp/sst2_1000.tsv"
DEFAULT_DEV = "/work/shared/data/sst2/dev.tsv"
CLASSES = 2
COLUMNS = ["seed", "epoch", "train_loss", "train_accuracy", "dev_loss", "dev_accuracy", "seconds"]


def read_tsv(path):
    """(text, label) pairs in file order (header `text<TAB>label`)."""
    out = []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        if header[:2] != ["text", "label"]:
            sys.exit(f"{path}: unexpected header {header!r}")
        for n, line in enumerate(f, start=2):
            line = line.rstrip("\n")
            if not line:
                continue
            try:
                text, label = line.rsplit("\t", 1)
                label = int(label)
            except ValueError:
                sys.exit(f"{path}:{n}: bad row {line!r}")
            if label not in range(CLASSES):
                sys.exit(f"{path}:{n}: label {label} out of range")
            out.append((text, label))
    return out


def tokenize(tok, rows, max_len):
    """Token ids (with [CLS]/[SEP], truncated to max_len) and labels."""
    enc = tok([t for t, _ in rows], truncation=True, max_length=max_len)["input_ids"]
    return enc, torch.tensor([l for _, l in rows], dtype=torch.long)


def pad_batch(ids, idx, pad_id):
    """Rows `idx` of `ids` padded to the longest: (ids [B, L], mask [B, L])."""
    seqs = [ids[i] for i in idx]
    width = max(len(s) for s in seqs)
    x = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    m = torch.zeros((len(seqs), width), dtype=torch.long)
    for r, s in enumerate(seqs):
        x[r, : len(s)] = torch.tensor(s, dtype=torch.long)
        m[r, : len(s)] = 1
    return x, m


class BertClassifier(torch.nn.Module):
    def __init__(self, model_dir, seed):
        super().__init__()
        self.encoder = BertModel.from_pretrained(
            model_dir, add_pooling_layer=False, dtype=torch.float32, local_files_only=True
        )
        torch.manual_seed(seed)
        self.classifier = torch.nn.Linear(self.encoder.config.hidden_size, CLASSES)

    def forward(self, ids, mask):
        h = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state  # [B, S, H]
        m = mask.unsqueeze(-1).to(h.dtype)  # [B, S, 1]
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)  # [B, H], not normalized
        return self.classifier(pooled)


@torch.no_grad()
def evaluate(model, ids, labels, pad_id, batch):
    """(mean cross-entropy, accuracy) over the whole set."""
    total_loss, correct = 0.0, 0
    n = len(ids)
    for start in range(0, n, batch):
        idx = list(range(start, min(start + batch, n)))
        x, m = pad_batch(ids, idx, pad_id)
        y = labels[idx]
        logits = model(x, m)
        total_loss += torch.nn.functional.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(-1) == y).sum().item()
    return total_loss / n, correct / n


def run_seed(args, seed, tok, train, dev, writer, out_file):
    train_ids, train_y = train
    dev_ids, dev_y = dev
    pad_id = tok.pad_token_id
    model = BertClassifier(args.model, seed)
    model.eval()  # no dropout anywhere; gradients are still computed
    for p in model.parameters():
        p.requires_grad_(True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=args.weight_decay)
    gen = torch.Generator().manual_seed(seed)
    n = len(train_ids)
    rows = []
    for epoch in range(1, args.epochs + 1):
        perm = torch.randperm(n, generator=gen).tolist()
        t0 = time.perf_counter()
        for start in range(0, n, args.batch):
            idx = perm[start : start + args.batch]
            x, m = pad_batch(train_ids, idx, pad_id)
            loss = torch.nn.functional.cross_entropy(model(x, m), train_y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - t0
        t1 = time.perf_counter()
        dev_loss, dev_acc = evaluate(model, dev_ids, dev_y, pad_id, args.eval_batch)
        train_loss, train_acc = evaluate(model, train_ids, train_y, pad_id, args.eval_batch)
        eval_s = time.perf_counter() - t1
        row = {"seed": seed, "epoch": epoch, "train_loss": f"{train_loss:.6f}",
               "train_accuracy": f"{train_acc:.6f}", "dev_loss": f"{dev_loss:.6f}",
               "dev_accuracy": f"{dev_acc:.6f}", "seconds": f"{seconds:.2f}"}
        writer.writerow(row)
        out_file.flush()
        rows.append((epoch, dev_acc))
        print(f"seed {seed} epoch {epoch}: train loss {train_loss:.4f} acc {train_acc:.4f} | "
              f"dev loss {dev_loss:.4f} acc {dev_acc:.4f} | train {seconds:.1f} s, eval {eval_s:.1f} s",
              flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", default=DEFAULT_TRAIN, help="training TSV (text<TAB>label)")
    ap.add_argument("--dev", default=DEFAULT_DEV, help="dev TSV (text<TAB>label)")
    ap.add_argument("--model", default=DEFAULT_MODEL, help="Hugging Face BERT folder")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--eval-batch", type=int, default=64, help="batch size of the evaluations")
    ap.add_argument("--max-len", type=int, default=64, help="tokens per sentence incl. [CLS]/[SEP]")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    ap.add_argument("--out", required=True, help="CSV path to write")
    args = ap.parse_args()
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        sys.exit(f"--seeds: not a comma-separated list of integers: {args.seeds!r}")
    if not seeds or args.epochs < 1 or args.batch < 1 or args.eval_batch < 1 or args.threads < 1 \
            or args.max_len < 3:
        sys.exit("need at least one seed, --epochs/--batch/--eval-batch/--threads >= 1, --max-len >= 3")

    transformers.logging.set_verbosity_error()  # no load report (the unused pooler) on stderr
    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)

    tok = AutoTokenizer.from_pretrained(args.model, local_files_only=True)
    train = tokenize(tok, read_tsv(args.train), args.max_len)
    dev = tokenize(tok, read_tsv(args.dev), args.max_len)
    print(f"pytorch {torch.__version__} (transformers {transformers.__version__}), "
          f"{args.threads} thread(s); train {len(train[0])} sentences, dev {len(dev[0])}; "
          f"batch {args.batch}, lr {args.lr}, weight decay {args.weight_decay}, "
          f"max_len {args.max_len}, epochs {args.epochs}, seeds {seeds}", flush=True)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    results = {}
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for seed in seeds:
            for epoch, acc in run_seed(args, seed, tok, train, dev, writer, f):
                results.setdefault(epoch, []).append(acc)

    print(f"dev accuracy over {len(seeds)} seed(s) (mean +- sample std):")
    for epoch in sorted(results):
        accs = results[epoch]
        std = statistics.stdev(accs) if len(accs) > 1 else 0.0
        print(f"  epoch {epoch}: {statistics.fmean(accs):.4f} +- {std:.4f}  "
              f"({', '.join(f'{a:.4f}' for a in accs)})")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
