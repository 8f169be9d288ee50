// The engine's 4-bit weight format 'q4': per 32 values a scale s and a min m (value = s * q - m, q in 0..15), which
// holds GGUF Q4_0 (s = d, m = 8d) and Q4_K (s = d * sc, m = dmin * min of each 32-value sub-block) exactly, so those
// files keep their stored precision and half of q8_0's bytes. Host blocks (what Backend.write takes): 24 bytes,
// { f32 s, f32 m, u8 qs[16] } with element j in the low nibble of qs[j] and element j + 16 in its high nibble (the
// q4_0 order). Backends may repack them (WASM: a nibble plane and an (s, m) plane).

export const Q4_BLOCK = 32;
export const Q4_BLOCK_BYTES = 24;

export function q4Bytes(count: number): number {
  return (count / Q4_BLOCK) * Q4_BLOCK_BYTES;
}

const fr = Math.fround;

/** Decode `count` values from q4 host blocks: s * q - m with one f32 rounding each. */
export function dequantizeQ4(blocks: Uint8Array, out: Float32Array, count = out.length): void {
  const f = new Float32Array(blocks.buffer, blocks.byteOffset, blocks.byteLength >> 2);
  for (let b = 0; b < count / 32; b++) {
    const s = f[b * 6]!, m = f[b * 6 + 1]!;
    for (let k = 0; k < 16; k++) {
      const v = blocks[b * 24 + 8 + k]!;
      out[b * 32 + k] = fr(fr(s * (v & 0xf)) - m);
      out[b * 32 + 16 + k] = fr(fr(s * (v >> 4)) - m);
    }
  }
}

/**
 * values -> q4 host blocks, min/max per block (s = (max - min) / 15, m = -min, q = round((x - min) / s)): for tests,
 * benchmarks and synthetic models; real q4 weights come from GGUF files (core/gguf/q4Blocks.ts).
 */
export function quantizeQ4(values: Float32Array): Uint8Array {
  const out = new Uint8Array(q4Bytes(values.length));
  const f = new Float32Array(out.buffer);
  for (let b = 0; b < values.length / 32; b++) {
    let lo = Infinity, hi = -Infinity;
    for (let k = 0; k < 32; k++) {
      lo = Math.min(lo, values[b * 32 + k]!);
      hi = Math.max(hi, values[b * 32 + k]!);
    }
    const s = fr((hi - lo) / 15);
    f[b * 6] = s;
    f[b * 6 + 1] = fr(-lo);
    const q = (x: number): number => (s > 0 ? Math.min(15, Math.max(0, Math.round((x - lo) / s))) : 0);
    for (let k = 0; k < 16; k++) out[b * 24 + 8 + k] = q(values[b * 32 + k]!) | (q(values[b * 32 + 16 + k]!) << 4);
  }
  return out;
}
