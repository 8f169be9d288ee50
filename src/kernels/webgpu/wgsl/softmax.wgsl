// Numerically stable softmax of each row, in place; one 64-thread workgroup per row.

struct Params { cols: u32, _p0: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;

var<workgroup> red: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let base = wg.x * p.cols;
  var m = -3.402823e38;
  for (var j = lid; j < p.cols; j += 64u) { m = max(m, x[base + j]); }
  red[lid] = m;
  workgroupBarrier();
  for (var step = 32u; step > 0u; step >>= 1u) {
    if (lid < step) { red[lid] = max(red[lid], red[lid + step]); }
    workgroupBarrier();
  }
  let mx = red[0];
  workgroupBarrier();
  var s = 0.0;
  for (var j = lid; j < p.cols; j += 64u) {
    let e = exp(x[base + j] - mx);
    x[base + j] = e;
    s += e;
  }
  red[lid] = s;
  workgroupBarrier();
  for (var step = 32u; step > 0u; step >>= 1u) {
    if (lid < step) { red[lid] += red[lid + step]; }
    workgroupBarrier();
  }
  let inv = 1.0 / red[0];
  for (var j = lid; j < p.cols; j += 64u) { x[base + j] *= inv; }
}
