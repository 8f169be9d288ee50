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
  /** The file's reads run one after another in call order, so the hash always advances front to back. */
  queue: Promise<unknown>;
  /** For hashing ranges nobody asked for; per file, since reads of different files overlap. */
  gapBuf: Uint8Array | null;
}

export interface FileDigest {
  readonly path: string;
  readonly size: number;
  readonly xxh32: string;
}

export class InputReader {
  private readonly files = new Map<string, Promise<OpenFile>>();

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

  private file(path: string): Promise<OpenFile> {
    let f = this.files.get(path);
    if (!f) {
      f = this.fs.open(path).then((src) => ({ src, hash: new Xxh32(0, this.accelerate), queue: Promise.resolve(), gapBuf: null }));
      this.files.set(path, f);
    }
    return f;
  }

  private async hashUpTo(f: OpenFile, offset: number): Promise<void> {
    while (f.hash.length < offset) {
      f.gapBuf ??= new Uint8Array(GAP_CHUNK);
      const n = Math.min(GAP_CHUNK, offset - f.hash.length);
      const view = f.gapBuf.subarray(0, n);
      await readFully(f.src, f.hash.length, view);
      f.hash.update(view);
      throwIfAborted(this.signal);
    }
  }

  /**
   * Fill `into` from `offset` of `path` (exactly, or a truncation error naming the file). Several reads may be in
   * flight (the merge reads the next tensor ahead); those of one file run in call order.
   */
  async read(path: string, offset: number, into: Uint8Array): Promise<void> {
    const f = await this.file(path);
    if (!this.hashing) return readFully(f.src, offset, into);
    const run = f.queue.then(async () => {
      await this.hashUpTo(f, offset);
      await readFully(f.src, offset, into);
      const skip = f.hash.length - offset;
      if (skip < into.length) f.hash.update(skip > 0 ? into.subarray(skip) : into);
    });
    f.queue = run.catch(() => undefined);
    return run;
  }

  /** Hash the rest of every file (also files never read, e.g. `extra`), close them, and return the digests. */
  async finish(extra: readonly string[] = []): Promise<FileDigest[]> {
    for (const p of extra) await this.file(p);
    const out: FileDigest[] = [];
    for (const [path, opening] of this.files) {
      const f = await opening;
      await f.queue;
      await this.hashUpTo(f, f.src.size);
      out.push({ path, size: f.src.size, xxh32: f.hash.digestHex() });
    }
    await this.close();
    return out;
  }

  async close(): Promise<void> {
    const all = [...this.files.values()];
    this.files.clear();
    for (const opening of all) {
      const f = await opening.catch(() => null);
      if (!f) continue;
      await f.queue;
      await f.src.close();
    }
  }
}
