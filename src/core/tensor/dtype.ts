// Tensor dtypes as safetensors names them, and exact f16/bf16 <-> f32 conversion (round-to-nearest-even).
// Reference: IEEE 754 binary16; bfloat16 is the top half of a binary32.

export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL' | 'F8_E4M3' | 'F8_E5M2';

export const DTYPE_BYTES: Readonly<Record<DType, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
};

export function isDType(s: string): s is DType {
  return Object.prototype.hasOwnProperty.call(DTYPE_BYTES, s);
}

/** Float dtypes the merge and the engine compute with. */
export type FloatDType = 'F32' | 'F16' | 'BF16';

/** How a backend stores a float tensor (Backend's WeightDType without q8_0). */
export type FloatStorage = 'f32' | 'f16' | 'bf16';

const STORAGE: Readonly<Record<FloatDType, FloatStorage>> = { F32: 'f32', F16: 'f16', BF16: 'bf16' };
const FLOAT_DTYPE: Readonly<Record<FloatStorage, FloatDType>> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };

/** The backend storage format of a float safetensors dtype. */
export function floatStorage(d: FloatDType): FloatStorage {
  return STORAGE[d];
}

/** The safetensors spelling of a backend float storage format. */
export function floatDType(s: FloatStorage): FloatDType {
  return FLOAT_DTYPE[s];
}

export function isFloatDType(d: DType): d is FloatDType {
  return d === 'F32' || d === 'F16' || d === 'BF16';
}

/** torch_dtype names used in config.json. */
export function torchDTypeName(d: FloatDType): 'float32' | 'float16' | 'bfloat16' {
  return d === 'F32' ? 'float32' : d === 'F16' ? 'float16' : 'bfloat16';
}

export function dtypeFromTorchName(name: string): FloatDType | null {
  switch (name) {
    case 'float32': case 'fp32': case 'float': return 'F32';
    case 'float16': case 'fp16': case 'half': return 'F16';
    case 'bfloat16': case 'bf16': return 'BF16';
    default: return null;
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** binary16 bits -> number (exact). */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

let f16Values: Float32Array | null = null;

/** All 65536 binary16 values as f32 (256 KiB, exact), built on first use: a lookup beats decoding each value ~10x. */
export function f16Lut(): Float32Array {
  if (!f16Values) f16Values = Float32Array.from({ length: 65536 }, (_, h) => f16ToF32(h));
  return f16Values;
}

/** number -> binary16 bits, rounding the f32 value once to nearest even (overflow -> inf, NaN kept quiet). */
export function f32ToF16(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  // Unbiased exponent re-biased for half.
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): shift the full significand, round to nearest even.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e; // 13 + (1 - e)
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && (m & 1))) m++;
    return sign | m;
  }
  const rest = mant & 0x1fff;
  let h = sign | (e << 10) | (mant >>> 13);
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++; // carry into the exponent is correct (may become inf)
  return h;
}

/** bfloat16 bits -> number (exact). */
export function bf16ToF32(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0]!;
}

/** number -> bfloat16 bits, rounding the f32 value to nearest even; NaN stays a quiet NaN. */
export function f32ToBf16(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff;
  const lsb = (x >>> 16) & 1;
  return ((x + 0x7fff + lsb) >>> 16) & 0xffff;
}

/** Decode `count` elements of `dtype` from little-endian bytes into a new Float32Array. */
export function decodeToF32(bytes: Uint8Array, dtype: DType, count: number): Float32Array {
  const out = new Float32Array(count);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, true);
      break;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = f16ToF32(dv.getUint16(i * 2, true));
      break;
    case 'BF16':
      for (let i = 0; i < count; i++) out[i] = bf16ToF32(dv.getUint16(i * 2, true));
      break;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = dv.getFloat64(i * 8, true);
      break;
    default:
      throw new Error(`cannot decode ${dtype} as floats`);
  }
  return out;
}

/** Encode f32 values into `dtype` little-endian bytes (rounded once, nearest even). */
export function encodeFromF32(values: Float32Array, dtype: FloatDType): Uint8Array {
  const n = values.length;
  const out = new Uint8Array(n * DTYPE_BYTES[dtype]);
  const dv = new DataView(out.buffer);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) dv.setFloat32(i * 4, values[i]!, true);
      break;
    case 'F16':
      for (let i = 0; i < n; i++) dv.setUint16(i * 2, f32ToF16(values[i]!), true);
      break;
    case 'BF16':
      for (let i = 0; i < n; i++) dv.setUint16(i * 2, f32ToBf16(values[i]!), true);
      break;
  }
  return out;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
