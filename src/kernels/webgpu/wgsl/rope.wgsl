// HF rotate_half RoPE in place: pairs (j, j + half) of every head rotate by (pos0 + i) * invFreq[j]; half = rotaryDim/2
// (headDim/2, less with partial_rotary_factor: the dims past 2*half pass through).
// WGSL's cos/sin only promise 2^-11 absolute error (SwiftShader is off by 1e-5 already near 2*pi, more at position
// 4000), so the angle is reduced by 2*pi in three parts (Cody-Waite) and by quadrant, then evaluated by Taylor series.

struct Params { n: u32, heads: u32, headDim: u32, pos0: u32, attentionFactor: f32, half: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> invFreq: array<f32>;

/** (cos a, sin a) to ~1e-7 for |a| up to ~1e5. */
fn cosSin(a: f32) -> vec2<f32> {
  let k = round(a * 0.15915494309189535);
  // 2*pi = 6.28125 + f32(1.9353072e-3) + 1.0253132e-11; k * 6.28125 is exact for |k| < 2^15.
  var r = a - k * 6.28125;
  r = r - k * 1.9353072e-3;
  r = r - k * 1.0253132e-11;
  let q = round(r * 0.6366197723675814);
  let y = r - q * 1.5707963267948966;
  let y2 = y * y;
  let s = y * (1.0 + y2 * (-1.6666667e-1 + y2 * (8.3333333e-3 + y2 * (-1.9841270e-4 + y2 * 2.7557319e-6))));
  let c = 1.0 + y2 * (-0.5 + y2 * (4.1666667e-2 + y2 * (-1.3888889e-3 + y2 * (2.4801587e-5 - y2 * 2.7557319e-7))));
  let quadrant = i32(q) & 3;
  switch quadrant {
    case 0: { return vec2<f32>(c, s); }
    case 1: { return vec2<f32>(-s, c); }
    case 2: { return vec2<f32>(-c, -s); }
    default: { return vec2<f32>(s, -c); }
  }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let half = p.half;
  let j = gid.x;
  let h = gid.y;
  let i = gid.z;
  if (j >= half || h >= p.heads || i >= p.n) { return; }
  let ang = f32(p.pos0 + i) * invFreq[j];
  let cs = cosSin(ang) * p.attentionFactor;
  let c = cs.x;
  let s = cs.y;
  let o = (i * p.heads + h) * p.headDim;
  let x1 = x[o + j];
  let x2 = x[o + j + half];
  x[o + j] = x1 * c - x2 * s;
  x[o + j + half] = x2 * c + x1 * s;
}
