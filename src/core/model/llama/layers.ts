// One decoder layer's weights, by checkpoint name, for every variant the engine runs: Llama's seven linears and two
// norms, Qwen3/Gemma 3 per-head q_norm/k_norm, Gemma's four norms stored as offsets from 1, and Phi-3's fused
// qkv_proj / gate_up_proj, split here by rows into q|k|v and gate|up (the rows are contiguous in the file).

import type { BTensor, WeightDType } from '../../backend';
import { CoreError } from '../../errors';
import type { ModelWeights, WeightTensor } from '../../safetensors/modelWeights';
import type { TensorLoader } from '../tensorLoader';
import type { LlamaConfig } from './config';

/** A linear layer y = x W^T (+ b), named by its module path so adapters can find it. */
export interface Linear {
  readonly name: string;
  /** (outDim, inDim) in its stored format */
  readonly w: BTensor;
  /** (outDim) f32, or null */
  readonly bias: BTensor | null;
  readonly outDim: number;
  readonly inDim: number;
  /** Part of a fused module (Phi-3): the first output row of this part within the module `name`; null otherwise. */
  readonly row0: number | null;
}

export interface Layer {
  /** (dim) f32 */
  readonly attnNorm: BTensor;
  readonly q: Linear; // (nHeads*headDim, dim)
  readonly k: Linear; // (nKvHeads*headDim, dim)
  readonly v: Linear; // (nKvHeads*headDim, dim)
  readonly o: Linear; // (dim, nHeads*headDim)
  /** (headDim) f32: Qwen3 / Gemma 3 q_norm and k_norm, else null */
  readonly qNorm: BTensor | null;
  readonly kNorm: BTensor | null;
  /** (dim) f32: before the MLP (Llama), or on the attention output (Gemma's sandwich) */
  readonly mlpNorm: BTensor;
  /** (dim) f32: Gemma's pre_feedforward_layernorm and post_feedforward_layernorm, else null */
  readonly preFfnNorm: BTensor | null;
  readonly postFfnNorm: BTensor | null;
  readonly gate: Linear; // (hidden, dim)
  readonly up: Linear; // (hidden, dim)
  readonly down: Linear; // (dim, hidden)
}

/** Key of a linear in the adapter tables: its module path, plus the row offset for a part of a fused module. */
export function linearKey(l: Pick<Linear, 'name' | 'row0'>): string {
  return l.row0 === null ? l.name : `${l.name}@${l.row0}`;
}

/** Loads layers through one TensorLoader, checking each tensor's shape against config.json. */
export class LayerLoader {
  constructor(private readonly weights: ModelWeights, private readonly loader: TensorLoader, private readonly config: LlamaConfig,
    private readonly quantize: WeightDType | undefined, private readonly onTensor: () => void) {}

  tensor(name: string): WeightTensor {
    const t = this.weights.tensors.get(name);
    if (!t) throw new CoreError('bad-format', `${this.weights.folder}: weight '${name}' is missing.`, this.weights.folder);
    return t;
  }

  /** A 2-D weight of the expected shape, as stored (or q8_0 when quantizing and the row length allows). */
  private checked(name: string, outDim: number, inDim: number): WeightTensor {
    const wt = this.tensor(`${name}.weight`);
    if (wt.shape.length !== 2 || wt.shape[0] !== outDim || wt.shape[1] !== inDim) {
      throw new CoreError('bad-format', `${wt.file}: '${name}.weight' has shape [${wt.shape}], config.json implies [${outDim}, ${inDim}].`, wt.file);
    }
    return wt;
  }

  async linear(name: string, outDim: number, inDim: number): Promise<Linear> {
    const wt = this.checked(name, outDim, inDim);
    const w = await this.loader.load(wt, this.quantize && inDim % 32 === 0 ? this.quantize : undefined);
    const bt = this.weights.tensors.get(`${name}.bias`);
    const bias = bt ? await this.loader.load(bt, 'f32') : null;
    this.onTensor();
    return { name, w, bias, outDim, inDim, row0: null };
  }

  /** A fused module split by rows into parts of `sizes` rows (q|k|v, gate|up): each part a Linear of its own. */
  async fused(name: string, sizes: readonly number[], inDim: number): Promise<Linear[]> {
    const total = sizes.reduce((a, b) => a + b, 0);
    const wt = this.checked(name, total, inDim);
    if (this.weights.tensors.has(`${name}.bias`)) throw new CoreError('unsupported', `${wt.file}: a bias on the fused '${name}' is not supported.`, wt.file);
    const rowBytes = (wt.end - wt.begin) / total;
    const parts: Linear[] = [];
    let row0 = 0;
    for (const rows of sizes) {
      const part: WeightTensor = { ...wt, shape: [rows, inDim], begin: wt.begin + row0 * rowBytes, end: wt.begin + (row0 + rows) * rowBytes };
      const w = await this.loader.load(part, this.quantize && inDim % 32 === 0 ? this.quantize : undefined, `${name}@${row0}`);
      parts.push({ name, w, bias: null, outDim: rows, inDim, row0 });
      row0 += rows;
    }
    this.onTensor();
    return parts;
  }

  /** A norm weight as f32; Gemma stores w - 1 and scales by (1 + w), computed in f32 as torch does. */
  async norm(name: string): Promise<BTensor> {
    const t = this.tensor(name);
    if (!this.config.variant.normPlusOne) return this.loader.load(t, 'f32');
    const w = (await this.loader.readF32(t)).map((x) => Math.fround(1 + x));
    return this.loader.upload(w, t.shape, name);
  }

  async layer(l: number): Promise<Layer> {
    const c = this.config;
    const v = c.variant;
    const p = `model.layers.${l}`;
    const dim = c.hiddenSize;
    const qDim = c.numHeads * c.headDim;
    const kvDim = c.numKvHeads * c.headDim;
    const ff = c.intermediateSize;
    const [q, k, vv] = v.fused
      ? await this.fused(`${p}.self_attn.qkv_proj`, [qDim, kvDim, kvDim], dim)
      : [await this.linear(`${p}.self_attn.q_proj`, qDim, dim), await this.linear(`${p}.self_attn.k_proj`, kvDim, dim),
        await this.linear(`${p}.self_attn.v_proj`, kvDim, dim)];
    const [gate, up] = v.fused
      ? await this.fused(`${p}.mlp.gate_up_proj`, [ff, ff], dim)
      : [await this.linear(`${p}.mlp.gate_proj`, ff, dim), await this.linear(`${p}.mlp.up_proj`, ff, dim)];
    return {
      attnNorm: await this.norm(`${p}.input_layernorm.weight`),
      q: q!, k: k!, v: vv!,
      o: await this.linear(`${p}.self_attn.o_proj`, dim, qDim),
      qNorm: v.qkNorm ? await this.norm(`${p}.self_attn.q_norm.weight`) : null,
      kNorm: v.qkNorm ? await this.norm(`${p}.self_attn.k_norm.weight`) : null,
      mlpNorm: await this.norm(`${p}.post_attention_layernorm.weight`),
      preFfnNorm: v.sandwichNorms ? await this.norm(`${p}.pre_feedforward_layernorm.weight`) : null,
      postFfnNorm: v.sandwichNorms ? await this.norm(`${p}.post_feedforward_layernorm.weight`) : null,
      gate: gate!, up: up!,
      down: await this.linear(`${p}.mlp.down_proj`, dim, ff),
    };
  }
}
