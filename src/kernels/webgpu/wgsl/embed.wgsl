// out[i, :] = table[ids[i], :] decoded to f32 (f32, f16, bf16, q8_0 SoA words as in matmul.wgsl). Also decodes
// whole non-f32 vectors (norm weights, biases) for ops that take f32 (ids = [0, 1, ...]). For a table split across
// buffers each part runs with the ids it does not hold set to 0xffffffff: those output rows are left to other parts.

struct Params { cols: u32, count: u32, dtype: u32, scalesWord: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> table: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn weight(i: u32) -> f32 {
  switch p.dtype {
    case 0u: { return bitcast<f32>(table[i]); }
    case 1u: { let v = unpack2x16float(table[i >> 1u]); return select(v.x, v.y, (i & 1u) == 1u); }
    case 2u: { let word = table[i >> 1u]; return bitcast<f32>(select(word << 16u, word & 0xffff0000u, (i & 1u) == 1u)); }
    default: {
      let b = (table[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu;
      return f32(bitcast<i32>(b << 24u) >> 24u) * bitcast<f32>(table[p.scalesWord + i / 32u]);
    }
  }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x;
  let i = gid.y;
  if (j >= p.cols || i >= p.count || ids[i] == 0xffffffffu) { return; }
  out[i * p.cols + j] = weight(ids[i] * p.cols + j);
}
