// f32 tensor values -> the stored bytes of a ggml type (plain types rounded to nearest even, block types through the
// reference quantizers), and back for the loader.

import type { Backend, GgmlQuantType } from '../backend';
import { decodeInto, encodeInto } from '../merge/convert';
import { CoreError } from '../errors';
import { tr } from '../text';
import { ggmlType, tensorBytesOf, type GgmlType } from './format';
import {
  dequantizeQ4_0, dequantizeQ5_0, dequantizeQ5_1, dequantizeQ8_0, quantizeQ4_0, quantizeQ5_0, quantizeQ5_1,
} from './quants';
import { quantizeQ8_0 } from '../tensor/q8_0';
import { dequantizeQ4_K, dequantizeQ5_K, dequantizeQ6_K, quantizeQ4_K, quantizeQ5_K, quantizeQ6_K } from './kquants';

type Quantizer = (x: Float32Array, out: Uint8Array) => void;

// Every quantized type the export can choose (GgmlType) has its quantizer: the compiler checks that none is missing.
const QUANTIZERS: Record<Exclude<GgmlType, 'F32' | 'F16' | 'BF16'>, Quantizer> = {
  Q8_0: (x, out) => { quantizeQ8_0(x, out); }, Q4_0: quantizeQ4_0, Q5_0: quantizeQ5_0, Q5_1: quantizeQ5_1, Q4_K: quantizeQ4_K, Q5_K: quantizeQ5_K, Q6_K: quantizeQ6_K,
};
const DEQUANTIZERS: Partial<Record<string, (b: Uint8Array, out: Float32Array) => void>> = {
  Q8_0: dequantizeQ8_0, Q4_0: dequantizeQ4_0, Q5_0: dequantizeQ5_0, Q5_1: dequantizeQ5_1,
  Q4_K: dequantizeQ4_K, Q5_K: dequantizeQ5_K, Q6_K: dequantizeQ6_K,
};

const BACKEND_QUANT_TYPES: ReadonlySet<GgmlType> = new Set<GgmlQuantType>(['Q4_K', 'Q5_K', 'Q6_K', 'Q8_0']);

/** Whether a backend may quantize `type` (Backend.quantizeGgml): the export starts one only when some tensor has it. */
export function backendQuantizes(type: GgmlType): boolean {
  return BACKEND_QUANT_TYPES.has(type);
}

/**
 * The stored bytes of `values` as `type` (for F32, a view of `values` itself: no copy of the largest tensors). With a
 * `backend` that quantizes `type` (Backend.quantizeGgml: same bytes, threaded kernels) it does the work; the
 * quantizers here stay the reference.
 */
export function encodeTensor(values: Float32Array, type: GgmlType, backend?: Backend | null): Uint8Array {
  if (type === 'F32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  if (backend?.quantizeGgml && backendQuantizes(type)) {
    const fast = backend.quantizeGgml(type as GgmlQuantType, values);
    if (fast) return fast;
  }
  const out = new Uint8Array(tensorBytesOf(ggmlType(type), values.length));
  if (type === 'F16' || type === 'BF16') {
    encodeInto(values, values.length, type, out);
    return out;
  }
  QUANTIZERS[type](values, out);
  return out;
}

/** Stored bytes of a tensor of `n` elements -> f32 (for loading GGUF weights into a float backend). */
export function decodeTensor(bytes: Uint8Array, typeName: string, n: number, file: string): Float32Array {
  const out = new Float32Array(n);
  if (typeName === 'F32' || typeName === 'F16' || typeName === 'BF16') {
    decodeInto(bytes, typeName, out, n);
    return out;
  }
  const d = DEQUANTIZERS[typeName];
  if (!d) throw new CoreError('unsupported', tr`${file}: tensors of type ${typeName} are not supported (supported: F32, F16, BF16, ${Object.keys(DEQUANTIZERS).join(', ')}).`, file);
  d(bytes, out);
  return out;
}
