// Types for scripts/build-wasm.mjs (imported by the kernel tests and benchmarks).
export declare const VARIANTS: ReadonlyArray<{ readonly file: string; readonly flags: readonly string[] }>;
export declare function buildWasm(options?: { force?: boolean; quiet?: boolean }): Promise<string[]>;
