// RoPE inverse frequencies with rope_scaling applied, as transformers' modeling_rope_utils computes them
// (default, linear, dynamic NTK, llama3, longrope with Phi-3's older name 'su'), in f32 like torch. The result feeds Backend.rope (HF rotate_half).

/** The config.json fields RoPE depends on (snake_case names as in HF configs). */
export interface RopeConfig {
  /** head_dim, or hidden_size / num_attention_heads. */
  readonly headDim: number;
  /** rope_theta (default 10000). */
  readonly ropeTheta?: number;
  /** partial_rotary_factor (default 1): only the first headDim*factor dims rotate. */
  readonly partialRotaryFactor?: number;
  readonly maxPositionEmbeddings?: number;
  /** original_max_position_embeddings at the top level of config.json (Phi-3 longrope). */
  readonly originalMaxPositionEmbeddings?: number | null;
  /** rope_scaling from config.json, verbatim (null/absent: default RoPE). */
  readonly ropeScaling?: Readonly<Record<string, unknown>> | null;
}

export interface RopeFreqs {
  /** f32 [rotaryDim / 2] */
  readonly invFreq: Float32Array;
  /** Multiplies cos and sin (1 for the types here; yarn/longrope use others). */
  readonly attentionFactor: number;
  readonly ropeType: 'default' | 'linear' | 'dynamic' | 'llama3' | 'longrope';
}

const f = Math.fround;

function baseInvFreq(base: number, dim: number): Float32Array {
  const out = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) out[i] = f(1 / f(base ** f((2 * i) / dim)));
  return out;
}

function num(scaling: Readonly<Record<string, unknown>>, key: string, fallback?: number): number {
  const v = scaling[key];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (fallback !== undefined) return fallback;
  throw new RangeError(`rope_scaling.${key} is missing or not a number`);
}

/**
 * invFreq for positions up to `seqLen` (only dynamic NTK depends on it: it grows the base once seqLen exceeds
 * max_position_embeddings). Unknown rope types throw a RangeError naming the type.
 */
export function computeInvFreq(config: RopeConfig, seqLen?: number): RopeFreqs {
  const base = config.ropeTheta ?? 10000;
  const dim = Math.floor(config.headDim * (config.partialRotaryFactor ?? 1));
  const scaling = config.ropeScaling ?? null;
  const type = scaling ? String(scaling['rope_type'] ?? scaling['type'] ?? 'default') : 'default';
  switch (type) {
    case 'default':
      return { invFreq: baseInvFreq(base, dim), attentionFactor: 1, ropeType: 'default' };
    case 'linear': {
      const factor = num(scaling!, 'factor');
      const inv = baseInvFreq(base, dim);
      for (let i = 0; i < inv.length; i++) inv[i] = f(inv[i]! / factor);
      return { invFreq: inv, attentionFactor: 1, ropeType: 'linear' };
    }
    case 'dynamic': {
      const factor = num(scaling!, 'factor');
      const maxPos = config.maxPositionEmbeddings ?? num(scaling!, 'original_max_position_embeddings');
      const len = seqLen !== undefined && seqLen > maxPos ? seqLen : maxPos;
      const b = base * ((factor * len) / maxPos - (factor - 1)) ** (dim / (dim - 2));
      return { invFreq: baseInvFreq(b, dim), attentionFactor: 1, ropeType: 'dynamic' };
    }
    case 'llama3': {
      const factor = num(scaling!, 'factor');
      const low = num(scaling!, 'low_freq_factor');
      const high = num(scaling!, 'high_freq_factor');
      const oldLen = num(scaling!, 'original_max_position_embeddings');
      const lowWavelen = oldLen / low;
      const highWavelen = oldLen / high;
      const inv = baseInvFreq(base, dim);
      for (let i = 0; i < inv.length; i++) {
        const fr = inv[i]!;
        const wavelen = f((2 * Math.PI) / fr);
        if (wavelen > lowWavelen) inv[i] = f(fr / factor);
        else if (wavelen >= highWavelen) {
          // Medium band: interpolate between the scaled and the unscaled frequency.
          const smooth = f((oldLen / wavelen - low) / (high - low));
          inv[i] = f(f((1 - smooth) * f(fr / factor)) + f(smooth * fr));
        }
      }
      return { invFreq: inv, attentionFactor: 1, ropeType: 'llama3' };
    }
    case 'longrope': case 'su':
      return longrope(config, scaling!, base, dim, seqLen);
    default:
      throw new RangeError(`rope_scaling type '${type}' is not supported (supported: default, linear, dynamic, llama3, longrope)`);
  }
}

function factorList(scaling: Readonly<Record<string, unknown>>, key: string, len: number): number[] {
  const v = scaling[key];
  if (!Array.isArray(v) || v.length !== len || !v.every((x) => typeof x === 'number')) {
    throw new RangeError(`rope_scaling.${key} must list ${len} numbers`);
  }
  return v as number[];
}

/**
 * LongRoPE (Phi-3): per-frequency factors, long_factor once the sequence passes the pretrained context (the switch
 * transformers' longrope_frequency_update makes), short_factor below it; cos/sin scaled by
 * sqrt(1 + ln(factor) / ln(original)) with factor = max_position_embeddings / original unless attention_factor is set.
 */
function longrope(config: RopeConfig, scaling: Readonly<Record<string, unknown>>, base: number, dim: number, seqLen?: number): RopeFreqs {
  const topOriginal = config.originalMaxPositionEmbeddings ?? null;
  const original = topOriginal ?? num(scaling, 'original_max_position_embeddings', config.maxPositionEmbeddings);
  const factor = topOriginal !== null && config.maxPositionEmbeddings !== undefined
    ? config.maxPositionEmbeddings / topOriginal : num(scaling, 'factor', 1);
  const given = scaling['attention_factor'];
  const attentionFactor = typeof given === 'number' ? given
    : factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(original));
  const ext = factorList(scaling, seqLen !== undefined && seqLen > original ? 'long_factor' : 'short_factor', dim / 2);
  const inv = new Float32Array(dim / 2);
  for (let i = 0; i < inv.length; i++) inv[i] = f(1 / f(f(ext[i]!) * f(base ** f((2 * i) / dim))));
  return { invFreq: inv, attentionFactor, ropeType: 'longrope' };
}
