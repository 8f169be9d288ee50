// Node adapter for the core file ports (FsPort / WritableFsPort) over node:fs.

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { CoreError } from '../core/errors';
import type { ByteSink, ByteSource, DirEntry, FileStat, HostEnv, WritableFsPort } from '../core/ports';

function ioError(err: unknown, file: string, what: string): CoreError {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return new CoreError('not-found', `${file}: not found.`, file);
  if (e.code === 'EACCES' || e.code === 'EPERM') return new CoreError('io', `${file}: permission denied while trying to ${what}.`, file);
  if (e.code === 'ENOSPC') return new CoreError('no-space', `${file}: no space left on the device.`, file);
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

class NodeByteSink implements ByteSink {
  /** File offset of the next write: positional writes let several be in flight (libuv threads) and still land in order. */
  private position = 0;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(readonly path: string, private readonly fd: number) {}

  write(data: Uint8Array): Promise<void> {
    const at = this.position;
    this.position += data.length;
    const done = new Promise<void>((resolve, reject) => {
      const step = (from: number): void => {
        if (from >= data.length) return resolve();
        fs.write(this.fd, data, from, data.length - from, at + from, (err, n) => {
          if (err) reject(ioError(err, this.path, 'write'));
          else step(from + n);
        });
      };
      step(0);
    });
    this.inFlight.add(done);
    const forget = (): void => void this.inFlight.delete(done);
    done.then(forget, forget);
    return done;
  }

  async close(): Promise<void> {
    // The fd must outlive every write still running on a libuv thread.
    await Promise.allSettled([...this.inFlight]);
    fs.closeSync(this.fd);
  }
}

export function nodeHostEnv(): HostEnv {
  const p = process.platform;
  return {
    platform: p === 'linux' || p === 'darwin' || p === 'win32' ? p : 'other',
    home: os.homedir(),
    cwd: process.cwd(),
    vars: process.env,
  };
}

export class NodeFs implements WritableFsPort {
  constructor(readonly env: HostEnv = nodeHostEnv()) {}

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
      return new NodeByteSink(p, fs.openSync(p, 'wx'));
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
    await fsp.rm(p, { recursive: true, force: true });
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
