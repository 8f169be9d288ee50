// Property-based fuzzing of the parsers of untrusted bytes (issue 18) with fast-check: each target gets real seed
// files mutated the ways damaged downloads and hostile files differ (bit flips, boundary integers in length fields,
// truncation, insertions, spliced structure) plus random bytes. The property: the parser returns a value or throws
// a CoreError, within HANG_MS, without allocating memory out of proportion to the input.

import fc from 'fast-check';
import { CoreError } from '../../src/core/errors';
import type { ByteSource } from '../../src/core/ports';

/** An input taking longer than this is a hang (the parsers are linear; the seeds take well under a millisecond). */
export const HANG_MS = 1000;
/** Memory an input may grow the heap + array buffers by: a length field must never size an allocation on its own. */
const MEMORY_SLACK = 64 * 1024 * 1024;

export interface FuzzTarget {
  readonly name: string;
  /** What the target parses, for the report. */
  readonly what: string;
  readonly inputs: fc.Arbitrary<Uint8Array>;
  /** Parse `bytes`; `src` is a ByteSource over them that records the largest read asked for. */
  run(bytes: Uint8Array, src: RecordingSource): unknown;
}

/** A ByteSource over bytes that remembers the largest buffer a parser asked to fill (sized from the file, or not). */
export class RecordingSource implements ByteSource {
  largestRead = 0;
  constructor(readonly path: string, private readonly bytes: Uint8Array) {}
  get size(): number {
    return this.bytes.length;
  }
  async read(offset: number, into: Uint8Array): Promise<number> {
    this.largestRead = Math.max(this.largestRead, into.length);
    const n = Math.max(0, Math.min(into.length, this.bytes.length - offset));
    into.set(this.bytes.subarray(offset, offset + n));
    return n;
  }
  async close(): Promise<void> { /* nothing to release */ }
}

/** What broke the property for one input. */
export class FuzzFailure extends Error {
  constructor(readonly kind: 'crash' | 'hang' | 'memory', message: string) {
    super(message);
  }
}

function memoryNow(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Run one input against the property; throws a FuzzFailure when it breaks it. */
export async function checkInput(target: FuzzTarget, bytes: Uint8Array): Promise<void> {
  const src = new RecordingSource(`/fuzz/${target.name}`, bytes);
  const mem0 = memoryNow();
  const t0 = performance.now();
  try {
    await target.run(bytes, src);
  } catch (e) {
    if (!(e instanceof CoreError)) throw new FuzzFailure('crash', `${target.name}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    if (!e.message) throw new FuzzFailure('crash', `${target.name}: a CoreError without a message`);
  }
  const ms = performance.now() - t0;
  if (ms > HANG_MS) throw new FuzzFailure('hang', `${target.name}: ${ms.toFixed(0)} ms for ${bytes.length} bytes`);
  if (src.largestRead > Math.max(bytes.length, 16)) throw new FuzzFailure('memory', `${target.name}: asked to read ${src.largestRead} bytes from a ${bytes.length}-byte file`);
  const grown = memoryNow() - mem0;
  if (grown > MEMORY_SLACK + 64 * bytes.length) throw new FuzzFailure('memory', `${target.name}: memory grew ${grown} bytes for a ${bytes.length}-byte input`);
}

export interface FuzzReport {
  readonly target: string;
  readonly executions: number;
  readonly crashes: number;
  readonly hangs: number;
  readonly memory: number;
  /** The shrunk failing input and what it broke, when one was found. */
  readonly failure: { readonly kind: string; readonly message: string; readonly input: Uint8Array } | null;
  readonly ms: number;
}

/** Run a target for `timeMs` (or `numRuns` inputs, whichever ends first); stops at the first failure, shrunk. */
export async function fuzz(target: FuzzTarget, opts: { timeMs: number; numRuns?: number; seed?: number }): Promise<FuzzReport> {
  let executions = 0;
  const t0 = performance.now();
  const prop = fc.asyncProperty(target.inputs, async (bytes) => {
    executions++;
    await checkInput(target, bytes);
  });
  // The tokenizer library warns on the console for every odd pattern it skips: thousands of lines per second here.
  const warn = console.warn;
  console.warn = () => undefined;
  let result: fc.RunDetails<[Uint8Array]>;
  try {
    result = await fc.check(prop, { numRuns: opts.numRuns ?? Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: opts.timeMs, markInterruptAsFailure: false, seed: opts.seed });
  } finally {
    console.warn = warn;
  }
  const ms = performance.now() - t0;
  if (!result.failed || !result.counterexample) return { target: target.name, executions, crashes: 0, hangs: 0, memory: 0, failure: null, ms };
  const err = result.errorInstance;
  const kind = err instanceof FuzzFailure ? err.kind : 'crash';
  return {
    target: target.name, executions, ms,
    crashes: kind === 'crash' ? 1 : 0, hangs: kind === 'hang' ? 1 : 0, memory: kind === 'memory' ? 1 : 0,
    failure: { kind, message: err instanceof Error ? err.message : String(err), input: result.counterexample[0] },
  };
}

// ---- input generators ----

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'int32'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; n: number }
  | { kind: 'splice'; at: number; from: number; n: number };

const BOUNDARY_INTS = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(0, 0x7f, 0x80, 0xff, 0x22, 0x5c, 0x7b, 0x7d), fc.nat(255)) }),
  fc.record({ kind: fc.constant('int32' as const), at: fc.nat(), value: fc.constantFrom(...BOUNDARY_INTS) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 32 }) }),
  fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), from: fc.nat(), n: fc.integer({ min: 1, max: 64 }) }),
);

function mutate(seed: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let b: Uint8Array = seed.slice();
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % b.length;
    switch (m.kind) {
      case 'flip': if (b.length) b[at] = b[at]! ^ (1 << m.bit); break;
      case 'set': if (b.length) b[at] = m.value; break;
      case 'int32': if (b.length >= 4) new DataView(b.buffer, b.byteOffset, b.length).setUint32(Math.min(at, b.length - 4), m.value, true); break;
      case 'truncate': b = b.slice(0, at); break;
      case 'insert': b = concat(b.subarray(0, at), m.bytes, b.subarray(at)); break;
      case 'delete': b = concat(b.subarray(0, at), b.subarray(at + m.n)); break;
      case 'splice': {
        const from = b.length === 0 ? 0 : m.from % b.length;
        b = concat(b.subarray(0, at), b.subarray(from, from + m.n), b.subarray(at));
        break;
      }
    }
  }
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Seeds mutated 1-8 times, and some random bytes. */
export function mutatedBytes(seeds: readonly Uint8Array[], opts: { random?: number } = {}): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: opts.random ?? 1, arbitrary: fc.uint8Array({ maxLength: 256 }) },
    { weight: 8, arbitrary: fc.tuple(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 8 })).map(([s, ms]) => mutate(s, ms)) },
  );
}

/** JSON seeds with random subtrees replaced by random JSON values (what a byte mutation rarely keeps parseable). */
export function mutatedJson(seeds: readonly unknown[]): fc.Arbitrary<Uint8Array> {
  const edit = fc.record({ pick: fc.nat(), value: fc.jsonValue({ maxDepth: 3 }) });
  return fc.tuple(fc.constantFrom(...seeds), fc.array(edit, { minLength: 1, maxLength: 4 })).map(([seed, edits]) => {
    let doc: unknown = structuredClone(seed);
    for (const e of edits) doc = replaceNode(doc, e.pick, structuredClone(e.value));
    return new TextEncoder().encode(JSON.stringify(doc));
  });
}

/** Replace the `pick`-th node (pre-order, modulo the node count) of `doc` by `value`. */
function replaceNode(doc: unknown, pick: number, value: unknown): unknown {
  const nodes: Array<{ parent: Record<string, unknown> | unknown[] | null; key: string | number }> = [{ parent: null, key: '' }];
  const walk = (v: unknown): void => {
    if (v === null || typeof v !== 'object') return;
    for (const [k, child] of Object.entries(v)) {
      nodes.push({ parent: v as Record<string, unknown>, key: Array.isArray(v) ? Number(k) : k });
      walk(child);
    }
  };
  walk(doc);
  const n = nodes[pick % nodes.length]!;
  if (n.parent === null) return value;
  (n.parent as Record<string | number, unknown>)[n.key] = value;
  return doc;
}
