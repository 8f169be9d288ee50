// Ranged reads of the merge's input files that also hash each file front to back as a side effect: bytes are hashed
// from the buffers the merge reads them into (no second pass), gaps are read forward once, and whatever the merge never
// touched is read at the end. Re-reads of already hashed ranges (e.g. a tied embedding used twice) are not hashed again.

import { throwIfAborted } from '../errors';
import type { ByteSource, FsPort } from '../ports';
import { readFully } from '../safetensors/header';
import { Xxh32, type StripeRounds } from './xxh32';

const GAP_CHUNK = 4 * 1024 * 1024;

interface OpenFile {
  readonly src: ByteSource;
  readonly hash: Xxh32;
}

export interface FileDigest {
  readonly path: string;
  readonly size: number;
  readonly xxh32: string;
}

export class InputReader {
  private readonly files = new Map<string, OpenFile>();
  private gapBuf: Uint8Array | null = null;

  private readonly signal?: AbortSignal;
  private readonly accelerate?: StripeRounds;
  private readonly hashing: boolean;

  /**
   * `hash: false` makes it a plain ranged reader (verification re-reads sample rows and needs no digest).
   * `accelerate`: the backend's stripe rounds for the hash (Backend.xxh32Stripes).
   */
  constructor(private readonly fs: FsPort, options: { signal?: AbortSignal; accelerate?: StripeRounds; hash?: boolean } = {}) {
    this.signal = options.signal;
    this.accelerate = options.accelerate;
    this.hashing = options.hash ?? true;
  }

  private async file(path: string): Promise<OpenFile> {
    let f = this.files.get(path);
    if (!f) {
      f = { src: await this.fs.open(path), hash: new Xxh32(0, this.accelerate) };
      this.files.set(path, f);
    }
    return f;
  }

  private async hashUpTo(f: OpenFile, offset: number): Promise<void> {
    while (f.hash.length < offset) {
      this.gapBuf ??= new Uint8Array(GAP_CHUNK);
      const n = Math.min(GAP_CHUNK, offset - f.hash.length);
      const view = this.gapBuf.subarray(0, n);
      await readFully(f.src, f.hash.length, view);
      f.hash.update(view);
      throwIfAborted(this.signal);
    }
  }

  /** Fill `into` from `offset` of `path` (exactly, or a truncation error naming the file). */
  async read(path: string, offset: number, into: Uint8Array): Promise<void> {
    const f = await this.file(path);
    if (!this.hashing) return readFully(f.src, offset, into);
    await this.hashUpTo(f, offset);
    await readFully(f.src, offset, into);
    const skip = f.hash.length - offset;
    if (skip < into.length) f.hash.update(skip > 0 ? into.subarray(skip) : into);
  }

  /** Hash the rest of every file (also files never read, e.g. `extra`), close them, and return the digests. */
  async finish(extra: readonly string[] = []): Promise<FileDigest[]> {
    for (const p of extra) await this.file(p);
    const out: FileDigest[] = [];
    for (const [path, f] of this.files) {
      await this.hashUpTo(f, f.src.size);
      out.push({ path, size: f.src.size, xxh32: f.hash.digestHex() });
    }
    await this.close();
    return out;
  }

  async close(): Promise<void> {
    const all = [...this.files.values()];
    this.files.clear();
    for (const f of all) await f.src.close();
  }
}
