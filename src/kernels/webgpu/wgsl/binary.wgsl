// Elementwise out = a (op) b: 0 add, 1 multiply by b broadcast over rows of width d, 2 add b broadcast over rows,
// 3 out = a + scale * b (loraApply's accumulate). out may alias a, so both are bound as one read_write buffer.

struct Params { count: u32, d: u32, op: u32, scale: f32, aOff: u32, _p0: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * 4194240u;
  if (i >= p.count) { return; }
  // aOff == 1: a is out itself (in place), read through `out`.
  let av = select(a[i], out[i], p.aOff == 1u);
  switch p.op {
    case 0u: { out[i] = av + b[i]; }
    case 1u: { out[i] = av * b[i % p.d]; }
    case 2u: { out[i] = av + b[i % p.d]; }
    default: { out[i] = av + p.scale * b[i]; }
  }
}
