// One shared WebAssembly.Memory of the WASM backend with a first-fit allocator and a per-op scratch arena.
// wasm32 memories cap at 4 GiB, so a model spreads over several spaces; a tensor always lies inside one space
// (never straddles), and the backend fills one space with whole layers before opening the next (see wasmBackend.ts).

const PAGE = 65536;
/** Bytes kept free at address 0 (null pointers stay invalid; room for any static data the module may carry). */
const RESERVED = PAGE;
const ALIGN = 64;

export const MAX_MEMORY_BYTES = 65536 * PAGE;

interface Block { ptr: number; size: number }

export class MemorySpace {
  readonly memory: WebAssembly.Memory;
  private top = RESERVED;
  /** Highest address ever handed out: memory above it is untouched (zero). */
  private highWater = RESERVED;
  /** Free blocks sorted by address, coalesced. */
  private readonly freeList: Block[] = [];
  private arenaPtr = 0;
  private arenaSize = 0;
  private arenaUsed = 0;

  constructor(readonly index: number, readonly capBytes: number) {
    this.memory = new WebAssembly.Memory({ initial: RESERVED / PAGE, maximum: Math.ceil(capBytes / PAGE), shared: true });
    // Reserve the scratch arena before any weight: a space filled to the brim with layers must still be able to stage
    // activations (a 512-token prefill stages tens of MiB). Pages are committed only when first touched.
    this.beginOp(Math.min(64 << 20, capBytes >> 4));
  }

  /** Bytes still allocatable in this space (free list plus untouched tail). */
  get available(): number {
    return this.capBytes - this.top + this.freeList.reduce((s, b) => s + b.size, 0);
  }

  /** True while nothing besides the scratch arena is allocated here. */
  get empty(): boolean {
    return this.top - this.freeList.reduce((s, b) => s + b.size, 0) - this.arenaSize === RESERVED;
  }

  /** Address of `bytes` (64-byte aligned), zero-filled unless `zero` is false, or -1 when this space cannot hold it. */
  alloc(bytes: number, zero = true): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    for (let i = 0; i < this.freeList.length; i++) {
      const b = this.freeList[i]!;
      if (b.size >= size) {
        const ptr = b.ptr;
        if (b.size === size) this.freeList.splice(i, 1);
        else {
          b.ptr += size;
          b.size -= size;
        }
        if (zero) this.bytes(ptr, size).fill(0);
        return ptr;
      }
    }
    if (this.top + size > this.capBytes) return -1;
    const ptr = this.top;
    this.top += size;
    // Memory above the high-water mark was never handed out: still the zeros memory.grow gave it.
    if (zero && ptr < this.highWater) this.bytes(ptr, Math.min(size, this.highWater - ptr)).fill(0);
    this.highWater = Math.max(this.highWater, this.top);
    const need = Math.ceil(this.top / PAGE) - this.memory.buffer.byteLength / PAGE;
    if (need > 0) this.memory.grow(need);
    return ptr;
  }

  free(ptr: number, bytes: number): void {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    let i = 0;
    while (i < this.freeList.length && this.freeList[i]!.ptr < ptr) i++;
    this.freeList.splice(i, 0, { ptr, size });
    // Coalesce with the next block, then with the previous one; a trailing block goes back to the bump pointer.
    const next = this.freeList[i + 1];
    if (next && ptr + size === next.ptr) {
      this.freeList[i]!.size += next.size;
      this.freeList.splice(i + 1, 1);
    }
    const prev = this.freeList[i - 1];
    if (prev && prev.ptr + prev.size === ptr) {
      prev.size += this.freeList[i]!.size;
      this.freeList.splice(i, 1);
    }
    const last = this.freeList[this.freeList.length - 1];
    if (last && last.ptr + last.size === this.top) {
      this.top = last.ptr;
      this.freeList.pop();
    }
  }

  /**
   * Start an op that needs `bytes` of scratch in total: the arena is emptied and grown (moved) only here, so pointers
   * from scratch() stay valid for the whole op.
   */
  beginOp(bytes: number): void {
    this.arenaUsed = 0;
    const size = Math.ceil(bytes / ALIGN) * ALIGN + ALIGN * 8;
    if (size <= this.arenaSize) return;
    if (this.arenaSize) this.free(this.arenaPtr, this.arenaSize);
    this.arenaSize = 0;
    const want = Math.max(size, Math.min(1 << 20, this.capBytes >> 3));
    const p = this.alloc(want);
    if (p < 0) throw new RangeError(`no room for ${want} bytes of scratch in WASM memory ${this.index}`);
    this.arenaPtr = p;
    this.arenaSize = want;
  }

  /** beginOp that reports false instead of throwing when the space has no room for that much scratch. */
  tryBeginOp(bytes: number): boolean {
    try {
      this.beginOp(bytes);
      return true;
    } catch (err) {
      if (err instanceof RangeError) return false;
      throw err;
    }
  }

  /** Bytes of scratch available without moving the arena. */
  get arenaCapacity(): number {
    return this.arenaSize;
  }

  /** Scratch for the current op, inside what beginOp reserved. */
  scratch(bytes: number): number {
    const size = Math.ceil(bytes / ALIGN) * ALIGN;
    if (this.arenaUsed + size > this.arenaSize) throw new Error('internal: op took more scratch than beginOp reserved');
    const p = this.arenaPtr + this.arenaUsed;
    this.arenaUsed += size;
    return p;
  }

  bytes(ptr: number, length: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, length);
  }

  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }
}
