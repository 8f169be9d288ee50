// Tensor index of a torch.save zip (adapter_model.bin, pytorch_model*.bin) without executing its pickle: every tensor
// becomes a TensorInfo whose byte range points into the stored storage member, so the same ranged reads as safetensors
// apply. Plugs into readModelWeights as its BinHeaderReader. Reference: torch/serialization.py (_save, _load).

import { CoreError } from '../errors';
import type { ByteSource, FsPort } from '../ports';
import { readFully, type TensorInfo } from '../safetensors/header';
import { DTYPE_BYTES, numel } from '../tensor/dtype';
import { restrictedUnpickle, type TensorRef } from './unpickler';
import { memberDataOffset, readZipDirectory } from './zip';
import { tr } from '../text';

const MAX_PICKLE_BYTES = 256 * 1024 * 1024;

/** True for a row-major contiguous layout (dims of size 1 may carry any stride, as torch allows). */
function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  if (shape.length !== stride.length) return false;
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) return false;
    expected *= shape[i]!;
  }
  return true;
}

/** Read the tensor index of an open torch.save archive. */
export async function readTorchBinFromSource(src: ByteSource): Promise<TensorInfo[]> {
  const path = src.path;
  const magic = new Uint8Array(Math.min(4, src.size));
  await readFully(src, 0, magic);
  if (magic[0] === 0x80 && magic[1] === 0x02) {
    throw new CoreError('unsupported', tr`${path}: this is the legacy (pre-PyTorch 1.6) torch.save format, which is not supported; re-save it with a current PyTorch or convert it to safetensors.`, path);
  }
  if (!(magic[0] === 0x50 && magic[1] === 0x4b)) {
    const head = new TextDecoder().decode(magic);
    if (head === 'vers') throw new CoreError('bad-format', tr`${path}: this is a Git LFS pointer, not the weights (run 'git lfs pull').`, path);
    throw new CoreError('bad-format', tr`${path}: not a torch.save zip archive.`, path);
  }
  const dir = await readZipDirectory(src);
  const pklName = [...dir.entries.keys()].find((n) => n === 'data.pkl' || /^[^/]+\/data\.pkl$/.test(n));
  if (!pklName) throw new CoreError('bad-format', tr`${path}: the archive has no data.pkl (not a torch.save file).`, path);
  const prefix = pklName.slice(0, pklName.length - 'data.pkl'.length);
  const byteorder = dir.entries.get(`${prefix}byteorder`);
  if (byteorder) {
    const b = new Uint8Array(Math.min(byteorder.size, 16));
    await readFully(src, await memberDataOffset(src, byteorder), b);
    if (new TextDecoder().decode(b) !== 'little') throw new CoreError('unsupported', tr`${path}: big-endian tensor storages are not supported.`, path);
  }
  const pkl = dir.entries.get(pklName)!;
  if (pkl.size > MAX_PICKLE_BYTES) throw new CoreError('bad-format', tr`${path}: data.pkl is implausibly large (${pkl.size} bytes).`, path);
  // The member's bounds are checked against the file before its size (a field of the archive) sizes an allocation.
  const pklAt = await memberDataOffset(src, pkl);
  const pklBytes = new Uint8Array(pkl.size);
  await readFully(src, pklAt, pklBytes);
  const root = restrictedUnpickle(pklBytes, path);
  if (!(root instanceof Map)) throw new CoreError('bad-format', tr`${path}: the pickle does not hold a state dict (a dict of tensors).`, path);
  const out: TensorInfo[] = [];
  const storageStart = new Map<string, { begin: number; size: number }>();
  for (const [name, value] of root) {
    if (typeof name !== 'string') throw new CoreError('bad-format', tr`${path}: a state-dict key is not a string.`, path);
    const t = value as TensorRef;
    if (!t || typeof t !== 'object' || (t as { kind?: unknown }).kind !== 'tensor') {
      throw new CoreError('bad-format', tr`${path}: state-dict entry '${name}' is not a tensor.`, path);
    }
    if (!isContiguous(t.shape, t.stride)) {
      throw new CoreError('unsupported', tr`${path}: tensor '${name}' is stored non-contiguously (stride ${JSON.stringify(t.stride)}); re-save it with .contiguous().`, path);
    }
    let member = storageStart.get(t.storage.key);
    if (!member) {
      const entry = dir.entries.get(`${prefix}data/${t.storage.key}`);
      if (!entry) throw new CoreError('bad-format', tr`${path}: storage '${t.storage.key}' of tensor '${name}' is missing from the archive.`, path);
      member = { begin: await memberDataOffset(src, entry), size: entry.size };
      storageStart.set(t.storage.key, member);
    }
    const elem = DTYPE_BYTES[t.storage.dtype];
    const begin = member.begin + t.offset * elem;
    const bytes = numel(t.shape) * elem;
    if ((t.offset + numel(t.shape)) * elem > member.size) {
      throw new CoreError('bad-format', tr`${path}: tensor '${name}' runs past the end of its storage (truncated or corrupt).`, path);
    }
    out.push({ name, dtype: t.storage.dtype, shape: t.shape, begin, end: begin + bytes });
  }
  return out;
}

/** BinHeaderReader for readModelWeights. */
export async function readTorchBinTensors(fs: FsPort, file: string): Promise<readonly TensorInfo[]> {
  const src = await fs.open(file);
  try {
    return await readTorchBinFromSource(src);
  } finally {
    await src.close();
  }
}
