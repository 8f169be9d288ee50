// runMerge: executes a MergePlan tensor by tensor into a temporary sibling folder, then renames it into place.
// Each base tensor is read in its stored dtype straight into backend memory (the next one read ahead on a libuv
// thread), merged by Backend.loraMerge (widen + delta + one rounding, on every backend thread) and written behind while
// the next tensor computes. Peak memory: a few stored copies of the largest tensor (input, read-ahead, output, the
// output still being written) plus fixed chunks. Cancel or any failure removes the temporary folder; one left by a
// killed process is removed by a later merge into the same folder (partialOutput.ts).

import type { Backend, BTensor } from '../backend';
import { CoreError, throwIfAborted } from '../errors';
import { nextTurn } from '../eventLoop';
import type { ProgressFn, WritableFsPort } from '../ports';
import { basename, dirname, isInside, joinPath } from '../paths';
import { ShardWriter, buildShardIndex, tensorBytes } from '../safetensors/writer';
import { DTYPE_BYTES, floatStorage, isFloatDType, numel, type FloatDType } from '../tensor/dtype';
import { applyLoraBias, loadLoraFactors, mergeOnBackend, readF32 } from './compute';
import { encodeInto } from './convert';
import { InputReader, type FileDigest } from './inputReader';
import { buildManifest } from './manifest';
import { PartialOutput } from './partialOutput';
import type { MergePlan, PlannedTensor } from './plan';
import { verifyMerge } from './verify';
import { tr } from '../text';

export interface MergeOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressFn;
  /** Re-read the output and recompute sample rows of every merged tensor (default true). */
  readonly verify?: boolean;
  readonly toolVersion: string;
  /** Settings recorded in the manifest (backend, threads...). */
  readonly settings?: Readonly<Record<string, unknown>>;
  /** Awaited after each tensor: lets end-to-end tests hold a merge open long enough to cancel it. */
  readonly afterTensor?: () => Promise<void>;
}

export interface MergeSummary {
  readonly out: string;
  readonly tensors: number;
  readonly bytesWritten: number;
  readonly verified: boolean;
  readonly warnings: readonly string[];
  readonly inputDigests: readonly FileDigest[];
}

/** Chunk for tensors that are only copied or converted (bounded memory whatever the tensor size). */
const COPY_CHUNK = 16 * 1024 * 1024;
/** Headroom demanded beyond the output size by the free-space check. */
const SPACE_MARGIN = 64 * 1024 * 1024;

/** Let queued host messages (engine/cancel) run: ranged reads resolve synchronously, so a merge would never yield. */
const yieldToHost = nextTurn;

/**
 * At most one write in flight: submit() waits for the previous write (releasing its buffer) and leaves the new one
 * running, so computing the next tensor overlaps writing this one. A failed write surfaces at the next submit or drain.
 */
/** A base tensor being read into backend memory. */
interface BaseRead {
  readonly name: string;
  readonly tensor: BTensor;
  readonly read: Promise<void>;
}

/** A chunk of a copied or converted tensor being read into backend memory. */
interface ChunkRead {
  readonly e: number;
  readonly m: number;
  readonly inT: BTensor;
  readonly read: Promise<unknown>;
}

class WriteBehind {
  private pending: { settled: Promise<unknown>; release: () => void } | null = null;

  async submit(write: Promise<void>, release: () => void): Promise<void> {
    await this.drain();
    // Settle into a value now so a rejection is never unhandled while the next tensor computes.
    this.pending = { settled: write.then(() => null, (err: unknown) => ({ err })), release };
  }

  async drain(): Promise<void> {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    const result = await p.settled;
    p.release();
    if (result) throw (result as { err: unknown }).err;
  }
}

/** Output folder rules: absent or empty, not inside the inputs, parent exists. */
export async function checkOutputFolder(io: WritableFsPort, out: string, base: string, adapter: string): Promise<void> {
  const parent = dirname(out);
  const pst = await io.stat(parent);
  if (!pst || pst.kind !== 'dir') throw new CoreError('not-found', tr`${parent}: the output's parent folder does not exist.`, parent);
  const realParent = await io.realpath(parent);
  const realOut = joinPath(realParent, basename(out));
  for (const [label, p] of [[tr`base model`, base], [tr`adapter`, adapter]] as const) {
    const rp = await io.realpath(p);
    if (isInside(realOut, rp)) throw new CoreError('usage', tr`${out}: the output folder may not be inside the ${label} folder (${p}).`, out);
    if (isInside(rp, realOut)) throw new CoreError('usage', tr`${out}: the output folder may not contain the ${label} folder (${p}).`, out);
  }
  const st = await io.stat(out);
  if (st) {
    if (st.kind !== 'dir') throw new CoreError('exists', tr`${out}: exists and is not a folder.`, out);
    if ((await io.readDir(out)).length > 0) throw new CoreError('exists', tr`${out}: the output folder exists and is not empty.`, out);
  }
}

function nonFinite(t: PlannedTensor, index: number, cols: number): CoreError {
  const at = cols > 0 ? `[${Math.floor(index / cols)}, ${index % cols}]` : `${index}`;
  return new CoreError('non-finite', tr`Merging '${t.name}' produced a non-finite value at ${at} (in ${t.dtype}); the adapter is broken or its scale overflows this dtype. Nothing was written.`);
}

/** Execute the plan. `out` must pass checkOutputFolder (checked again here). */
export async function runMerge(plan: MergePlan, out: string, io: WritableFsPort, backend: Backend, options: MergeOptions): Promise<MergeSummary> {
  const { signal, onProgress } = options;
  const verify = options.verify ?? true;
  await checkOutputFolder(io, out, plan.inputs.basePath, plan.inputs.adapterPath);
  const parent = dirname(out);
  const free = await io.freeSpace(parent);
  if (free !== null && free < plan.outputBytes + SPACE_MARGIN) {
    throw new CoreError('no-space', tr`${parent}: ${(free / 1e9).toFixed(2)} GB free, the merged model needs ${(plan.outputBytes / 1e9).toFixed(2)} GB.`, parent);
  }
  if (!backend.loraMerge) throw new CoreError('unsupported', tr`The ${backend.info.name} backend cannot merge; use the wasm or reference backend.`);
  throwIfAborted(signal);
  const partial = await PartialOutput.begin(io, out, { job: 'merge', toolVersion: options.toolVersion });
  const tmp = partial.dir;
  const reader = new InputReader(io, { signal, accelerate: backend.xxh32Stripes?.bind(backend), expect: plan.inputStamps });
  let bytesWritten = 0;
  try {
    const totalData = plan.tensors.reduce((s, t) => s + tensorBytes(t), 0);
    let dataDone = 0;
    let tensorsDone = 0;
    const report = (name: string): void => onProgress?.('merge', dataDone, totalData, `${tensorsDone}/${plan.tensors.length} ${name}`);
    const writes = new WriteBehind();
    const hostView = (t: BTensor): Uint8Array => {
      const v = backend.hostView(t);
      if (!v) throw new CoreError('unsupported', tr`The ${backend.info.name} backend keeps tensors off the host; merge with the wasm or reference backend.`);
      return v;
    };

    // Read-ahead: the next LoRA tensor's base weights are read (a libuv thread) while this one is merged.
    const loraTensors = plan.tensors.filter((t) => t.op.kind === 'lora' && tensorBytes(t) > 0);
    const nextLora = new Map(loraTensors.map((t, i) => [t.name, loraTensors[i + 1]]));
    const readBase = (t: PlannedTensor): BaseRead => {
      const op = t.op as Extract<PlannedTensor['op'], { kind: 'lora' }>;
      const tensor = backend.alloc(floatStorage(op.src.dtype as FloatDType), t.shape, t.name, 'none');
      const read = reader.read(op.src.file, op.src.begin, hostView(tensor));
      read.catch(() => undefined); // awaited by its user; never an unhandled rejection meanwhile
      return { name: t.name, tensor, read };
    };
    let ahead: BaseRead | null = null;
    const dropAhead = async (): Promise<void> => {
      const a = ahead;
      ahead = null;
      if (!a) return;
      await a.read.catch(() => undefined); // the read must finish before its memory can be reused
      backend.free(a.tensor);
    };

    for (const shard of plan.shards) {
      const sink = await io.create(joinPath(tmp, shard.file));
      const writer = new ShardWriter(sink, shard);
      try {
        await writer.writeHeader();
        for (const t of shard.tensors) {
          throwIfAborted(signal);
          report(t.name);
          const op = t.op;
          const outBytes = tensorBytes(t);
          if (outBytes === 0) { tensorsDone++; continue; }
          if (op.kind === 'lora') {
            // Read the stored dtype straight into backend memory; one fused pass widens, adds the delta and rounds.
            const cols = t.shape[1]!;
            if (ahead && ahead.name !== t.name) await dropAhead();
            const base: BaseRead = ahead ?? readBase(t);
            ahead = null;
            let merged: { out: BTensor; bad: number };
            try {
              const factors = await loadLoraFactors(reader, op);
              await base.read;
              const next = nextLora.get(t.name);
              if (next) ahead = readBase(next);
              await yieldToHost();
              throwIfAborted(signal);
              merged = mergeOnBackend(backend, base.tensor, factors, op.scaling, t.dtype as FloatDType);
            } finally {
              await base.read.catch(() => undefined);
              backend.free(base.tensor);
            }
            const out = merged.out;
            if (merged.bad >= 0) {
              backend.free(out);
              throw nonFinite(t, merged.bad, cols);
            }
            // Written behind: the next tensor is read and computed while this one goes to the disk.
            await writes.submit(writer.write(t.name, hostView(out).subarray(0, outBytes)), () => backend.free(out));
          } else if (op.kind === 'loraBias') {
            const bias = await readF32(reader, op.src);
            applyLoraBias(bias, await readF32(reader, op.bias), op.scaling);
            const outBuf = new Uint8Array(bias.length * 4);
            const bad = encodeInto(bias, bias.length, t.dtype as FloatDType, outBuf);
            if (bad >= 0) throw nonFinite(t, bad, 0);
            await writes.submit(writer.write(t.name, outBuf.subarray(0, outBytes)), () => undefined);
          } else {
            // copy / replace: stream in chunks through backend memory, converting when the output dtype differs.
            const src = op.src;
            const convert = src.dtype !== t.dtype;
            if (convert && (!isFloatDType(src.dtype) || !isFloatDType(t.dtype))) {
              throw new CoreError('internal', tr`cannot convert '${t.name}' from ${src.dtype} to ${t.dtype}`);
            }
            const n = numel(src.shape);
            const cols = src.shape.length > 1 ? src.shape[src.shape.length - 1]! : n;
            const perChunk = Math.max(1, Math.floor(COPY_CHUNK / 4));
            const srcElem = DTYPE_BYTES[src.dtype];
            // The next chunk is read (a libuv thread) while this one is converted and handed to the writer.
            const readChunk = (e: number): ChunkRead => {
              const m = Math.min(perChunk, n - e);
              // Integer tensors travel as raw bytes in an f32-typed buffer of the same byte length (rounded up).
              const inT = isFloatDType(src.dtype) ? backend.alloc(floatStorage(src.dtype), [m], t.name, 'none') : backend.alloc('f32', [Math.ceil((m * srcElem) / 4)], t.name, 'none');
              const read = reader.read(src.file, src.begin + e * srcElem, hostView(inT).subarray(0, m * srcElem));
              read.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
              return { e, m, inT, read };
            };
            let next: ChunkRead | null = readChunk(0);
            try {
              while (next) {
                const { e, m, inT, read } = next;
                next = null;
                let outT = inT;
                try {
                  await read;
                  if (e + perChunk < n) next = readChunk(e + perChunk);
                  if (convert) {
                    outT = backend.alloc(floatStorage(t.dtype as FloatDType), [m], t.name, 'none');
                    const bad = backend.loraMerge!(outT, inT, null, null, 0);
                    if (bad >= 0) throw nonFinite(t, e + bad, cols);
                  }
                } catch (err) {
                  if (outT !== inT) backend.free(outT);
                  backend.free(inT);
                  throw err;
                }
                if (outT !== inT) backend.free(inT);
                const done = outT;
                await writes.submit(writer.write(t.name, hostView(done).subarray(0, m * DTYPE_BYTES[t.dtype])), () => backend.free(done));
                dataDone += m * DTYPE_BYTES[t.dtype];
                report(t.name);
                await yieldToHost();
                throwIfAborted(signal);
              }
            } catch (err) {
              const pending = next as ChunkRead | null;
              if (pending) {
                await pending.read.catch(() => undefined); // its memory is free only once the read is done
                backend.free(pending.inT);
              }
              throw err;
            }
            dataDone -= outBytes; // added back below with the tensor
          }
          dataDone += outBytes;
          tensorsDone++;
          await yieldToHost();
          await options.afterTensor?.();
        }
        await writes.drain();
        await writer.close();
        bytesWritten += writer.bytesWritten;
      } catch (err) {
        await dropAhead();
        await writes.drain().catch(() => undefined);
        await sink.close().catch(() => undefined);
        throw err;
      }
    }
    report('');

    // Index, config, tokenizer and the rest.
    const index = buildShardIndex(plan.shards);
    await io.writeFile(joinPath(tmp, 'model.safetensors.index.json'), index);
    bytesWritten += new TextEncoder().encode(index).length;
    if (plan.outConfig) await io.writeFile(joinPath(tmp, 'config.json'), JSON.stringify(plan.outConfig, null, 2) + '\n');
    const tokSource = plan.tokenizerFrom === 'adapter' ? plan.inputs.adapterPath : plan.inputs.basePath;
    for (const f of plan.tokenizerFiles) await io.copyFile(joinPath(tokSource, f), joinPath(tmp, f));
    for (const f of plan.extraFiles) await io.copyFile(joinPath(plan.inputs.basePath, f), joinPath(tmp, f));
    throwIfAborted(signal);

    const inputDigests = await reader.finish([plan.adapter.file]);
    let verified = false;
    if (verify) {
      await verifyMerge(plan, tmp, io, backend, { signal, onProgress });
      verified = true;
    }
    const manifest = buildManifest(plan, { inputDigests, verified, toolVersion: options.toolVersion, settings: options.settings ?? {} });
    await io.writeFile(joinPath(tmp, 'merge_manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    throwIfAborted(signal);

    await reader.assertUnchanged(); // verification re-read the inputs: still the versions hashed in the manifest
    await partial.publish(); // an empty pre-existing output folder is replaced by the finished one
    return { out, tensors: plan.tensors.length, bytesWritten, verified, warnings: plan.warnings, inputDigests };
  } catch (err) {
    await reader.close().catch(() => undefined);
    await partial.abandon();
    throw await reader.explain(err); // a verification mismatch or a non-finite value may come from a changed input
  }
}
