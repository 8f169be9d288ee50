"""Minimal safetensors reader/writer (format: u64 LE header length, JSON header, raw LE data).

Reference: the safetensors format spec (huggingface/safetensors README). Written here because the
`safetensors` Python package is not available on the dev machine. F32/F16/BF16/I64 only.
"""
import json
import struct

import numpy as np
import torch

_DTYPES = {
    "F32": (torch.float32, np.float32, 4),
    "F16": (torch.float16, np.float16, 2),
    "I64": (torch.int64, np.int64, 8),
    "BF16": (torch.bfloat16, None, 2),
}
_TORCH_TO_ST = {torch.float32: "F32", torch.float16: "F16", torch.int64: "I64", torch.bfloat16: "BF16"}


def read_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n).decode("utf-8"))
    return n, header


def load(path):
    """Returns (tensors: dict name -> torch.Tensor (copied), metadata: dict or None)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    base = 8 + n
    meta = header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        dtype = info["dtype"]
        if dtype not in _DTYPES:
            raise ValueError(f"{path}: unsupported dtype {dtype} for {name}")
        tdtype, npdtype, size = _DTYPES[dtype]
        begin, end = info["data_offsets"]
        shape = info["shape"]
        count = 1
        for d in shape:
            count *= d
        if end - begin != count * size:
            raise ValueError(f"{path}: {name} has {end - begin} bytes, expected {count * size}")
        buf = raw[base + begin : base + end]
        if dtype == "BF16":
            u16 = np.frombuffer(buf, dtype="<u2").astype(np.int32) << 16
            t = torch.from_numpy(u16.view(np.float32).copy()).to(torch.bfloat16)
        else:
            t = torch.from_numpy(np.frombuffer(buf, dtype=np.dtype(npdtype).newbyteorder("<")).copy())
        out[name] = t.reshape(shape)
    return out, meta


def save(path, tensors, metadata=None):
    """Writes like safetensors' `save_file`: compact JSON header with __metadata__ first, tensors in
    name order (all same alignment here), header padded with spaces to a multiple of 8 bytes."""
    names = sorted(tensors)
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    blobs = []
    offset = 0
    for name in names:
        t = tensors[name].detach().contiguous().cpu()
        if t.dtype not in _TORCH_TO_ST:
            raise ValueError(f"unsupported dtype {t.dtype} for {name}")
        if t.dtype == torch.bfloat16:
            data = (t.float().numpy().view(np.uint32) >> 16).astype("<u2").tobytes()
        else:
            data = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _TORCH_TO_ST[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    pad = (8 - len(hjson) % 8) % 8
    hjson += b" " * pad
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)
