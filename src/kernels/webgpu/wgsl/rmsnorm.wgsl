// HF LlamaRMSNorm: out = x / sqrt(mean(x^2) + eps) * weight; one 64-thread workgroup per row.

struct Params { d: u32, eps: f32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let base = wg.x * p.d;
  var s = 0.0;
  for (var j = lid; j < p.d; j += 64u) { s += x[base + j] * x[base + j]; }
  partial[lid] = s;
  workgroupBarrier();
  for (var step = 32u; step > 0u; step >>= 1u) {
    if (lid < step) { partial[lid] += partial[lid + step]; }
    workgroupBarrier();
  }
  let inv = inverseSqrt(partial[0] / f32(p.d) + p.eps);
  for (var j = lid; j < p.d; j += 64u) { out[base + j] = x[base + j] * inv * weight[j]; }
}
