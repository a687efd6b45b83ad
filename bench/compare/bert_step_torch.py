#!/usr/bin/env python3
"""Training-step throughput of a BERT sequence classifier in PyTorch on CPU (reglab's counterpart).

The model is defined like reglab's `BertClassifier` (crates/reglab-train/src/model/bert.rs):

- encoder: `transformers.BertModel` from the local folder (`--model`, default
  /work/shared/data/minilm, all-MiniLM-L6-v2), without the pooler (reglab does not use
  `pooler.*`), float32, token type 0, in eval mode: NO dropout anywhere (reglab's classifier has
  none inside the encoder), but every parameter trains (gradients are computed);
- pooling: mean of the last hidden state over the attention mask,
  sum(h * m) / clamp(sum(m), 1e-9), NOT normalized;
- head: `torch.nn.Linear(hidden, 2)` (PyTorch's default init, `torch.manual_seed(0)`);
- loss: cross-entropy (mean over the batch); optimizer: `torch.optim.AdamW(lr=5e-5,
  weight_decay=0.01)` over the encoder and the head.

One step = forward + loss + backward + optimizer.step() + optimizer.zero_grad().

Inputs are real SST-2 training sentences (`train.tsv.gz`, file order) tokenized with the folder's
tokenizer (`AutoTokenizer`, no special tokens, truncated to `--seq` tokens), packed into a batch of
fixed length: each of the `--batch` rows is [CLS] + the ids of consecutive sentences concatenated
(the last one cut to fit) + [SEP], exactly `--seq` ids, attention mask all ones, so every step
does exactly batch x seq tokens. The label of a row is the label of its first sentence. The same
batch is used for every step. `--dump-ids PATH` writes that batch as JSON (a list of `--batch`
lists of `--seq` ints) so that reglab can time exactly the same input.

Timing: `--warmup` untimed steps, then `--steps` steps each timed with `time.perf_counter`;
reports the median and mean seconds per step, tokens/s = batch * seq / median, and the peak RSS
of the process (`resource.getrusage(RUSAGE_SELF).ru_maxrss`, KiB on Linux; it includes loading).
`torch.set_num_threads(--threads)` (default 1) and 1 inter-op thread; pin the process too
(`taskset -c 0` for one thread) and compare with reglab only on the same, quiet machine.

    .venv/bin/python bench/compare/bert_step_torch.py [--model DIR] [--data DIR] [--batch 32]
        [--seq 64] [--warmup 3] [--steps 20] [--threads 1] [--attn sdpa|eager] [--json]
        [--dump-ids PATH]

Nothing is downloaded (HF_HUB_OFFLINE=1, TRANSFORMERS_OFFLINE=1).
"""

import argparse
import gzip
import json
import os
import platform
import resource
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
DEFAULT_DATA = "/work/shared/data/sst2"
CLASSES = 2


def read_sst2_train(data_dir):
    """(text, label) pairs of train.tsv.gz in file order (header `text<TAB>label`)."""
    path = os.path.join(data_dir, "train.tsv.gz")
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        if header[:2] != ["text", "label"]:
            sys.exit(f"{path}: unexpected header {header!r}")
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            text, label = line.rsplit("\t", 1)
            out.append((text, int(label)))
    return out


def build_batch(tok, sentences, batch, seq):
    """`batch` rows of exactly `seq` ids: [CLS] + consecutive sentences' ids + [SEP]."""
    if seq < 3:
        sys.exit("--seq must be at least 3")
    cls_id, sep_id = tok.cls_token_id, tok.sep_token_id
    body = seq - 2
    rows, labels = [], []
    i = 0  # next sentence; cycles through the data if it runs out
    for _ in range(batch):
        row, label = [], None
        while len(row) < body:
            text, lab = sentences[i % len(sentences)]
            i += 1
            ids = tok(text, add_special_tokens=False, truncation=True, max_length=seq)["input_ids"]
            if not ids:
                continue
            if label is None:
                label = lab
            row.extend(ids[: body - len(row)])
        rows.append([cls_id] + row + [sep_id])
        labels.append(label)
    return rows, labels


class BertClassifier(torch.nn.Module):
    def __init__(self, model_dir, attn):
        super().__init__()
        self.encoder = BertModel.from_pretrained(
            model_dir, add_pooling_layer=False, attn_implementation=attn, local_files_only=True
        )
        self.classifier = torch.nn.Linear(self.encoder.config.hidden_size, CLASSES)

    def forward(self, ids, mask):
        h = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state  # [B, S, H]
        m = mask.unsqueeze(-1).to(h.dtype)  # [B, S, 1]
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)  # [B, H], not normalized
        return self.classifier(pooled)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=DEFAULT_MODEL, help="Hugging Face BERT folder")
    ap.add_argument("--data", default=DEFAULT_DATA, help="folder with SST-2 train.tsv.gz")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20, help="timed steps")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps before")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    ap.add_argument("--attn", default="sdpa", choices=["sdpa", "eager"],
                    help="transformers attention implementation (default sdpa, transformers' default)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--dump-ids", metavar="PATH", help="write the batch's ids as JSON (list of lists of ints)")
    args = ap.parse_args()
    if args.batch < 1 or args.steps < 1 or args.warmup < 0 or args.threads < 1:
        sys.exit("--batch, --steps, --threads must be >= 1 and --warmup >= 0")

    transformers.logging.set_verbosity_error()  # no load report (the unused pooler) on stderr
    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)

    tok = AutoTokenizer.from_pretrained(args.model, local_files_only=True)
    rows, labels = build_batch(tok, read_sst2_train(args.data), args.batch, args.seq)
    assert all(len(r) == args.seq for r in rows)
    if args.dump_ids:
        with open(args.dump_ids, "w") as f:
            json.dump(rows, f)
            f.write("\n")

    model = BertClassifier(args.model, args.attn)
    model.eval()  # no dropout; gradients are still computed
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01)
    ids = torch.tensor(rows, dtype=torch.long)
    mask = torch.ones_like(ids)
    y = torch.tensor(labels, dtype=torch.long)

    def step():
        loss = torch.nn.functional.cross_entropy(model(ids, mask), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss.item()

    first_loss = None
    for _ in range(args.warmup):
        loss = step()
        first_loss = loss if first_loss is None else first_loss
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
        first_loss = loss if first_loss is None else first_loss
    median = statistics.median(times)
    mean = statistics.fmean(times)
    tokens = args.batch * args.seq
    res = {
        "framework": "pytorch",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "attn": args.attn,
        "threads": args.threads,
        "batch": args.batch,
        "seq": args.seq,
        "warmup": args.warmup,
        "steps": args.steps,
        "median_s": median,
        "mean_s": mean,
        "min_s": min(times),
        "tokens_per_s": tokens / median,
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "params": sum(p.numel() for p in model.parameters()),
        "first_loss": first_loss,
        "last_loss": loss,
        "cpu": platform.processor() or platform.machine(),
    }
    if args.json:
        print(json.dumps(res))
    else:
        print(f"pytorch {res['torch']} (transformers {res['transformers']}, attn {args.attn}), "
              f"{args.threads} thread(s), batch {args.batch} x seq {args.seq} = {tokens} tokens/step, "
              f"{res['params']} parameters")
        print(f"{args.steps} steps after {args.warmup} warm-up: median {median:.4f} s/step, "
              f"mean {mean:.4f} s/step, min {res['min_s']:.4f} s/step")
        print(f"tokens/s (batch*seq/median): {res['tokens_per_s']:.1f}")
        print(f"peak RSS: {res['peak_rss_kib']} KiB")
        print(f"loss: first {first_loss:.4f}, last {loss:.4f}")


if __name__ == "__main__":
    main()
