// A WritableFsPort over the real NodeFs that fails its Nth operation (every port call, every ByteSource read/close and
// ByteSink write/close counts) the way the Node adapter reports that errno: ENOSPC, EIO, EACCES; or shortens the Nth
// ranged read (half the bytes: a reader must resume) or ends it early (0 bytes: a file cut short under the reader).

import type { ByteSink, ByteSource, DirEntry, FileStat, HostEnv, WritableFsPort } from '../../src/core/ports';
import { NodeFs, ioError } from '../../src/node/nodeFs';

export type FaultKind = 'ENOSPC' | 'EIO' | 'EACCES' | 'short' | 'eof';

type Op = 'stat' | 'readDir' | 'readFile' | 'open' | 'realpath' | 'mkdir' | 'create' | 'writeFile' | 'copyFile' | 'rename' | 'removeTree' | 'read' | 'write' | 'sourceClose' | 'sinkClose';

/** What each operation is called in the adapter's messages ("cannot <what>"). */
const WHAT: Record<Op, string> = {
  stat: 'stat', readDir: 'list the folder', readFile: 'read', open: 'open', realpath: 'resolve', mkdir: 'create the folder',
  create: 'create', writeFile: 'write', copyFile: 'copy', rename: 'rename', removeTree: 'remove', read: 'read', write: 'write',
  sourceClose: 'close', sinkClose: 'write',
};

const WRITES: ReadonlySet<Op> = new Set(['mkdir', 'create', 'writeFile', 'copyFile', 'rename', 'write', 'sinkClose']);

/** Whether a fault of `kind` can happen on `op` (a full disk fails writes only; permissions are checked at open). */
export function faultApplies(kind: FaultKind, op: Op): boolean {
  switch (kind) {
    case 'ENOSPC': return WRITES.has(op);
    case 'EACCES': return op !== 'read' && op !== 'write' && op !== 'sourceClose' && op !== 'sinkClose';
    case 'EIO': return true;
    case 'short': case 'eof': return op === 'read';
  }
}

export interface Injected {
  readonly op: Op;
  readonly path: string;
  readonly kind: FaultKind;
}

export class FaultFs implements WritableFsPort {
  private readonly inner: NodeFs;
  /** Operations so far, in call order. */
  readonly ops: Op[] = [];
  injected: Injected | null = null;

  constructor(private readonly fault: { at: number; kind: FaultKind } | null, env?: HostEnv) {
    this.inner = new NodeFs(env);
  }

  get env(): HostEnv {
    return this.inner.env;
  }

  /** Count the operation; throws the adapter's error when it is the one to fail; 'short'/'eof' for a read to cut. */
  private gate(op: Op, path: string): FaultKind | null {
    this.ops.push(op);
    const f = this.fault;
    if (!f || this.ops.length !== f.at || !faultApplies(f.kind, op)) return null;
    this.injected = { op, path, kind: f.kind };
    if (f.kind === 'short' || f.kind === 'eof') return f.kind;
    throw ioError(Object.assign(new Error(`${f.kind} (injected)`), { code: f.kind }), path, WHAT[op]);
  }

  async stat(p: string): Promise<FileStat | null> { this.gate('stat', p); return this.inner.stat(p); }
  async readDir(p: string): Promise<DirEntry[]> { this.gate('readDir', p); return this.inner.readDir(p); }
  async readFile(p: string, maxBytes?: number): Promise<Uint8Array> { this.gate('readFile', p); return this.inner.readFile(p, maxBytes); }
  async readText(p: string, maxBytes?: number): Promise<string> { return new TextDecoder().decode(await this.readFile(p, maxBytes)); }
  async realpath(p: string): Promise<string> { this.gate('realpath', p); return this.inner.realpath(p); }
  async mkdir(p: string): Promise<void> { this.gate('mkdir', p); return this.inner.mkdir(p); }
  async writeFile(p: string, data: Uint8Array | string): Promise<void> { this.gate('writeFile', p); return this.inner.writeFile(p, data); }
  async copyFile(from: string, to: string): Promise<void> { this.gate('copyFile', to); return this.inner.copyFile(from, to); }
  async rename(from: string, to: string): Promise<void> { this.gate('rename', to); return this.inner.rename(from, to); }
  async removeTree(p: string): Promise<void> { this.gate('removeTree', p); return this.inner.removeTree(p); }
  freeSpace(p: string): Promise<number | null> { return this.inner.freeSpace(p); }

  async open(p: string): Promise<ByteSource> {
    this.gate('open', p);
    const src = await this.inner.open(p);
    return {
      path: src.path,
      size: src.size,
      read: async (offset, into) => {
        const cut = this.gate('read', src.path);
        if (cut === 'eof') return 0;
        if (cut === 'short' && into.length > 1) return src.read(offset, into.subarray(0, into.length >> 1));
        return src.read(offset, into);
      },
      close: async () => {
        await src.close(); // the descriptor is released even when the close reports a failure
        this.gate('sourceClose', src.path);
      },
    };
  }

  async create(p: string): Promise<ByteSink> {
    this.gate('create', p);
    const sink = await this.inner.create(p);
    return {
      path: sink.path,
      write: async (data) => {
        this.gate('write', sink.path);
        return sink.write(data);
      },
      close: async () => {
        await sink.close();
        this.gate('sinkClose', sink.path);
      },
    };
  }
}
