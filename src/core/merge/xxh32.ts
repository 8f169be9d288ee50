// Streaming XXH32 (Yann Collet's xxHash, 32-bit variant, seed 0): the manifest's content hash. Chosen because it runs at
// several GB/s in plain JS over bytes the merge already holds in memory (no second read); it identifies content, it is
// not a cryptographic signature. Reference: Cyan4973/xxHash doc/xxhash_spec.md.

const P1 = 2654435761;
const P2 = 2246822519;
const P3 = 3266489917;
const P4 = 668265263;
const P5 = 374761393;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/** Stripe rounds over whole 16-byte stripes, updating v1..v4 in `state`; false when `data` is out of its reach. */
export type StripeRounds = (state: Int32Array, data: Uint8Array) => boolean;

export class Xxh32 {
  private v1: number;
  private v2: number;
  private v3: number;
  private v4: number;
  private total = 0;
  private readonly buf = new Uint8Array(16);
  private bufLen = 0;

  /**
   * `accelerate`, when given, runs the stripe rounds over data it can reach (a backend's SIMD kernel over its own
   * memory, see Backend.xxh32Stripes) and returns false for data it cannot; the JS rounds below take those.
   */
  constructor(private readonly seed = 0, private readonly accelerate?: StripeRounds) {
    this.v1 = (seed + P1 + P2) | 0;
    this.v2 = (seed + P2) | 0;
    this.v3 = seed | 0;
    this.v4 = (seed - P1) | 0;
  }

  /** Bytes hashed so far. */
  get length(): number {
    return this.total;
  }

  update(data: Uint8Array): void {
    this.total += data.length;
    let p = 0;
    const n = data.length;
    if (this.bufLen > 0) {
      const take = Math.min(16 - this.bufLen, n);
      this.buf.set(data.subarray(0, take), this.bufLen);
      this.bufLen += take;
      p = take;
      if (this.bufLen < 16) return;
      this.stripes(this.buf, 0, 16);
      this.bufLen = 0;
    }
    const full = p + Math.floor((n - p) / 16) * 16;
    if (full > p) this.stripes(data, p, full);
    if (full < n) {
      this.buf.set(data.subarray(full, n), 0);
      this.bufLen = n - full;
    }
  }

  private stripes(data: Uint8Array, from: number, to: number): void {
    if (this.accelerate) {
      const state = Int32Array.of(this.v1, this.v2, this.v3, this.v4);
      if (this.accelerate(state, data.subarray(from, to))) {
        [this.v1, this.v2, this.v3, this.v4] = state as unknown as [number, number, number, number];
        return;
      }
    }
    let v1 = this.v1, v2 = this.v2, v3 = this.v3, v4 = this.v4;
    const abs = data.byteOffset + from;
    if ((abs & 3) === 0) {
      // Aligned: read little-endian words through a Uint32Array (every supported host is little-endian).
      const w = new Int32Array(data.buffer, abs, (to - from) >>> 2); // int32: stays a small integer in V8
      for (let i = 0; i < w.length; i += 4) {
        v1 = Math.imul(rotl((v1 + Math.imul(w[i]!, P2)) | 0, 13), P1);
        v2 = Math.imul(rotl((v2 + Math.imul(w[i + 1]!, P2)) | 0, 13), P1);
        v3 = Math.imul(rotl((v3 + Math.imul(w[i + 2]!, P2)) | 0, 13), P1);
        v4 = Math.imul(rotl((v4 + Math.imul(w[i + 3]!, P2)) | 0, 13), P1);
      }
    } else {
      const dv = new DataView(data.buffer, abs, to - from);
      for (let i = 0; i < to - from; i += 16) {
        v1 = Math.imul(rotl((v1 + Math.imul(dv.getUint32(i, true), P2)) | 0, 13), P1);
        v2 = Math.imul(rotl((v2 + Math.imul(dv.getUint32(i + 4, true), P2)) | 0, 13), P1);
        v3 = Math.imul(rotl((v3 + Math.imul(dv.getUint32(i + 8, true), P2)) | 0, 13), P1);
        v4 = Math.imul(rotl((v4 + Math.imul(dv.getUint32(i + 12, true), P2)) | 0, 13), P1);
      }
    }
    this.v1 = v1; this.v2 = v2; this.v3 = v3; this.v4 = v4;
  }

  /** The hash as 8 lowercase hex digits. */
  digestHex(): string {
    let h = this.total >= 16
      ? (rotl(this.v1, 1) + rotl(this.v2, 7) + rotl(this.v3, 12) + rotl(this.v4, 18)) | 0
      : (this.seed + P5) | 0;
    h = (h + this.total) | 0; // the spec adds the length modulo 2^32
    let p = 0;
    const b = this.buf;
    for (; p + 4 <= this.bufLen; p += 4) {
      const w = b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
      h = Math.imul(rotl((h + Math.imul(w, P3)) | 0, 17), P4);
    }
    for (; p < this.bufLen; p++) h = Math.imul(rotl((h + Math.imul(b[p]!, P5)) | 0, 11), P1);
    h ^= h >>> 15;
    h = Math.imul(h, P2);
    h ^= h >>> 13;
    h = Math.imul(h, P3);
    h ^= h >>> 16;
    return (h >>> 0).toString(16).padStart(8, '0');
  }
}
