// Load a model's (or an adapter's) tokenizer from its folder: tokenizer.model (SentencePiece, LlamaTokenizer
// semantics) when present, else tokenizer.json; tokenizer_config.json, added_tokens.json and special_tokens_map.json
// supply BOS/EOS, added tokens, `legacy` and the chat template.

import { CoreError } from '../errors';
import { joinPath } from '../paths';
import type { FsPort } from '../ports';
import { JsonTokenizer } from './jsonTokenizer';
import { parseSentencePieceModel } from './sentencePiece';
import { SentencePieceTokenizer } from './sentencePieceTokenizer';
import { parseTokenizerConfig, type Tokenizer } from './tokenizer';

const MAX_JSON = 64 * 1024 * 1024;

async function readJson(fs: FsPort, path: string): Promise<Record<string, unknown> | null> {
  const st = await fs.stat(path);
  if (st?.kind !== 'file') return null;
  let v: unknown;
  try {
    v = JSON.parse(await fs.readText(path, MAX_JSON));
  } catch (e) {
    if (e instanceof CoreError) throw e;
    throw new CoreError('bad-format', `${path}: not valid JSON (${(e as Error).message}).`, path);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new CoreError('bad-format', `${path}: expected a JSON object.`, path);
  return v as Record<string, unknown>;
}

/** True when the folder ships a tokenizer of its own (an adapter folder with a resized vocabulary does). */
export async function hasTokenizer(fs: FsPort, folder: string): Promise<boolean> {
  for (const f of ['tokenizer.model', 'tokenizer.json']) if ((await fs.stat(joinPath(folder, f)))?.kind === 'file') return true;
  return false;
}

export async function loadTokenizer(fs: FsPort, folder: string): Promise<Tokenizer> {
  const rawConfig = (await readJson(fs, joinPath(folder, 'tokenizer_config.json'))) ?? {};
  const addedJson = await readJson(fs, joinPath(folder, 'added_tokens.json'));
  const specialMap = await readJson(fs, joinPath(folder, 'special_tokens_map.json'));
  // special_tokens_map.json fills in tokens an older tokenizer_config.json leaves out.
  const merged: Record<string, unknown> = { ...rawConfig };
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token']) {
    if (merged[key] === undefined && specialMap?.[key] !== undefined) merged[key] = specialMap[key];
  }
  const config = parseTokenizerConfig(merged, addedJson);
  const spPath = joinPath(folder, 'tokenizer.model');
  if ((await fs.stat(spPath))?.kind === 'file') {
    const bytes = await fs.readFile(spPath, MAX_JSON);
    return new SentencePieceTokenizer(parseSentencePieceModel(bytes, spPath), config);
  }
  const jsonPath = joinPath(folder, 'tokenizer.json');
  const json = await readJson(fs, jsonPath);
  if (json) return new JsonTokenizer(json, config, merged, jsonPath);
  throw new CoreError('not-found', `${folder}: no tokenizer (tokenizer.model or tokenizer.json).`, folder);
}
