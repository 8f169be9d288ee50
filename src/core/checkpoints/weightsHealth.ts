// Artifact health of adapter weight files from a few header/trailer bytes: Git-LFS pointers, truncated or malformed
// safetensors (via safetensors/header.ts), ZeRO-3 empty tensors, tiny or truncated torch.save zips (end-of-central-
// directory check, APPNOTE.TXT 4.3.16 / 4.3.14). Never reads tensor data.

import { CoreError } from '../errors';
import type { ByteSource, FsPort } from '../ports';
import { readFully } from '../safetensors/header';
import { summarizeSafetensorsHeader, type HeaderSummary } from './headerSummary';
import type { Health } from './model';
import { errorTextFields, tr, textFields } from '../text';

const LFS_PREFIX = 'version https://git-lfs';
/** Adapter configs and headers larger than this are not read during a scan (a real one is a few KB / MB). */
export const MAX_SCAN_HEADER_BYTES = 16 * 1024 * 1024;
/** A torch.save zip of a non-empty LoRA state dict is several KB; 443/888-byte files are empty dicts (tloen/alpaca-lora#293). */
export const TINY_BIN_BYTES = 1024;

export interface WeightsCheck {
  readonly size: number | null;
  readonly header: HeaderSummary | null;
  readonly health: Health[];
}

async function head(src: ByteSource, n: number): Promise<Uint8Array> {
  const buf = new Uint8Array(Math.min(n, src.size));
  await readFully(src, 0, buf);
  return buf;
}

function ascii(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

function lfsHealth(file: string, size: number, text: string): Health {
  const m = /size (\d+)/.exec(text);
  const real = m ? tr` of ${m[1]} bytes` : '';
  return {
    code: 'lfs-pointer',
    severity: 'error',
    ...textFields(tr`${file}: is a ${size}-byte Git LFS pointer, not the weights${real}. Run 'git lfs pull' (or download the file) to get them.`),
    file,
  };
}

async function openChecked(fs: FsPort, file: string, health: Health[]): Promise<ByteSource | null> {
  try {
    return await fs.open(file);
  } catch (e) {
    const err = e instanceof CoreError ? e : null;
    health.push({
      code: err?.code === 'not-found' ? 'missing-weights' : 'unreadable',
      severity: 'error',
      ...textFields(err?.code === 'not-found' ? tr`${file}: the file is missing (a dangling link?).` : tr`${file}: cannot be read (${(e as Error).message}).`),
      file,
    });
    return null;
  }
}

/** Check a safetensors weights file from its header. */
export async function checkSafetensors(fs: FsPort, file: string): Promise<WeightsCheck> {
  const health: Health[] = [];
  const src = await openChecked(fs, file, health);
  if (!src) return { size: null, header: null, health };
  try {
    // One read covers the length, an LFS pointer and (for adapters) the whole header, into a pooled buffer:
    // a scan reads thousands of headers and fresh 64 KB buffers would keep the GC busy.
    const scratch = scratchPool.pop() ?? new Uint8Array(SCRATCH_BYTES);
    try {
      return await checkSafetensorsHeader(src, file, scratch, health);
    } finally {
      scratchPool.push(scratch);
    }
  } finally {
    await src.close();
  }
}

const SCRATCH_BYTES = 64 * 1024;
const scratchPool: Uint8Array[] = [];

async function checkSafetensorsHeader(src: ByteSource, file: string, scratch: Uint8Array, health: Health[]): Promise<WeightsCheck> {
  const size = src.size;
  // 4 KB covers the length and an LFS pointer; the rest of the header is read exactly (a sparse or huge file's data
  // section is never touched, and no 64 KB copy per file).
  let start = scratch.subarray(0, Math.min(size, 4096));
  await readFully(src, 0, start);
  const text = ascii(start.subarray(0, 64));
  if (text.startsWith(LFS_PREFIX)) {
    health.push(lfsHealth(file, size, ascii(start.subarray(0, 512))));
    return { size, header: null, health };
  }
  if (size < 8) {
    health.push({ code: 'truncated', severity: 'error', ...textFields(tr`${file}: ${size} bytes is too small to be a safetensors file (truncated).`), file });
    return { size, header: null, health };
  }
  const dv = new DataView(start.buffer, start.byteOffset, 8);
  const headerLen = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
  if (8 + headerLen > size) {
    health.push({ code: 'truncated', severity: 'error', ...textFields(tr`${file}: the header claims ${headerLen} bytes but the file has ${size}: truncated (incomplete download or copy?).`), file });
    return { size, header: null, health };
  }
  if (headerLen > MAX_SCAN_HEADER_BYTES) {
    health.push({ code: 'malformed', severity: 'error', ...textFields(tr`${file}: header length ${headerLen} is implausible for an adapter (corrupt or not safetensors).`), file });
    return { size, header: null, health };
  }
  if (8 + headerLen > start.length) {
    start = 8 + headerLen <= SCRATCH_BYTES ? scratch.subarray(0, 8 + headerLen) : new Uint8Array(8 + headerLen);
    await readFully(src, 4096, start.subarray(4096));
    if (start.buffer !== scratch.buffer) start.set(scratch.subarray(0, 4096));
  }
  const headerBytes = start.subarray(8, 8 + headerLen);
  let header: HeaderSummary;
  try {
    header = summarizeSafetensorsHeader(file, headerBytes, size);
  } catch (e) {
    const msg = (e as Error).message;
    health.push({ code: /truncated/.test(msg) ? 'truncated' : 'malformed', severity: 'error', ...errorTextFields(e), file });
    return { size, header: null, health };
  }
  if (header.tensorCount === 0) {
    health.push({
      code: 'empty-tensors',
      severity: 'error',
      ...textFields(tr`${file}: holds no tensors (${size} bytes): typical of DeepSpeed ZeRO-3 saving without gathering the weights (huggingface/peft#2892). Re-save with the weights gathered (stage3_gather_16bit_weights_on_model_save).`),
      file,
    });
  } else if (header.zeroSized > 0) {
    const z = header.firstZeroSized!;
    health.push({
      code: 'empty-tensors',
      severity: 'error',
      ...textFields(tr`${file}: ${header.zeroSized} of ${header.tensorCount} tensors have zero elements (e.g. '${z.name}' ${JSON.stringify(z.shape)}): DeepSpeed ZeRO-3 saved partitioned placeholders (huggingface/peft#2450). Re-save with the weights gathered.`),
      file,
    });
  }
  return { size, header, health };
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CDH_SIG = 0x02014b50;

/** Where the central directory lies, or a reason the zip is broken. Exported for tests. */
export async function checkZipTrailer(src: ByteSource): Promise<{ ok: true; entries: number } | { ok: false; truncated: boolean; reason: string }> {
  const size = src.size;
  // The EOCD record is 22 bytes plus a comment of at most 65535 bytes, at the very end.
  const tailLen = Math.min(size, 22 + 65535);
  const tail = new Uint8Array(tailLen);
  await readFully(src, size - tailLen, tail);
  const dv = new DataView(tail.buffer);
  let at = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (dv.getUint32(i, true) === EOCD_SIG && i + 22 + dv.getUint16(i + 20, true) <= tailLen) {
      at = i;
      break;
    }
  }
  if (at < 0) return { ok: false, truncated: true, reason: 'it has no zip end-of-central-directory record: the file was cut off' };
  const eocdPos = size - tailLen + at;
  let entries = dv.getUint16(at + 10, true);
  let cdSize = dv.getUint32(at + 12, true);
  let cdOffset = dv.getUint32(at + 16, true);
  let cdEndLimit = eocdPos;
  if (cdOffset === 0xffffffff || cdSize === 0xffffffff || entries === 0xffff) {
    if (at < 20 || dv.getUint32(at - 20, true) !== ZIP64_LOCATOR_SIG) {
      return { ok: false, truncated: false, reason: 'its zip64 locator is missing' };
    }
    const z64Pos = Number(dv.getBigUint64(at - 20 + 8, true));
    if (z64Pos + 56 > size) return { ok: false, truncated: true, reason: 'its zip64 directory record lies past the end of the file' };
    const rec = new Uint8Array(56);
    await readFully(src, z64Pos, rec);
    const r = new DataView(rec.buffer);
    if (r.getUint32(0, true) !== ZIP64_EOCD_SIG) return { ok: false, truncated: false, reason: 'its zip64 directory record is corrupt' };
    entries = Number(r.getBigUint64(32, true));
    cdSize = Number(r.getBigUint64(40, true));
    cdOffset = Number(r.getBigUint64(48, true));
    cdEndLimit = z64Pos;
  }
  if (cdOffset + cdSize > cdEndLimit) {
    return { ok: false, truncated: true, reason: `its central directory (${cdSize} bytes at ${cdOffset}) does not fit before the end record: data is missing` };
  }
  if (entries > 0) {
    const sig = new Uint8Array(4);
    await readFully(src, cdOffset, sig);
    if (new DataView(sig.buffer).getUint32(0, true) !== CDH_SIG) {
      return { ok: false, truncated: true, reason: 'its central directory is not where the end record says: bytes were lost' };
    }
  }
  return { ok: true, entries };
}

/** Check an adapter_model.bin (torch.save zip) without unpickling it. */
export async function checkTorchBin(fs: FsPort, file: string): Promise<WeightsCheck> {
  const health: Health[] = [];
  const src = await openChecked(fs, file, health);
  if (!src) return { size: null, header: null, health };
  try {
    const size = src.size;
    const start = await head(src, 64);
    const text = ascii(start);
    if (text.startsWith(LFS_PREFIX)) {
      health.push(lfsHealth(file, size, ascii(await head(src, 512))));
      return { size, header: null, health };
    }
    if (size < TINY_BIN_BYTES) {
      health.push({
        code: 'tiny-weights',
        severity: 'error',
        ...textFields(tr`${file}: only ${size} bytes: an empty state dict, not LoRA weights (tloen/alpaca-lora#293: a PEFT/transformers version mismatch or a save hook that dropped the weights). Re-save the adapter.`),
        file,
      });
      return { size, header: null, health };
    }
    if (text.startsWith('PK\x03\x04')) {
      const z = await checkZipTrailer(src);
      if (!z.ok) {
        health.push({ code: z.truncated ? 'truncated' : 'malformed', severity: 'error', ...textFields(tr`${file}: ${z.reason} (${size} bytes). Copy or download it again.`), file });
      } else if (z.entries === 0) {
        health.push({ code: 'empty-tensors', severity: 'error', ...textFields(tr`${file}: the zip archive is empty.`), file });
      }
    } else if (start[0] === 0x80) {
      health.push({ code: 'legacy-pickle', severity: 'info', ...textFields(tr`${file}: legacy (pre torch 1.6) torch.save format; its integrity is not checked.`), file });
    } else {
      health.push({ code: 'malformed', severity: 'error', ...textFields(tr`${file}: neither a torch.save zip nor a pickle (starts with ${JSON.stringify(text.slice(0, 8))}).`), file });
    }
    return { size, header: null, health };
  } finally {
    await src.close();
  }
}
