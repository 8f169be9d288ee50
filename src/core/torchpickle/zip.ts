// Minimal read-only zip directory reader for torch.save archives: central directory (zip64 included) and the byte range
// of each stored (uncompressed) member, so tensor storages can be read in place. Reference: PKWARE APPNOTE 6.3.
// torch.save writes every member stored (method 0), 64-byte aligned; compressed members are refused, not inflated.

import { CoreError } from '../errors';
import type { ByteSource } from '../ports';
import { readFully } from '../safetensors/header';
import { tr } from '../text';

export interface ZipEntry {
  readonly name: string;
  /** 0 = stored. */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
}

export interface ZipDirectory {
  readonly entries: ReadonlyMap<string, ZipEntry>;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;

/** A little-endian 64-bit field at `at`; a field past the record or beyond 2^53 is a corrupt archive, reported by `bad`. */
function u64(dv: DataView, at: number, bad: (why: string) => CoreError): number {
  if (at + 8 > dv.byteLength) throw bad('zip64 field past the end of its record');
  const v = dv.getUint32(at, true) + dv.getUint32(at + 4, true) * 2 ** 32;
  if (!Number.isSafeInteger(v)) throw bad('64-bit zip field beyond 2^53');
  return v;
}

/** Read the central directory. Throws CoreError('bad-format') for anything that is not a sane zip. */
export async function readZipDirectory(src: ByteSource): Promise<ZipDirectory> {
  const bad = (why: string): CoreError => new CoreError('bad-format', tr`${src.path}: not a readable torch.save zip archive (${why}).`, src.path);
  if (src.size < 22) throw bad('too small');
  const tailLen = Math.min(src.size, 22 + 65535);
  const tail = new Uint8Array(tailLen);
  await readFully(src, src.size - tailLen, tail);
  const tdv = new DataView(tail.buffer);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tdv.getUint32(i, true) === EOCD_SIG) { eocd = i; break; }
  }
  if (eocd < 0) throw bad('no end-of-central-directory record; truncated or not a zip');
  let count = tdv.getUint16(eocd + 10, true);
  let cdSize = tdv.getUint32(eocd + 12, true);
  let cdOffset = tdv.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || tdv.getUint32(loc, true) !== ZIP64_LOCATOR_SIG) throw bad('zip64 locator missing');
    const z64At = u64(tdv, loc + 8, bad);
    const z64 = new Uint8Array(56);
    if (z64At + 56 > src.size) throw bad('zip64 record past the end of the file');
    await readFully(src, z64At, z64);
    const zdv = new DataView(z64.buffer);
    if (zdv.getUint32(0, true) !== ZIP64_EOCD_SIG) throw bad('zip64 end record missing');
    count = u64(zdv, 32, bad);
    cdSize = u64(zdv, 40, bad);
    cdOffset = u64(zdv, 48, bad);
  }
  if (cdOffset + cdSize > src.size || cdSize > 256 * 1024 * 1024) throw bad('central directory out of range');
  const cd = new Uint8Array(cdSize);
  await readFully(src, cdOffset, cd);
  const dv = new DataView(cd.buffer);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  const dec = new TextDecoder();
  for (let k = 0; k < count; k++) {
    if (p + 46 > cdSize || dv.getUint32(p, true) !== CENTRAL_SIG) throw bad('corrupt central directory');
    const method = dv.getUint16(p + 10, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let localHeaderOffset = dv.getUint32(p + 42, true);
    if (p + 46 + nameLen + extraLen + commentLen > cdSize) throw bad('corrupt central directory entry');
    const name = dec.decode(cd.subarray(p + 46, p + 46 + nameLen));
    // zip64 extra field: the 64-bit values appear only for the fields that hold 0xffffffff, in this order.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = dv.getUint16(e, true);
      const len = dv.getUint16(e + 2, true);
      if (id === 0x0001) {
        if (e + 4 + len > extraEnd) throw bad(`member '${name}' has a zip64 extra field longer than its extra data`);
        // Only the bytes of this field: a short field must not read its neighbours' bytes as sizes.
        const field = new DataView(cd.buffer, cd.byteOffset + e + 4, len);
        let q = 0;
        if (size === 0xffffffff) { size = u64(field, q, bad); q += 8; }
        if (compressedSize === 0xffffffff) { compressedSize = u64(field, q, bad); q += 8; }
        if (localHeaderOffset === 0xffffffff) { localHeaderOffset = u64(field, q, bad); q += 8; }
      }
      e += 4 + len;
    }
    if (localHeaderOffset + 30 + compressedSize > src.size) throw bad(`member '${name}' extends past the end of the file (truncated)`);
    if (method === 0 && size !== compressedSize) throw bad(`stored member '${name}' has two different sizes (${size} and ${compressedSize})`);
    if (entries.has(name)) throw bad(`member '${name}' appears twice`);
    entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return { entries };
}

/** Absolute file offset of a stored member's data (reads its local header for the name/extra lengths). */
export async function memberDataOffset(src: ByteSource, entry: ZipEntry): Promise<number> {
  if (entry.method !== 0) {
    throw new CoreError('unsupported', tr`${src.path}: member '${entry.name}' is compressed (method ${entry.method}); torch.save archives store members uncompressed.`, src.path);
  }
  const h = new Uint8Array(30);
  await readFully(src, entry.localHeaderOffset, h);
  const dv = new DataView(h.buffer);
  if (dv.getUint32(0, true) !== LOCAL_SIG) throw new CoreError('bad-format', tr`${src.path}: corrupt local header for '${entry.name}'.`, src.path);
  const start = entry.localHeaderOffset + 30 + dv.getUint16(26, true) + dv.getUint16(28, true);
  if (start + entry.size > src.size) throw new CoreError('bad-format', tr`${src.path}: member '${entry.name}' is truncated.`, src.path);
  return start;
}
