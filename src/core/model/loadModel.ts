// Open a model folder for generation: config.json -> LlamaConfig, weights indexed from headers (single or sharded
// safetensors), tokenizer, and generation_config.json defaults. The caller supplies the backend.

import type { Backend } from '../backend';
import { readJsonObject } from '../jsonFile';
import { joinPath } from '../paths';
import type { FsPort } from '../ports';
import { CoreError } from '../errors';
import { readModelWeights, type ModelWeights, type WeightTensor } from '../safetensors/modelWeights';
import { readTorchBinTensors } from '../torchpickle/binReader';
import { loadTokenizer } from '../tokenizer/loadTokenizer';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { parseLlamaConfig, type LlamaConfig } from './llama/config';
import { languageModelName } from './llama/families';
import { LlamaModel, type LoadOptions } from './llama/model';
import { parseGenerationConfig, type GenerationDefaults } from '../sampling/generationConfig';

export interface LoadedModel {
  readonly folder: string;
  readonly config: LlamaConfig;
  readonly model: LlamaModel;
  readonly tokenizer: Tokenizer;
  readonly generation: GenerationDefaults;
}


/** Read config.json only (cheap): used to fail early on unsupported architectures. */
export async function readLlamaConfig(fs: FsPort, folder: string): Promise<LlamaConfig> {
  const path = joinPath(folder, 'config.json');
  return parseLlamaConfig(await readJsonObject(fs, path, true), path);
}

export async function loadModel(fs: FsPort, folder: string, backend: Backend, options: LoadOptions = {}): Promise<LoadedModel> {
  const config = await readLlamaConfig(fs, folder);
  const tokenizer = await loadTokenizer(fs, folder);
  const generation = parseGenerationConfig(await readJsonObject(fs, joinPath(folder, 'generation_config.json'), false), config, tokenizer);
  // pytorch_model*.bin bases are indexed without executing their pickle and read with the same ranged reads.
  const read = await readModelWeights(fs, folder, readTorchBinTensors);
  const weights = config.variant.multimodal ? languageModelWeights(read, config) : read;
  const model = await LlamaModel.load(fs, backend, config, weights, options);
  return { folder, config, model, tokenizer, generation };
}

/** The language model's tensors of a multimodal checkpoint under their text-model names (vision tower left out). */
function languageModelWeights(w: ModelWeights, config: LlamaConfig): ModelWeights {
  const tensors = new Map<string, WeightTensor>();
  for (const [name, t] of w.tensors) {
    const renamed = languageModelName(name);
    if (renamed !== null) tensors.set(renamed, t);
  }
  if (!tensors.has('model.embed_tokens.weight')) {
    throw new CoreError('bad-format', `${w.folder}: a ${config.architecture} checkpoint without its language model `
      + `(no language_model.model.embed_tokens.weight or model.language_model.embed_tokens.weight).`, w.folder);
  }
  return { ...w, tensors };
}
