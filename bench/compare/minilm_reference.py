#!/usr/bin/env python3
"""Reference fixture for reglab's BERT sentence encoder (all-MiniLM-L6-v2).

Loads the local all-MiniLM-L6-v2 folder twice,

1. through sentence-transformers (Transformer -> mean Pooling -> Normalize, max_seq_length 256),
2. through plain transformers (AutoTokenizer + AutoModel, eager attention, mean of the last
   hidden state over the tokens with attention mask 1, then L2 normalization, max_length 256
   with truncation),

encodes a fixed list of sentences one at a time (batch of 1, no padding), float32 on CPU, eval
mode, no grad, one torch thread, checks that both agree (max |difference| < --tol, default 1e-6)
and that the token ids of both and of the raw `tokenizers` library (tokenizer.json with its
built-in padding removed and truncation set to 256) are identical, then writes the JSON fixture

    {"model": "all-MiniLM-L6-v2",
     "versions": {"torch", "transformers", "sentence_transformers", "tokenizers"},
     "max_length": 256,
     "sentences": [{"text", "ids", "embedding", ["last_hidden_first_token"]}, ...]}

`ids` include [CLS] (101) and [SEP] (102), after truncation to 256. `embedding` (384 floats, unit
norm) is the plain-transformers one. `last_hidden_first_token` (the unnormalized last hidden
state at the [CLS] position) is given for the first 3 sentences only. Floats are the float32
values written as Python float64 reprs (they parse back exactly). Deterministic; nothing is
downloaded. Run by hand, not in CI (see README.md).
"""

import argparse
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import sentence_transformers  # noqa: E402
import tokenizers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_MODEL = "/work/shared/data/minilm"
DEFAULT_OUT = os.path.join(ROOT, "crates", "reglab-train", "tests", "fixtures", "minilm_reference.json")
MAX_LENGTH = 256
CLS_ID, SEP_ID, UNK_ID = 101, 102, 100
N_HIDDEN_DEBUG = 3

# A varied paragraph; the two long sentences are built from its words, deterministically.
PARAGRAPH = (
    "The film opens on a rain-soaked harbor at dawn, where an aging lighthouse keeper named "
    "Tobias counts the ships he has guided home for forty-three years. Director Maren Holt "
    "lets the camera linger on weathered hands, rusted railings and the slow sweep of the lamp, "
    "and for the first hour the patience pays off beautifully. Then the screenplay loses its "
    "nerve: a clumsy subplot about a stolen inheritance, two unconvincing villains and a "
    "storm sequence that looks like it was rendered in 2004 drag the story toward melodrama. "
    "Still, Ingrid Solberg's performance as the keeper's estranged daughter is quietly "
    "devastating, and the final scene, wordless and lit only by the beam, earns every tear. "
    "Bring tissues, forgive the middle act, and stay through the credits."
)

SHORT_AND_VARIED = [
    # short
    "Hello world.",
    "a",
    # SST-2-like reviews: positive, then negative; lower and mixed case
    "a gorgeous, witty, seductive movie.",
    "The acting is superb and the story is genuinely moving.",
    "one of the most charming and heartfelt films of the year",
    "the plot is paper-thin and the jokes fall flat.",
    "An Overlong, Tedious Mess That Never Finds Its Footing.",
    "i wanted to like this, but it's simply boring and badly edited",
    "THIS MOVIE WAS A COMPLETE WASTE OF TIME",
    # punctuation-heavy
    "Wait... what?!?",
    "It's a 'must-see' -- really!",
    # numbers and symbols
    "3.14159 is π; e ≈ 2.718",
    "$100, 50% off & free shipping #deal @home",
    # accented / unicode
    "Café déjà vu, naïve façade",
    "Ünïcödé straße",
    # CJK
    "我喜欢这部电影",
    "日本語のテキスト",
    # emoji
    "great movie 😀👍",
    # words split into many word pieces
    "supercalifragilisticexpialidocious antidisestablishmentarianism xylophonist",
    # a single "word" of more than 100 characters (WordPiece max_input_chars_per_word -> [UNK])
    "before " + "pneumonoultramicroscopicsilicovolcanoconiosis" * 3 + " after",
    # whitespace: tab, runs of spaces, leading/trailing space, newline, no-break space
    "  tab\there   and    multiple     spaces\tin one line  ",
    "first line\nsecond line with\u00a0no-break space",
]


def n_ids(tok, text, truncate):
    enc = tok(text, truncation=truncate, max_length=MAX_LENGTH if truncate else None)
    return len(enc["input_ids"])


def build_long(tok, lo, hi, target):
    """Largest prefix (in words) of the repeated paragraph with at most `target` ids."""
    words = PARAGRAPH.split()
    best = None
    k = 1
    while True:
        text = " ".join(words[i % len(words)] for i in range(k))
        n = n_ids(tok, text, truncate=False)
        if n > target:
            break
        best = (text, n)
        k += 1
    text, n = best
    assert lo <= n <= hi, f"long sentence has {n} ids, want [{lo}, {hi}]"
    return text


def build_over(tok):
    """The paragraph repeated until it has well over 256 ids (it must be truncated)."""
    text = PARAGRAPH
    while n_ids(tok, text, truncate=False) <= MAX_LENGTH + 64:
        text = text + " " + PARAGRAPH
    return text


def sentences(tok):
    out = list(SHORT_AND_VARIED)
    out.append(build_long(tok, 190, 256, target=200))
    out.append(build_over(tok))
    assert all(s for s in out), "empty sentences are not allowed"
    assert len(out) == len(set(out)), "duplicate sentence"
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL, help="all-MiniLM-L6-v2 folder (default %(default)s)")
    ap.add_argument("--out", default=DEFAULT_OUT, help="fixture path (default %(default)s)")
    ap.add_argument("--tol", type=float, default=1e-6, help="max |ST - plain| allowed (default %(default)s)")
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)

    versions = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "tokenizers": tokenizers.__version__,
    }
    print("versions:", json.dumps(versions))

    # --- plain transformers ---
    tok = AutoTokenizer.from_pretrained(args.model)
    model = AutoModel.from_pretrained(args.model, attn_implementation="eager")
    model.eval()
    assert all(p.dtype == torch.float32 for p in model.parameters())

    # --- sentence-transformers ---
    st = SentenceTransformer(args.model, device="cpu")
    st.eval()
    assert st.max_seq_length == MAX_LENGTH, st.max_seq_length

    # --- raw tokenizers (tokenizer.json ships padding Fixed(128) and truncation 128: remove) ---
    raw = tokenizers.Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    raw.no_padding()
    raw.enable_truncation(MAX_LENGTH)

    texts = sentences(tok)

    records = []
    max_diff = 0.0
    max_hidden_diff = 0.0
    with torch.inference_mode():
        for i, text in enumerate(texts):
            enc = tok(text, truncation=True, max_length=MAX_LENGTH, return_tensors="pt")
            ids = enc["input_ids"][0].tolist()
            mask = enc["attention_mask"]
            assert ids[0] == CLS_ID and ids[-1] == SEP_ID, (i, ids[:3], ids[-3:])
            assert len(ids) <= MAX_LENGTH
            raw_ids = raw.encode(text).ids
            assert raw_ids == ids, f"sentence {i}: tokenizers {raw_ids} != transformers {ids}"

            hidden = model(**enc).last_hidden_state  # [1, T, 384]
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)
            emb = torch.nn.functional.normalize(pooled, p=2, dim=1)[0]

            st_feat = st.preprocess([text])
            st_ids = st_feat["input_ids"][0].tolist()
            assert st_ids == ids, f"sentence {i}: sentence-transformers ids differ"
            st_out = st.forward({k: v for k, v in st_feat.items()})
            st_emb = st_out["sentence_embedding"][0]
            st_tok = st_out["token_embeddings"][0]
            # and the public API (batch of 1, normalized by the model's Normalize module)
            st_api = st.encode([text], batch_size=1, convert_to_tensor=True, device="cpu")[0]

            d = max(
                (emb - st_emb).abs().max().item(),
                (emb - st_api).abs().max().item(),
            )
            dh = (hidden[0] - st_tok).abs().max().item()
            max_diff = max(max_diff, d)
            max_hidden_diff = max(max_hidden_diff, dh)

            norm = emb.double().norm().item()
            assert abs(norm - 1.0) < 1e-5, (i, norm)
            assert emb.shape == (384,) and torch.isfinite(emb).all()

            rec = {"text": text, "ids": ids, "embedding": [float(x) for x in emb.tolist()]}
            if i < N_HIDDEN_DEBUG:
                rec["last_hidden_first_token"] = [float(x) for x in hidden[0, 0].tolist()]
            records.append(rec)
            unk = ids.count(UNK_ID)
            print(f"{i:2d} ids={len(ids):3d} unk={unk} |ST-plain|={d:.2e} |hidden|={dh:.2e}  {text[:60]!r}")

        # informational: the same sentences as one padded batch (the fixture uses batch of 1)
        enc = tok(texts, truncation=True, max_length=MAX_LENGTH, padding=True, return_tensors="pt")
        hidden = model(**enc).last_hidden_state
        m = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        batch = torch.nn.functional.normalize((hidden * m).sum(1) / m.sum(1), p=2, dim=1)
        single = torch.tensor([r["embedding"] for r in records], dtype=torch.float32)
        pad_diff = (batch - single).abs().max().item()

    # long sentences
    long_ids = len(records[-2]["ids"])
    over_ids = len(records[-1]["ids"])
    over_untrunc = n_ids(tok, texts[-1], truncate=False)
    assert 190 <= long_ids <= 256, long_ids
    assert over_untrunc > MAX_LENGTH and over_ids == MAX_LENGTH and records[-1]["ids"][-1] == SEP_ID

    print(f"sentences: {len(records)}")
    print(f"max |ST - plain| over all embeddings: {max_diff:.3e} (tol {args.tol:g})")
    print(f"max |ST - plain| over all last hidden states: {max_hidden_diff:.3e}")
    print(f"max |padded batch - batch of 1| (informational): {pad_diff:.3e}")
    print(f"long sentence: {long_ids} ids; over-long sentence: {over_untrunc} ids -> {over_ids} after truncation")
    if max_diff >= args.tol:
        print("FAIL: sentence-transformers and plain transformers disagree", file=sys.stderr)
        return 1

    fixture = {
        "model": "all-MiniLM-L6-v2",
        "versions": versions,
        "max_length": MAX_LENGTH,
        "sentences": records,
    }
    write_fixture(fixture, args.out)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")
    return 0


def write_fixture(fixture, path):
    """JSON with one line per sentence field (readable diffs), UTF-8, floats as Python reprs."""

    def dump(v):
        return json.dumps(v, ensure_ascii=False, separators=(", ", ": "))

    lines = ["{"]
    for key in ("model", "versions", "max_length"):
        lines.append(f"  {dump(key)}: {dump(fixture[key])},")
    lines.append('  "sentences": [')
    for j, rec in enumerate(fixture["sentences"]):
        lines.append("    {")
        items = list(rec.items())
        for k, (key, val) in enumerate(items):
            comma = "," if k + 1 < len(items) else ""
            lines.append(f"      {dump(key)}: {json.dumps(val, ensure_ascii=False, separators=(',', ':'))}{comma}")
        lines.append("    }" + ("," if j + 1 < len(fixture["sentences"]) else ""))
    lines.append("  ]")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == fixture
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    sys.exit(main())
