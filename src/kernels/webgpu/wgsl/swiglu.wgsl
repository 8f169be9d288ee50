// Gated MLP activations, elementwise: act 0 SwiGLU out = gate / (1 + exp(-gate)) * up; act 1 GeGLU (Gemma)
// out = gelu_tanh(gate) * up, torch's gelu(approximate='tanh'), its tanh argument clamped to +-10 (tanh(10) rounds to
// 1 in f32, and some tanh implementations overflow past it).

struct Params { count: u32, act: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * 4194240u;
  if (i >= p.count) { return; }
  let g = gate[i];
  if (p.act == 1u) {
    let t = tanh(clamp(0.7978845608028654 * (g + 0.044715 * g * g * g), -10.0, 10.0));
    out[i] = 0.5 * g * (1.0 + t) * up[i];
  } else {
    out[i] = g / (1.0 + exp(-g)) * up[i];
  }
}
