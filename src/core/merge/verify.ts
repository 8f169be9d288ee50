// Verification of a finished (not yet published) merge: re-read the output's index and headers through the same
// validating readers users' tools rely on, then recompute sample rows of every tensor from the inputs with the merge's
// own arithmetic and compare bit for bit with what landed on disk.

import type { Backend } from '../backend';
import { CoreError, throwIfAborted } from '../errors';
import type { ProgressFn, WritableFsPort } from '../ports';
import { joinPath } from '../paths';
import { SAFETENSORS_INDEX, readModelWeights, readShardIndex } from '../safetensors/modelWeights';
import { tensorBytes } from '../safetensors/writer';
import { DTYPE_BYTES, isFloatDType, numel, type FloatDType } from '../tensor/dtype';
import { applyLora, applyLoraBias, loadLoraFactors, readF32 } from './compute';
import { decodeInPlace, decodeInto, encodeInto } from './convert';
import { InputReader } from './inputReader';
import type { MergePlan, PlannedTensor } from './plan';
import { tr } from '../text';

/** Rows checked per tensor: first, middle, last and one more spread by the tensor's position. */
export function sampleRows(rows: number, salt: number): number[] {
  if (rows <= 0) return [];
  const s = new Set([0, Math.floor(rows / 2), rows - 1, (salt * 2654435761 >>> 0) % rows]);
  return [...s].sort((a, b) => a - b);
}

function fail(t: PlannedTensor, why: string): CoreError {
  return new CoreError('internal', tr`Verification failed for '${t.name}': ${why}. The output was not published.`);
}

export async function verifyMerge(plan: MergePlan, folder: string, io: WritableFsPort, backend: Backend,
  options: { signal?: AbortSignal; onProgress?: ProgressFn } = {}): Promise<void> {
  const { signal, onProgress } = options;
  const written = await readModelWeights(io, folder);
  const { totalSize } = await readShardIndex(io, joinPath(folder, SAFETENSORS_INDEX));
  const expectedTotal = plan.tensors.reduce((s, t) => s + tensorBytes(t), 0);
  if (totalSize !== expectedTotal) throw new CoreError('internal', tr`Verification failed: index total_size ${totalSize} != ${expectedTotal}.`);
  if (written.tensors.size !== plan.tensors.length) {
    throw new CoreError('internal', tr`Verification failed: the output holds ${written.tensors.size} tensors, the plan ${plan.tensors.length}.`);
  }
  // Plain ranged reads: the digests were taken while merging; re-hashing would read every file in full again.
  const inputs = new InputReader(io, { signal, hash: false });
  const outputs = new InputReader(io, { signal, hash: false });
  try {
    let i = 0;
    for (const t of plan.tensors) {
      throwIfAborted(signal);
      onProgress?.('verify', i, plan.tensors.length, t.name);
      i++;
      const o = written.tensors.get(t.name);
      if (!o) throw fail(t, 'missing from the output');
      if (o.dtype !== t.dtype || JSON.stringify(o.shape) !== JSON.stringify(t.shape)) {
        throw fail(t, `written as ${o.dtype} ${JSON.stringify(o.shape)}, planned ${t.dtype} ${JSON.stringify(t.shape)}`);
      }
      const n = numel(t.shape);
      if (n === 0) continue;
      const rows = t.shape.length > 1 ? t.shape[0]! : 1;
      const cols = n / rows;
      const outElem = DTYPE_BYTES[t.dtype];
      const rowList = sampleRows(rows, i);
      const expected = new Uint8Array(rowList.length * cols * outElem);
      const op = t.op;
      if (op.kind === 'lora') {
        const srcElem = DTYPE_BYTES[op.src.dtype];
        const wT = backend.alloc('f32', [rowList.length, cols], `verify.${t.name}`);
        try {
          const view = backend.hostView(wT);
          if (!view) throw new CoreError('unsupported', tr`The ${backend.info.name} backend cannot verify merges.`);
          for (let k = 0; k < rowList.length; k++) {
            await inputs.read(op.src.file, op.src.begin + rowList[k]! * cols * srcElem, view.subarray(k * cols * srcElem, (k + 1) * cols * srcElem));
          }
          const w = decodeInPlace(view, op.src.dtype as FloatDType, rowList.length * cols);
          applyLora(backend, wT, w, await loadLoraFactors(inputs, op), op.scaling, rowList);
          encodeInto(w, rowList.length * cols, t.dtype as FloatDType, expected);
        } finally {
          backend.free(wT);
        }
      } else if (op.kind === 'loraBias') {
        const bias = await readF32(inputs, op.src);
        applyLoraBias(bias, await readF32(inputs, op.bias), op.scaling);
        const all = new Uint8Array(n * outElem);
        encodeInto(bias, n, t.dtype as FloatDType, all);
        rowList.forEach((r, k) => expected.set(all.subarray(r * cols * outElem, (r + 1) * cols * outElem), k * cols * outElem));
      } else {
        const src = op.src;
        const srcElem = DTYPE_BYTES[src.dtype];
        for (let k = 0; k < rowList.length; k++) {
          const raw = new Uint8Array(cols * srcElem);
          await inputs.read(src.file, src.begin + rowList[k]! * cols * srcElem, raw);
          if (src.dtype === t.dtype) expected.set(raw, k * cols * outElem);
          else if (isFloatDType(src.dtype) && isFloatDType(t.dtype)) {
            const f = new Float32Array(cols);
            decodeInto(raw, src.dtype, f, cols);
            encodeInto(f, cols, t.dtype, expected.subarray(k * cols * outElem, (k + 1) * cols * outElem));
          } else throw fail(t, `cannot compare ${src.dtype} with ${t.dtype}`);
        }
      }
      const actual = new Uint8Array(cols * outElem);
      for (let k = 0; k < rowList.length; k++) {
        await outputs.read(o.file, o.begin + rowList[k]! * cols * outElem, actual);
        const exp = expected.subarray(k * cols * outElem, (k + 1) * cols * outElem);
        for (let j = 0; j < actual.length; j++) {
          if (actual[j] !== exp[j]) throw fail(t, `row ${rowList[k]} differs from the recomputation at byte ${j}`);
        }
      }
    }
  } finally {
    await inputs.close();
    await outputs.close();
  }
}
