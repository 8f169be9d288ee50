// Ports: the only way core code touches files. Node adapters live in src/node/, test doubles in test/.
// Core stays free of node:* imports so it can run in a worker, the CLI or (later) a browser.

/** Random-access reader over one file. */
export interface ByteSource {
  readonly path: string;
  readonly size: number;
  /** Fill `into` from `offset`; returns bytes read (short only at end of file). */
  read(offset: number, into: Uint8Array): Promise<number>;
  close(): Promise<void>;
}

/** Sequential writer for one output file. */
export interface ByteSink {
  readonly path: string;
  /**
   * Append `data`. Writes land in call order even when the next is issued before this one settles; the caller keeps
   * `data` untouched until the promise settles.
   */
  write(data: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export interface FileStat {
  readonly kind: 'file' | 'dir' | 'other';
  readonly size: number;
  readonly mtimeMs: number;
}

export interface DirEntry {
  readonly name: string;
  readonly kind: 'file' | 'dir' | 'symlink' | 'other';
}

/** File-system operations the core needs. Paths are absolute, '/'-separated on POSIX. */
export interface FsPort {
  /** Follows symlinks; null when the path does not exist. */
  stat(path: string): Promise<FileStat | null>;
  readDir(path: string): Promise<DirEntry[]>;
  readFile(path: string, maxBytes?: number): Promise<Uint8Array>;
  readText(path: string, maxBytes?: number): Promise<string>;
  open(path: string): Promise<ByteSource>;
  realpath(path: string): Promise<string>;
  /** Host environment facts the core needs for resolution (home folder, env vars, platform). */
  readonly env: HostEnv;
}

/** Writes, for merge output. Kept apart so read-only features can never write. */
export interface WritableFsPort extends FsPort {
  mkdir(path: string): Promise<void>;
  create(path: string): Promise<ByteSink>;
  /** Creates a new file: fails with CoreError code 'exists' when the path exists (O_EXCL), so it can take a lock. */
  writeFile(path: string, data: Uint8Array | string): Promise<void>;
  copyFile(from: string, to: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  removeTree(path: string): Promise<void>;
  /** Free bytes on the volume holding `path`, or null when unknown. */
  freeSpace(path: string): Promise<number | null>;
}

export interface HostEnv {
  readonly platform: 'linux' | 'darwin' | 'win32' | 'other';
  readonly home: string;
  readonly cwd: string;
  readonly vars: Readonly<Record<string, string | undefined>>;
  /** This process, for the owner records of temporary outputs; absent where it cannot be known (every owner then counts as alive). */
  readonly process?: HostProcess;
}

/** The running process and a liveness probe for others on the same host. */
export interface HostProcess {
  readonly pid: number;
  readonly host: string;
  /** The worker thread this code runs on (worker_threads' threadId; 0 on the main thread), when the host has threads. */
  readonly threadId?: number;
  /** A process with this pid exists on this host (possibly another program that reused the pid: callers stay cautious). */
  isAlive(pid: number): boolean;
}

/** Progress callback: phase names are stable identifiers, done/total in the phase's own unit. */
export type ProgressFn = (phase: string, done: number, total: number, detail?: string) => void;
