// Weights a source holds in a block format the engine keeps as is (a GGUF file's Q8_0 blocks, or its Q4_0 / Q4_K
// blocks as the engine's q4), read without going through f32: no dequantize-and-requantize pass at load.

/** Reads rows row0..row0+rows of one weight in its block format into `into` (rows x the bytes of one row). */
export type BlockRowReader = (row0: number, rows: number, into: Uint8Array) => Promise<void>;

export interface BlockReader {
  /** q8_0: GGUF block_q8_0 (34 bytes per 32 values); q4: the host blocks of core/tensor/q4.ts (24 bytes per 32). */
  readonly dtype: 'q8_0' | 'q4';
  readonly read: BlockRowReader;
}

export interface BlockSource {
  /** The tensor stored at [begin, end) of `file` in a block format, or null when it is not stored so. */
  blockReader(t: { readonly file: string; readonly begin: number; readonly end: number }): BlockReader | null;
}
