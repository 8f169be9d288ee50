// Merge kernel: W[i, j] += scale * sum_k B[i, k] * A[k, j], in place on f32 W; one invocation per element.

struct Params { rows: u32, cols: u32, r: u32, scale: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> a: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x;
  let i = gid.y + gid.z * 65535u;
  if (j >= p.cols || i >= p.rows) { return; }
  var d = 0.0;
  for (var k = 0u; k < p.r; k++) { d += b[i * p.r + k] * a[k * p.cols + j]; }
  w[i * p.cols + j] += p.scale * d;
}
