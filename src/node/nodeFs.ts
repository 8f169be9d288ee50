// Node adapter for the core file ports (FsPort / WritableFsPort) over node:fs.

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { threadId } from 'node:worker_threads';
import { CoreError } from '../core/errors';
import type { ByteSink, ByteSource, DirEntry, FileStat, HostEnv, WritableFsPort } from '../core/ports';

/** The CoreError for a failed Node fs call on `file` while trying to `what` (exported for fault-injecting test ports). */
export function ioError(err: unknown, file: string, what: string): CoreError {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return new CoreError('not-found', `${file}: not found.`, file);
  if (e.code === 'EACCES' || e.code === 'EPERM') return new CoreError('io', `${file}: permission denied while trying to ${what}.`, file);
  if (e.code === 'ENOSPC') return new CoreError('no-space', `${file}: no space left on the device while trying to ${what}.`, file);
  if (e.code === 'EEXIST') return new CoreError('exists', `${file}: already exists.`, file);
  if (e.code === 'ELOOP') return new CoreError('io', `${file}: too many levels of symbolic links (a symlink loop).`, file);
  if (e.code === 'EISDIR') return new CoreError('io', `${file}: is a folder, expected a file.`, file);
  return new CoreError('io', `${file}: cannot ${what} (${e.code ?? e.message}).`, file);
}

/** Reads at least this large go to a libuv thread instead of blocking the caller (the model loader stages 1 MiB reads: those stay synchronous). */
const ASYNC_READ_BYTES = 4 << 20;

class NodeByteSource implements ByteSource {
  constructor(readonly path: string, readonly size: number, private readonly fd: number) {}

  read(offset: number, into: Uint8Array): Promise<number> {
    // Straight into the caller's view (wasm memory included): no intermediate Buffer. Small reads (headers, rows) are
    // synchronous; large ones run on a libuv thread so the caller can overlap them with compute (the merge prefetches
    // the next tensor while this one is merged).
    if (into.length >= ASYNC_READ_BYTES) {
      return new Promise((resolve, reject) => {
        fs.read(this.fd, into, 0, into.length, offset, (err, n) => (err ? reject(ioError(err, this.path, 'read')) : resolve(n)));
      });
    }
    try {
      return Promise.resolve(fs.readSync(this.fd, into, 0, into.length, offset));
    } catch (err) {
      return Promise.reject(ioError(err, this.path, 'read'));
    }
  }

  close(): Promise<void> {
    fs.closeSync(this.fd);
    return Promise.resolve();
  }
}

/**
 * Most bytes one pwrite hands the kernel. Whole-tensor writes (tens to hundreds of MiB) measured several times slower
 * than the same bytes in 8 MiB pieces on the CI VM kind (dd: 64 MiB blocks 1.8-3.4 s, 8 MiB 0.35 s for 2.2 GB).
 */
const WRITE_PIECE = 8 << 20;

/** Writes data[0..length) at file offset `at` on a libuv thread, in pieces of at most WRITE_PIECE, short writes resumed. */
function writeAll(fd: number, path: string, data: Uint8Array, length: number, at: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const step = (from: number): void => {
      if (from >= length) return resolve();
      fs.write(fd, data, from, Math.min(WRITE_PIECE, length - from), at + from, (err, n) => {
        if (err) reject(ioError(err, path, 'write'));
        else step(from + n);
      });
    };
    step(0);
  });
}

class NodeByteSink implements ByteSink {
  /** File offset of the next write: writes run on a libuv thread while the caller computes the next tensor. */
  private position = 0;
  /**
   * The previous write: each starts when it ends, so one pwrite at a time holds the file (two at once contend for the
   * inode lock: the kernel spins on it, measured 5% of the merge's samples).
   */
  private tail: Promise<void> = Promise.resolve();

  constructor(readonly path: string, private readonly fd: number) {}

  write(data: Uint8Array): Promise<void> {
    const at = this.position;
    this.position += data.length;
    const run = (): Promise<void> => writeAll(this.fd, this.path, data, data.length, at);
    // A failed write fails this call; the next one still runs (and reports its own outcome).
    const done = this.tail.then(run, run);
    this.tail = done.catch(() => undefined);
    return done;
  }

  async close(): Promise<void> {
    // The fd must outlive every write still running on a libuv thread.
    await this.tail;
    fs.closeSync(this.fd);
  }
}

/** Bytes per O_DIRECT write (staging block size; a multiple of every device's logical block size). */
const DIRECT_BLOCK = 8 << 20;
const DIRECT_ALIGN = 4096;

/**
 * Page-aligned host memory for O_DIRECT, which needs the buffer address aligned as well as the file offset and length:
 * a WebAssembly.Memory's buffer is mmap'd, so it starts on a page boundary; Node Buffers give no such guarantee.
 */
function alignedBlock(bytes: number): Uint8Array {
  return new Uint8Array(new WebAssembly.Memory({ initial: bytes / 65536, maximum: bytes / 65536 }).buffer);
}

/**
 * Streams a file with O_DIRECT (Linux): bytes are copied into one of two page-aligned 8 MiB blocks, and a full block
 * goes to the device by DMA on a libuv thread while the caller fills the other. Used for the merge's multi-GB shards:
 * no copy into the page cache (on the CI VM kind a buffered write of 2.2 GB measured 0.3-4.2 s depending on whether
 * the VM had just freed memory, O_DIRECT 2.05-2.4 s), no CPU taken from the merge's compute, and a merged 7B model
 * does not evict the user's page cache. The last block is padded to the alignment and the file truncated to its size.
 */
export class DirectByteSink implements ByteSink {
  private readonly blocks = [alignedBlock(DIRECT_BLOCK), alignedBlock(DIRECT_BLOCK)];
  /** The write in flight from each block (resolved when none). */
  private readonly inFlight: Array<Promise<void>> = [Promise.resolve(), Promise.resolve()];
  private current = 0;
  private fill = 0;
  /** File offset of the current block's first byte. */
  private blockOffset = 0;
  private failure: CoreError | null = null;
  /** The previous write() call: calls copy in call order. */
  private tail: Promise<void> = Promise.resolve();

  constructor(readonly path: string, private readonly fd: number) {}

  write(data: Uint8Array): Promise<void> {
    const done = this.tail.then(() => this.copyIn(data));
    this.tail = done.catch(() => undefined);
    return done;
  }

  /** Resolves once `data` is copied into the blocks (the caller may reuse it then); a failed device write rejects. */
  private async copyIn(data: Uint8Array): Promise<void> {
    for (let from = 0; from < data.length;) {
      if (this.fill === 0) await this.inFlight[this.current];
      if (this.failure) throw this.failure;
      const n = Math.min(DIRECT_BLOCK - this.fill, data.length - from);
      this.blocks[this.current]!.set(data.subarray(from, from + n), this.fill);
      this.fill += n;
      from += n;
      if (this.fill === DIRECT_BLOCK) this.flush(DIRECT_BLOCK);
    }
    if (this.failure) throw this.failure;
  }

  /** Starts the device write of the current block's first `length` bytes and moves to the other block. */
  private flush(length: number): void {
    // Never rejects: a failure is kept and reported by the next write() or close().
    this.inFlight[this.current] = writeAll(this.fd, this.path, this.blocks[this.current]!, length, this.blockOffset)
      .catch((err: CoreError) => { this.failure ??= err; });
    this.blockOffset += length;
    this.current ^= 1;
    this.fill = 0;
  }

  async close(): Promise<void> {
    try {
      await this.tail;
      const size = this.blockOffset + this.fill;
      if (this.fill > 0) {
        const padded = Math.ceil(this.fill / DIRECT_ALIGN) * DIRECT_ALIGN;
        this.blocks[this.current]!.fill(0, this.fill, padded);
        this.flush(padded);
      }
      await Promise.all(this.inFlight);
      if (this.failure) throw this.failure;
      try {
        fs.ftruncateSync(this.fd, size);
      } catch (err) {
        throw ioError(err, this.path, 'write');
      }
    } finally {
      fs.closeSync(this.fd);
    }
  }
}

/**
 * Opens `p` for a new file's sequential write: O_DIRECT where the platform and the filesystem take it (Linux; tmpfs
 * refuses it at open, some filesystems only at the first write), else the buffered sink.
 * LORA_WORKBENCH_BUFFERED_WRITES=1 forces buffered.
 */
function openSink(p: string, direct: boolean): ByteSink {
  const O_DIRECT = (fs.constants as Record<string, number>)['O_DIRECT'];
  if (direct && O_DIRECT !== undefined && process.platform === 'linux') {
    let fd: number;
    try {
      fd = fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | O_DIRECT, 0o666);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
      return new NodeByteSink(p, fs.openSync(p, 'wx'));
    }
    // Some filesystems take the flag at open and refuse the writes: one aligned block tells, before any data.
    try {
      probeBlock ??= alignedBlock(65536);
      fs.writeSync(fd, probeBlock, 0, DIRECT_ALIGN, 0);
      fs.ftruncateSync(fd, 0);
      return new DirectByteSink(p, fd);
    } catch (err) {
      fs.closeSync(fd);
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
      return new NodeByteSink(p, fs.openSync(p, 'r+')); // the file this call created, empty
    }
  }
  return new NodeByteSink(p, fs.openSync(p, 'wx'));
}

/** Zeros for openSink's probe write (page-aligned, allocated on first use). */
let probeBlock: Uint8Array | null = null;

export function nodeHostEnv(): HostEnv {
  const p = process.platform;
  return {
    platform: p === 'linux' || p === 'darwin' || p === 'win32' ? p : 'other',
    home: os.homedir(),
    cwd: process.cwd(),
    vars: process.env,
    process: { pid: process.pid, host: os.hostname(), threadId, isAlive: isProcessAlive },
  };
}

/** Signal 0 checks existence without delivering anything; EPERM means it exists but belongs to another user. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class NodeFs implements WritableFsPort {
  /** create() streams with O_DIRECT where it can (see DirectByteSink); false: always through the page cache. */
  readonly directWrites: boolean;

  constructor(readonly env: HostEnv = nodeHostEnv(), options: { directWrites?: boolean } = {}) {
    this.directWrites = options.directWrites ?? env.vars['LORA_WORKBENCH_BUFFERED_WRITES'] !== '1';
  }

  async stat(p: string): Promise<FileStat | null> {
    try {
      const s = await fsp.stat(p);
      return { kind: s.isFile() ? 'file' : s.isDirectory() ? 'dir' : 'other', size: s.size, mtimeMs: s.mtimeMs };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw ioError(err, p, 'stat');
    }
  }

  async readDir(p: string): Promise<DirEntry[]> {
    try {
      const entries = await fsp.readdir(p, { withFileTypes: true });
      return entries.map((e) => ({
        name: e.name,
        kind: e.isFile() ? 'file' : e.isDirectory() ? 'dir' : e.isSymbolicLink() ? 'symlink' : 'other',
      }));
    } catch (err) {
      throw ioError(err, p, 'list the folder');
    }
  }

  async readFile(p: string, maxBytes?: number): Promise<Uint8Array> {
    try {
      if (maxBytes !== undefined) {
        const st = await fsp.stat(p);
        if (st.size > maxBytes) throw new CoreError('bad-format', `${p}: ${st.size} bytes is larger than the ${maxBytes}-byte limit for this file.`, p);
      }
      const buf = await fsp.readFile(p);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (err) {
      if (err instanceof CoreError) throw err;
      throw ioError(err, p, 'read');
    }
  }

  async readText(p: string, maxBytes?: number): Promise<string> {
    return new TextDecoder('utf-8').decode(await this.readFile(p, maxBytes));
  }

  async open(p: string): Promise<ByteSource> {
    try {
      const fd = fs.openSync(p, 'r');
      const size = fs.fstatSync(fd).size;
      return new NodeByteSource(p, size, fd);
    } catch (err) {
      throw ioError(err, p, 'open');
    }
  }

  async realpath(p: string): Promise<string> {
    try {
      return await fsp.realpath(p);
    } catch (err) {
      throw ioError(err, p, 'resolve');
    }
  }

  async mkdir(p: string): Promise<void> {
    try {
      await fsp.mkdir(p, { recursive: true });
    } catch (err) {
      throw ioError(err, p, 'create the folder');
    }
  }

  async create(p: string): Promise<ByteSink> {
    try {
      return openSink(p, this.directWrites);
    } catch (err) {
      throw ioError(err, p, 'create');
    }
  }

  async writeFile(p: string, data: Uint8Array | string): Promise<void> {
    try {
      await fsp.writeFile(p, data, { flag: 'wx' });
    } catch (err) {
      throw ioError(err, p, 'write');
    }
  }

  async copyFile(from: string, to: string): Promise<void> {
    try {
      await fsp.copyFile(from, to, fs.constants.COPYFILE_EXCL);
    } catch (err) {
      throw ioError(err, to, 'copy');
    }
  }

  async rename(from: string, to: string): Promise<void> {
    try {
      await fsp.rename(from, to);
    } catch (err) {
      throw ioError(err, to, 'rename');
    }
  }

  async removeTree(p: string): Promise<void> {
    try {
      await fsp.rm(p, { recursive: true, force: true });
    } catch (err) {
      throw ioError(err, p, 'remove');
    }
  }

  async freeSpace(p: string): Promise<number | null> {
    try {
      const s = await fsp.statfs(p);
      return s.bavail * s.bsize;
    } catch {
      return null;
    }
  }
}

/** Absolute, normalised, '/'-separated path from user input relative to the process CWD. */
export function absolutePath(p: string, cwd = process.cwd()): string {
  return path.resolve(cwd, p).split(path.sep).join('/');
}
