// LLaMA-family tensors for GGUF: Hugging Face names -> llama.cpp names, the Q/K row permutation llama.cpp's converter
// applies (HF's rotate_half layout back to interleaved pairs), and the per-tensor type choice of convert_hf_to_gguf.py
// (--outtype f32/f16/bf16) followed by llama-quantize's mix for the quantized types (llama_tensor_get_type semantics:
// output/tied-embedding to q6_K, attn_v and ffn_down bumped to q6_K in q4_K_M/q5_K_M on use_more_bits layers, and the
// fallbacks for rows that are not multiples of the block size).

import { DEFAULT_TENSOR_TYPE, ggmlType, type ExportType, type GgmlType } from './format';

const LAYER_PARTS: ReadonlyArray<readonly [string, string]> = [
  ['input_layernorm', 'attn_norm'],
  ['self_attn.q_proj', 'attn_q'],
  ['self_attn.k_proj', 'attn_k'],
  ['self_attn.v_proj', 'attn_v'],
  ['self_attn.o_proj', 'attn_output'],
  ['post_attention_layernorm', 'ffn_norm'],
  ['mlp.gate_proj', 'ffn_gate'],
  ['mlp.up_proj', 'ffn_up'],
  ['mlp.down_proj', 'ffn_down'],
];
const LAYER_MAP = new Map(LAYER_PARTS);
const TOP: ReadonlyMap<string, string> = new Map([
  ['model.embed_tokens', 'token_embd'],
  ['model.norm', 'output_norm'],
  ['lm_head', 'output'],
]);

/** Tensors the converter drops (buffers that some checkpoints carry). */
export function isSkippedTensor(name: string): boolean {
  return name.endsWith('.rotary_emb.inv_freq') || name.endsWith('.attention.masked_bias') || name.endsWith('.attention.bias');
}

/** llama.cpp's name for a LLaMA checkpoint tensor, or null when it has none. */
export function llamaGgufName(hfName: string): string | null {
  const m = /^(.*)\.(weight|bias)$/.exec(hfName);
  if (!m) return null;
  const [, stem, suffix] = m as unknown as [string, string, string];
  const top = TOP.get(stem);
  if (top) return `${top}.${suffix}`;
  const layer = /^model\.layers\.(\d+)\.(.+)$/.exec(stem);
  const part = layer ? LAYER_MAP.get(layer[2]!) : undefined;
  return part ? `blk.${layer![1]}.${part}.${suffix}` : null;
}

const TOP_BACK = new Map([...TOP].map(([hf, g]) => [g, hf]));
const LAYER_BACK = new Map(LAYER_PARTS.map(([hf, g]) => [g, hf]));

/** The checkpoint name of a llama.cpp tensor name (the inverse of llamaGgufName), or null. */
export function hfNameOf(ggufName: string): string | null {
  const m = /^(.*)\.(weight|bias)$/.exec(ggufName);
  if (!m) return null;
  const top = TOP_BACK.get(m[1]!);
  if (top) return `${top}.${m[2]}`;
  const layer = /^blk\.(\d+)\.(.+)$/.exec(m[1]!);
  const part = layer ? LAYER_BACK.get(layer[2]!) : undefined;
  return part ? `model.layers.${layer![1]}.${part}.${m[2]}` : null;
}

/** Heads whose rows llama.cpp regroups for a q/k projection (n_head for q, n_kv_head for k), or null. */
export function permuteHeads(hfName: string, nHead: number, nKvHead: number): number | null {
  if (/\.q_proj\.(weight|bias)$/.test(hfName)) return nHead;
  if (/\.k_proj\.(weight|bias)$/.test(hfName)) return nKvHead;
  return null;
}

/**
 * Rows of a [rows, cols] tensor reordered as convert_hf_to_gguf's LlamaModel.permute: view the rows as
 * (heads, 2, rows/heads/2), swap the middle axes. Row r of the output is input row `source(r)`.
 */
export function permutedRow(r: number, rows: number, heads: number): number {
  const half = rows / heads / 2;
  const h = Math.floor(r / (2 * half));
  const rest = r % (2 * half);
  const i = Math.floor(rest / 2);
  const j = rest % 2;
  return h * 2 * half + j * half + i;
}

export function permuteRows(src: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  if (rows % (heads * 2) !== 0) throw new Error(`cannot permute ${rows} rows into ${heads} heads of interleaved pairs`);
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) out.set(src.subarray(permutedRow(r, rows, heads) * cols, (permutedRow(r, rows, heads) + 1) * cols), r * cols);
  return out;
}

/** convert_hf_to_gguf.py's type for a tensor at --outtype f32/f16/bf16 (norms, 1-D tensors and biases stay F32). */
export function convertType(ggufName: string, nDims: number, outtype: 'F32' | 'F16' | 'BF16'): GgmlType {
  if (nDims <= 1 || ggufName.endsWith('_norm.weight') || !/\.(weight|lora_a|lora_b)$/.test(ggufName)) return 'F32';
  return outtype;
}

/** Counters llama-quantize keeps while it walks the tensors in file order. */
export interface QuantizeState {
  readonly nLayer: number;
  /** llama.cpp's LLM_TYPE_70B for LLaMA: 80 layers with grouped-query attention (q4_K attn_v goes to q5_K). */
  readonly is70B: boolean;
  readonly nAttnV: number;
  readonly tied: boolean;
  iAttnV: number;
  iFfnDown: number;
}

export function quantizeState(ggufNames: readonly string[], nLayer: number, nHead: number, nKvHead: number): QuantizeState {
  return {
    nLayer,
    is70B: nLayer === 80 && nHead !== nKvHead,
    nAttnV: ggufNames.filter((n) => n.includes('attn_v.weight') || n.includes('attn_qkv.weight')).length,
    tied: !ggufNames.includes('output.weight'),
    iAttnV: 0,
    iFfnDown: 0,
  };
}

function useMoreBits(i: number, n: number): boolean {
  return i < Math.floor(n / 8) || i >= Math.floor((7 * n) / 8) || (i - Math.floor(n / 8)) % 3 === 2;
}

function allowsQuantization(name: string, nDims: number): boolean {
  return nDims >= 2 && name.endsWith('weight') && !name.includes('_norm.weight') && !name.includes('ffn_gate_inp.weight');
}

/** llama_tensor_get_type_impl for the LLaMA architecture and the export types (no imatrix, no overrides). */
function mixType(st: QuantizeState, name: string, ne0: number, ftype: ExportType, base: GgmlType): GgmlType {
  const km = ftype === 'q4_k_m' || ftype === 'q5_k_m';
  if (name === 'output.weight' || (st.tied && name === 'token_embd.weight')) {
    if (ne0 % ggmlType(base).blockSize !== 0) return 'Q8_0';
    return base === 'Q8_0' ? 'Q8_0' : 'Q6_K';
  }
  if (name === 'token_embd.weight') return base;
  if (name.includes('attn_v.weight') || name.includes('attn_qkv.weight')) {
    const bumped = km && useMoreBits(st.iAttnV, st.nAttnV);
    st.iAttnV++;
    if (bumped) return 'Q6_K';
    return st.is70B && base === 'Q4_K' ? 'Q5_K' : base;
  }
  if (name.includes('ffn_down')) {
    const bumped = km && useMoreBits(st.iFfnDown, st.nLayer);
    st.iFfnDown++;
    return bumped ? 'Q6_K' : base;
  }
  return base;
}

const FALLBACK: Partial<Record<GgmlType, GgmlType>> = { Q4_K: 'Q5_0', Q5_K: 'Q5_1', Q6_K: 'Q8_0' };

/** tensor_type_fallback: a compatible type when the row length is not a multiple of the block size. */
function fallbackType(t: GgmlType, ne0: number): GgmlType {
  if (ne0 % ggmlType(t).blockSize === 0) return t;
  const next = ggmlType(t).blockSize > 32 ? FALLBACK[t]! : t;
  return ne0 % ggmlType(next).blockSize === 0 ? next : 'F16';
}

/**
 * The stored type of a tensor in an export of `ftype`: for f32/f16/bf16 the converter's choice; for the quantized
 * types llama-quantize's choice over the converter's f32 output (call in file order: the state counts layers).
 */
export function exportTensorType(st: QuantizeState, name: string, ne: readonly number[], ftype: ExportType): GgmlType {
  const base = DEFAULT_TENSOR_TYPE[ftype];
  if (ftype === 'f32' || ftype === 'f16' || ftype === 'bf16') return convertType(name, ne.length, base as 'F32' | 'F16' | 'BF16');
  const stage1 = convertType(name, ne.length, 'F32');
  if (!allowsQuantization(name, ne.length)) return stage1;
  return fallbackType(mixType(st, name, ne[0]!, ftype, base), ne[0]!);
}
