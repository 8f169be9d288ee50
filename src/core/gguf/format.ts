// GGUF vocabulary: value types of the metadata store, ggml tensor types with their block layout, llama.cpp file types.
// Reference: the GGUF specification (ggml docs/gguf.md) and ggml's type table (block size, bytes per block).

/** Metadata value types, numbered as the file stores them. */
export const GGUF_VALUE = {
  u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12,
} as const;

export type GgufScalarType = Exclude<keyof typeof GGUF_VALUE, 'array'>;

export type GgufValue =
  | { readonly type: Exclude<GgufScalarType, 'string' | 'bool' | 'u64' | 'i64'>; readonly value: number }
  | { readonly type: 'u64' | 'i64'; readonly value: bigint }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'array'; readonly itemType: GgufScalarType; readonly values: readonly (number | bigint | boolean | string)[] };

export interface GgufKv {
  readonly key: string;
  readonly value: GgufValue;
}

export const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

export interface GgmlTypeInfo {
  readonly id: number;
  readonly name: string;
  /** Elements per block (1 for plain types). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
}

const TYPES: readonly GgmlTypeInfo[] = [
  { id: 0, name: 'F32', blockSize: 1, typeSize: 4 },
  { id: 1, name: 'F16', blockSize: 1, typeSize: 2 },
  { id: 2, name: 'Q4_0', blockSize: 32, typeSize: 18 },
  { id: 3, name: 'Q4_1', blockSize: 32, typeSize: 20 },
  { id: 6, name: 'Q5_0', blockSize: 32, typeSize: 22 },
  { id: 7, name: 'Q5_1', blockSize: 32, typeSize: 24 },
  { id: 8, name: 'Q8_0', blockSize: 32, typeSize: 34 },
  { id: 9, name: 'Q8_1', blockSize: 32, typeSize: 36 },
  { id: 10, name: 'Q2_K', blockSize: 256, typeSize: 84 },
  { id: 11, name: 'Q3_K', blockSize: 256, typeSize: 110 },
  { id: 12, name: 'Q4_K', blockSize: 256, typeSize: 144 },
  { id: 13, name: 'Q5_K', blockSize: 256, typeSize: 176 },
  { id: 14, name: 'Q6_K', blockSize: 256, typeSize: 210 },
  { id: 15, name: 'Q8_K', blockSize: 256, typeSize: 292 },
  { id: 16, name: 'IQ2_XXS', blockSize: 256, typeSize: 66 },
  { id: 17, name: 'IQ2_XS', blockSize: 256, typeSize: 74 },
  { id: 18, name: 'IQ3_XXS', blockSize: 256, typeSize: 98 },
  { id: 19, name: 'IQ1_S', blockSize: 256, typeSize: 50 },
  { id: 20, name: 'IQ4_NL', blockSize: 32, typeSize: 18 },
  { id: 21, name: 'IQ3_S', blockSize: 256, typeSize: 110 },
  { id: 22, name: 'IQ2_S', blockSize: 256, typeSize: 82 },
  { id: 23, name: 'IQ4_XS', blockSize: 256, typeSize: 136 },
  { id: 24, name: 'I8', blockSize: 1, typeSize: 1 },
  { id: 25, name: 'I16', blockSize: 1, typeSize: 2 },
  { id: 26, name: 'I32', blockSize: 1, typeSize: 4 },
  { id: 27, name: 'I64', blockSize: 1, typeSize: 8 },
  { id: 28, name: 'F64', blockSize: 1, typeSize: 8 },
  { id: 29, name: 'IQ1_M', blockSize: 256, typeSize: 56 },
  { id: 30, name: 'BF16', blockSize: 1, typeSize: 2 },
  { id: 34, name: 'TQ1_0', blockSize: 256, typeSize: 54 },
  { id: 35, name: 'TQ2_0', blockSize: 256, typeSize: 66 },
  { id: 39, name: 'MXFP4', blockSize: 32, typeSize: 17 },
];

const BY_ID = new Map(TYPES.map((t) => [t.id, t]));
const BY_NAME = new Map(TYPES.map((t) => [t.name, t]));

/** The types this project writes. */
export type GgmlType = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0' | 'Q5_0' | 'Q5_1' | 'Q4_K' | 'Q5_K' | 'Q6_K';

export function ggmlTypeById(id: number): GgmlTypeInfo | undefined {
  return BY_ID.get(id);
}

export function ggmlType(name: GgmlType | string): GgmlTypeInfo {
  const t = BY_NAME.get(name);
  if (!t) throw new Error(`unknown ggml type ${name}`);
  return t;
}

/** Bytes of a tensor of `type` whose innermost dimension is `ne0` and that has `n` elements (ne0 % blockSize == 0). */
export function tensorBytesOf(type: GgmlTypeInfo, n: number): number {
  return (n / type.blockSize) * type.typeSize;
}

/** llama.cpp's general.file_type values (enum llama_ftype) for the export types. */
export const FILE_TYPE = {
  f32: 0, f16: 1, q4_0: 2, q8_0: 7, q5_0: 8, q4_k_m: 15, q5_k_m: 17, q6_k: 18, bf16: 32,
} as const;

export type ExportType = keyof typeof FILE_TYPE;

export const EXPORT_TYPES: readonly ExportType[] = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q5_0', 'q4_k_m', 'q5_k_m', 'q6_k'];

export function isExportType(s: string): s is ExportType {
  return (EXPORT_TYPES as readonly string[]).includes(s);
}

/** The default tensor type of an export type (before llama-quantize's per-tensor choices). */
export const DEFAULT_TENSOR_TYPE: Readonly<Record<ExportType, GgmlType>> = {
  f32: 'F32', f16: 'F16', bf16: 'BF16', q8_0: 'Q8_0', q4_0: 'Q4_0', q5_0: 'Q5_0', q4_k_m: 'Q4_K', q5_k_m: 'Q5_K', q6_k: 'Q6_K',
};

/** GGUF quantization format version (general.quantization_version) that these block layouts belong to. */
export const GGML_QUANT_VERSION = 2;

export function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}
