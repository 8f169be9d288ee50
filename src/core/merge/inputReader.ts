// Ranged reads of the merge's input files that also hash each file front to back as a side effect: bytes are hashed
// from the buffers the merge reads them into (no second pass), gaps are read forward once, and whatever the merge never
// touched is read at the end. Re-reads of already hashed ranges (e.g. a tied embedding used twice) are not hashed again.
// Each file's size and mtime at open are checked again at the end and before publishing: a changed input fails the merge.

import { CoreError, throwIfAborted } from '../errors';
import type { ByteSource, FsPort } from '../ports';
import type { FileStamp } from './plan';
import { readFully } from '../safetensors/header';
import { tr, type Text } from '../text';
import { Xxh32, type StripeRounds } from './xxh32';

const GAP_CHUNK = 4 * 1024 * 1024;

interface OpenFile {
  readonly src: ByteSource;
  /** Modification time when opened: compared again at the end, so a file rewritten mid-way is never merged. */
  readonly mtimeMs: number;
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

/** The error for an input whose size or mtime moved between two looks at it. */
export function changedError(path: string, was: FileStamp, now: FileStamp | null): CoreError {
  const stamp = (s: FileStamp): Text => tr`${s.size} bytes, modified ${new Date(s.mtimeMs).toISOString()}`;
  const nowText = now ? stamp(now) : tr`gone`;
  return new CoreError('io', tr`${path}: changed while merging (${stamp(was)} when planned or opened; now ${nowText}); nothing was written. Merge again once the file stays unchanged.`, path);
}

export class InputReader {
  private readonly files = new Map<string, Promise<OpenFile>>();
  /** Every file ever opened (kept after close) with its size and mtime then, for assertUnchanged. */
  private readonly opened = new Map<string, Promise<OpenFile>>();

  private readonly signal?: AbortSignal;
  private readonly accelerate?: StripeRounds;
  private readonly hashing: boolean;
  private readonly expect?: Readonly<Record<string, FileStamp>>;

  /**
   * `hash: false` makes it a plain ranged reader (verification re-reads sample rows and needs no digest).
   * `accelerate`: the backend's stripe rounds for the hash (Backend.xxh32Stripes).
   */
  /** `expect`: stamps of the files when the merge was planned (a file that differs already is refused at open). */
  constructor(private readonly fs: FsPort, options: { signal?: AbortSignal; accelerate?: StripeRounds; hash?: boolean; expect?: Readonly<Record<string, FileStamp>> } = {}) {
    this.expect = options.expect;
    this.signal = options.signal;
    this.accelerate = options.accelerate;
    this.hashing = options.hash ?? true;
  }

  private file(path: string): Promise<OpenFile> {
    let f = this.files.get(path);
    if (!f) {
      f = this.fs.open(path).then(async (src) => {
        const st = await this.fs.stat(path).catch(async (err: unknown) => {
          await src.close();
          throw err;
        });
        const opened: OpenFile = { src, mtimeMs: st?.mtimeMs ?? NaN, hash: new Xxh32(0, this.accelerate), queue: Promise.resolve(), gapBuf: null };
        const planned = this.expect?.[path];
        if (planned && (planned.size !== src.size || planned.mtimeMs !== opened.mtimeMs)) {
          await src.close();
          throw changedError(path, planned, st);
        }
        return opened;
      });
      this.files.set(path, f);
      this.opened.set(path, f);
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
    await this.assertUnchanged(); // after the last byte is hashed: the digests describe one version of each file
    return out;
  }

  /**
   * Fail when an input's size or modification time differs from when it was opened (rewritten, truncated or replaced
   * under the merge): its bytes may mix two versions, which the content hash alone would only record, not prevent.
   */
  async assertUnchanged(): Promise<void> {
    const changed = await this.firstChange(false);
    if (changed) throw changed;
  }

  /** The root cause of a failed merge: an input that changed under it (which can surface as anything), else `err`. */
  async explain(err: unknown): Promise<unknown> {
    return (await this.firstChange(true)) ?? err;
  }

  /** The error for the first input that changed since it was opened; `lenient`: a failing stat is not a change. */
  private async firstChange(lenient: boolean): Promise<CoreError | null> {
    for (const [path, opening] of this.opened) {
      const f = await opening.catch(() => null);
      if (!f) continue;
      const st = lenient ? await this.fs.stat(path).catch(() => undefined) : await this.fs.stat(path);
      if (st === undefined) continue;
      if (!st || st.size !== f.src.size || st.mtimeMs !== f.mtimeMs) return changedError(path, { size: f.src.size, mtimeMs: f.mtimeMs }, st);
    }
    return null;
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
