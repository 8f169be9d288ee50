// What the WASM backends of this thread hold right now: the memories of backends not yet disposed and the helper
// threads started and not exited. Read by engine/stats, so a soak run sees a leak (a backend never disposed, a helper
// never ended) as a count that grows, which process RSS alone would blur.

const memories = new Set<WebAssembly.Memory>();
let helperThreads = 0;

export function trackMemory(memory: WebAssembly.Memory): void {
  memories.add(memory);
}

export function releaseMemory(memory: WebAssembly.Memory): void {
  memories.delete(memory);
}

export function helperStarted(): void {
  helperThreads++;
}

export function helperExited(): void {
  helperThreads--;
}

export interface WasmResources {
  readonly memories: number;
  /** Committed bytes of those memories (their buffers' current length). */
  readonly bytes: number;
  readonly helperThreads: number;
}

export function liveWasmResources(): WasmResources {
  let bytes = 0;
  for (const m of memories) bytes += m.buffer.byteLength;
  return { memories: memories.size, bytes, helperThreads };
}
