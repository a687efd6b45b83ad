"""Helpers shared by the tests: safetensors files written and read with NumPy alone (so that
the tests check reglab's reader, not a second copy of it), and the `reglab` binary of this
checkout."""

import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read_safetensors(path):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        assert meta["dtype"] == "F32"
        out[name] = np.frombuffer(raw[8 + n + a : 8 + n + b], dtype="<f4").reshape(meta["shape"])
    return out


def reglab_cli():
    """The `reglab` binary of this checkout (REGLAB_CLI, or target/release/reglab built by
    `cargo test --workspace --release` / `cargo build --release`), if there is one."""
    if os.environ.get("REGLAB_CLI"):
        return os.environ["REGLAB_CLI"]
    root = Path(__file__).resolve().parents[2]
    target = Path(os.environ.get("CARGO_TARGET_DIR", root / "target"))
    for p in (target / "release" / "reglab", root / "target" / "release" / "reglab"):
        if p.is_file():
            return str(p)
    return shutil.which("reglab")


def ot_problem(n, m, seed, dtype=np.float64):
    """Random histograms a (n), b (m) summing to 1 and the squared Euclidean costs (scaled to a
    largest entry of 1) between two Gaussian clouds in the plane, shifted apart."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((n, 2)), rng.standard_normal((m, 2)) + 0.5
    a, b = rng.random(n) + 0.1, rng.random(m) + 0.1
    M = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    return a / a.sum(), b / b.sum(), (M / M.max()).astype(dtype)
