// out[i, outRow0 + r] = x[i, :] . W[r, :] — one 64-thread workgroup per output, strided partial sums, tree reduction.
// W is read in its stored format from u32 words: f32 bits, two f16 / bf16 per word, q8_0 SoA (int8 plane + f32 scales).
// W may be one row range of a weight split across buffers: it then fills columns [outRow0, outRow0 + rows) of out,
// whose rows are outStride long (the whole weight's row count).

struct Params { rows: u32, cols: u32, n: u32, dtype: u32, scalesWord: u32, rowSplit: u32, outRow0: u32, outStride: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, 64>;

fn weight(i: u32) -> f32 {
  switch p.dtype {
    case 0u: { return bitcast<f32>(w[i]); }
    case 1u: { let v = unpack2x16float(w[i >> 1u]); return select(v.x, v.y, (i & 1u) == 1u); }
    case 2u: { let word = w[i >> 1u]; return bitcast<f32>(select(word << 16u, word & 0xffff0000u, (i & 1u) == 1u)); }
    default: {
      let b = (w[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu;
      return f32(bitcast<i32>(b << 24u) >> 24u) * bitcast<f32>(w[p.scalesWord + i / 32u]);
    }
  }
}

/** This invocation's strided share of x[i, :] . W[r, :] (0 past the last row). */
fn partialDot(r: u32, i: u32, lid: u32) -> f32 {
  var s = 0.0;
  if (r < p.rows) {
    let wb = r * p.cols;
    let xb = i * p.cols;
    for (var k = lid; k < p.cols; k += 64u) { s += weight(wb + k) * x[xb + k]; }
  }
  return s;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let r = wg.x + wg.y * p.rowSplit;
  let i = wg.z;
  partial[lid] = partialDot(r, i, lid);
  workgroupBarrier();
  for (var step = 32u; step > 0u; step >>= 1u) {
    if (lid < step) { partial[lid] += partial[lid + step]; }
    workgroupBarrier();
  }
  if (lid == 0u && r < p.rows) { out[i * p.outStride + p.outRow0 + r] = partial[0]; }
}
