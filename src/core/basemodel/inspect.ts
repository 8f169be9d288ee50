// What a base-model folder holds, from config.json and the weight headers only (never tensor data): architecture,
// dtype, vocab, layers, quantization, weight layout and tensor index. Results are cached by file mtimes/sizes so the
// editor can re-diagnose on every keystroke without re-reading headers.
// Reference: transformers PretrainedConfig fields; DOMAIN.md §4-5.

import { CoreError } from '../errors';
import { joinPath } from '../paths';
import type { FsPort } from '../ports';
import { detectWeightsLayout, readModelWeights, type BinHeaderReader, type ModelWeights, type WeightsLayout } from '../safetensors/modelWeights';

export interface Quantization {
  /** quant_method as written: 'bitsandbytes', 'gptq', 'awq', ... */
  readonly method: string;
  readonly bits: number | null;
}

export interface BaseModelInfo {
  readonly folder: string;
  readonly hasConfig: boolean;
  readonly architecture: string | null;
  readonly modelType: string | null;
  readonly dtype: string | null;
  readonly vocabSize: number | null;
  readonly numLayers: number | null;
  readonly hiddenSize: number | null;
  readonly tieWordEmbeddings: boolean | null;
  readonly quantization: Quantization | null;
  readonly layout: WeightsLayout | null;
  /** Header-indexed weights; null when absent or unreadable (see weightsError). */
  readonly weights: ModelWeights | null;
  readonly weightsError: string | null;
  readonly configError: string | null;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function quantizationOf(cfg: Record<string, unknown>): Quantization | null {
  const q = cfg.quantization_config as Record<string, unknown> | undefined;
  if (!q || typeof q !== 'object') return null;
  const method = typeof q.quant_method === 'string' ? q.quant_method : q.load_in_4bit || q.load_in_8bit ? 'bitsandbytes' : 'unknown';
  const bits = num(q.bits) ?? (q.load_in_4bit === true ? 4 : q.load_in_8bit === true ? 8 : null);
  return { method, bits };
}

/** Read a base folder's config.json and weight headers. Never throws: failures land in configError/weightsError. */
export async function inspectBaseModel(fs: FsPort, folder: string, binReader?: BinHeaderReader): Promise<BaseModelInfo> {
  let cfg: Record<string, unknown> = {};
  let hasConfig = false;
  let configError: string | null = null;
  const cfgPath = joinPath(folder, 'config.json');
  try {
    const st = await fs.stat(cfgPath);
    if (st?.kind === 'file') {
      hasConfig = true;
      const parsed: unknown = JSON.parse(await fs.readText(cfgPath, 4 * 1024 * 1024));
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) cfg = parsed as Record<string, unknown>;
      else configError = `${cfgPath}: not a JSON object.`;
    }
  } catch (e) {
    configError = e instanceof SyntaxError ? `${cfgPath}: not valid JSON (${e.message}).` : (e as Error).message;
  }
  // Multimodal configs nest the language model (text_config); its fields are the ones adapters touch.
  const text = (cfg.text_config && typeof cfg.text_config === 'object' ? cfg.text_config : cfg) as Record<string, unknown>;
  let layout: WeightsLayout | null = null;
  let weights: ModelWeights | null = null;
  let weightsError: string | null = null;
  try {
    layout = (await detectWeightsLayout(fs, folder))?.layout ?? null;
    if (layout) weights = await readModelWeights(fs, folder, binReader);
  } catch (e) {
    weightsError = e instanceof CoreError ? e.message : `${folder}: ${(e as Error).message}`;
  }
  const archs = cfg.architectures;
  return {
    folder,
    hasConfig,
    architecture: Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : null,
    modelType: typeof cfg.model_type === 'string' ? cfg.model_type : null,
    dtype: typeof cfg.torch_dtype === 'string' ? cfg.torch_dtype : typeof cfg.dtype === 'string' ? cfg.dtype : null,
    vocabSize: num(text.vocab_size) ?? num(cfg.vocab_size),
    numLayers: num(text.num_hidden_layers) ?? num(text.n_layer) ?? num(text.num_layers),
    hiddenSize: num(text.hidden_size) ?? num(text.n_embd),
    tieWordEmbeddings: typeof cfg.tie_word_embeddings === 'boolean' ? cfg.tie_word_embeddings : null,
    quantization: quantizationOf(cfg),
    layout,
    weights,
    weightsError,
    configError,
  };
}

/** Cache of inspectBaseModel results keyed by folder, invalidated when config.json or any weight file changes. */
export class BaseModelCache {
  private readonly entries = new Map<string, { stamp: string; info: BaseModelInfo }>();

  constructor(private readonly maxEntries = 32) {}

  private async stampOf(fs: FsPort, folder: string, info?: BaseModelInfo): Promise<string> {
    const files = ['config.json', 'model.safetensors.index.json', 'model.safetensors', 'pytorch_model.bin.index.json', 'pytorch_model.bin']
      .map((f) => joinPath(folder, f));
    for (const f of info?.weights?.files ?? []) if (!files.includes(f)) files.push(f);
    // Concurrent stats: this runs on every re-diagnosis, so it is the hot path of the editor feature.
    const parts = await Promise.all(files.map(async (f) => {
      try {
        const st = await fs.stat(f);
        return st ? `${st.size}:${st.mtimeMs}` : '-';
      } catch {
        return '!';
      }
    }));
    return parts.join('|');
  }

  async get(fs: FsPort, folder: string, binReader?: BinHeaderReader): Promise<BaseModelInfo> {
    const hit = this.entries.get(folder);
    if (hit && (await this.stampOf(fs, folder, hit.info)) === hit.stamp) return hit.info;
    const info = await inspectBaseModel(fs, folder, binReader);
    const stamp = await this.stampOf(fs, folder, info);
    this.entries.delete(folder);
    this.entries.set(folder, { stamp, info });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    return info;
  }

  clear(): void {
    this.entries.clear();
  }
}
