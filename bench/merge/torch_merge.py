#!/usr/bin/python3
"""PEFT-style baseline for bench/merge: load the whole base and adapter into memory with torch, merge every LoRA module
((B @ A) * scaling added to W in float32, rounded to the base dtype; modules_to_save replace tensors) and save sharded
safetensors - what merge_and_unload + save_pretrained amount to, without PEFT/transformers (not installed here).
Usage: /usr/bin/python3 bench/merge/torch_merge.py <base> <adapter> <out>
"""
import json
import os
import struct
import sys

import numpy as np
import torch

DT = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16}
NAMES = {v: k for k, v in DT.items()}


def load(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        b, e = info['data_offsets']
        raw = np.frombuffer(data, dtype=np.uint8, count=e - b, offset=b)
        dt = DT[info['dtype']]
        if dt == torch.bfloat16:
            t = torch.from_numpy(raw.view(np.int16).copy()).view(torch.bfloat16)
        else:
            t = torch.from_numpy(raw.view(np.float16 if dt == torch.float16 else np.float32).copy())
        out[name] = t.reshape(info['shape'])
    return out


def save(path, tensors):
    header = {'__metadata__': {'format': 'pt'}}
    off = 0
    blobs = []
    for name, t in tensors.items():
        raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).contiguous().numpy().tobytes()
        header[name] = {'dtype': NAMES[t.dtype], 'shape': list(t.shape), 'data_offsets': [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h)
        for b in blobs:
            f.write(b)


def main():
    base, adapter, out = sys.argv[1:4]
    index = json.load(open(os.path.join(base, 'model.safetensors.index.json')))
    model = {}
    for shard in sorted(set(index['weight_map'].values())):
        model.update(load(os.path.join(base, shard)))
    cfg = json.load(open(os.path.join(adapter, 'adapter_config.json')))
    ad = load(os.path.join(adapter, 'adapter_model.safetensors'))
    p = 'base_model.model.'
    for k, t in ad.items():
        n = k[len(p):]
        if n.endswith('.lora_A.weight'):
            m = n[:-len('.lora_A.weight')]
            B = ad[p + m + '.lora_B.weight']
            s = cfg['lora_alpha'] / cfg['r']
            W = model[m + '.weight']
            model[m + '.weight'] = (W.float() + (B.float() @ t.float()) * s).to(W.dtype)
        elif '.lora_' not in n:
            model[n] = t.to(model[n].dtype)
    os.makedirs(out)
    shards, cur, size = [[]], 0, 5_000_000_000
    for name, t in model.items():
        nb = t.numel() * t.element_size()
        if shards[-1] and cur + nb > size:
            shards.append([])
            cur = 0
        shards[-1].append(name)
        cur += nb
    wm = {}
    for i, names in enumerate(shards):
        fname = f'model-{i + 1:05d}-of-{len(shards):05d}.safetensors'
        save(os.path.join(out, fname), {n: model[n] for n in names})
        for n in names:
            wm[n] = fname
    json.dump({'metadata': {'total_size': sum(t.numel() * t.element_size() for t in model.values())}, 'weight_map': wm},
              open(os.path.join(out, 'model.safetensors.index.json'), 'w'))


if __name__ == '__main__':
    main()
