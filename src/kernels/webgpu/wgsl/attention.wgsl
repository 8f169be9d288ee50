// Causal attention with GQA over an f32 KV cache: one 64-thread workgroup per (query row i, head h); scores for
// positions t0..pos0+i go to a scratch buffer, max and sum by tree reduction, then each thread owns output dims.
// t0 is the start of the sliding window (window > 0); softcap > 0 caps scores at softcap * tanh(s / softcap).

struct Params { n: u32, pos0: u32, nHeads: u32, nKv: u32, headDim: u32, seq: u32, scale: f32, softcap: f32, window: u32, _p0: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> scores: array<f32>;

var<workgroup> red: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let h = wg.x;
  let i = wg.y;
  let kvh = h / (p.nHeads / p.nKv);
  let len = p.pos0 + i + 1u;
  var t0 = 0u;
  if (p.window > 0u && len > p.window) { t0 = len - p.window; }
  let qo = (i * p.nHeads + h) * p.headDim;
  let so = (i * p.nHeads + h) * p.seq;
  let kvStride = p.nKv * p.headDim;
  var m = -3.402823e38;
  for (var t = t0 + lid; t < len; t += 64u) {
    var s = 0.0;
    let ko = t * kvStride + kvh * p.headDim;
    for (var d = 0u; d < p.headDim; d++) { s += q[qo + d] * k[ko + d]; }
    s *= p.scale;
    if (p.softcap > 0.0) { s = p.softcap * tanh(clamp(s / p.softcap, -10.0, 10.0)); }
    scores[so + t] = s;
    m = max(m, s);
  }
  red[lid] = m;
  workgroupBarrier();
  for (var step = 32u; step > 0u; step >>= 1u) {
    if (lid < step) { red[lid] = max(red[lid], red[lid + step]); }
    workgroupBarrier();
  }
  let mx = red[0];
  workgroupBarrier();
  var sum = 0.0;
  for (var t = t0 + lid; t < len; t += 64u) {
    let e = exp(scores[so + t] - mx);
    scores[so + t] = e;
    sum += e;
  }
  red[lid] = sum;
  workgroupBarrier();
  for (var step = 32u; step > 0u; step >>= 1u) {
    if (lid < step) { red[lid] += red[lid + step]; }
    workgroupBarrier();
  }
  let inv = 1.0 / red[0];
  storageBarrier();
  for (var d = lid; d < p.headDim; d += 64u) {
    var acc = 0.0;
    for (var t = t0; t < len; t++) { acc += scores[so + t] * v[t * kvStride + kvh * p.headDim + d]; }
    out[qo + d] = acc * inv;
  }
}
