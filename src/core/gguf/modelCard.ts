// The general.* authorship keys convert_hf_to_gguf.py derives from a model folder, in gguf-py's order and precedence
// (Metadata.load): the README.md front matter (YAML) first, then config.json's _name_or_path, then the folder name.
// Covers name/author/version/organization/finetune/basename/description/size label, license, source links, base
// models and datasets (hub ids expanded to name, organization, version and repo URL), tags and languages.

import { parse } from 'yaml';
import type { FsPort } from '../ports';
import { joinPath } from '../paths';
import type { GgufKv } from './format';
import { exportNameParts, modelNameParts } from './modelName';

type Json = Record<string, unknown>;

/** The front matter of README.md as gguf-py reads it ({} when there is none or it is not a mapping). */
export async function readModelCard(fs: FsPort, folder: string): Promise<Json> {
  const file = joinPath(folder, 'README.md');
  if ((await fs.stat(file))?.kind !== 'file') return {};
  const lines = (await fs.readText(file)).split(/\r?\n/);
  if (lines[0] !== '---') return {};
  const end = lines.indexOf('---', 1);
  // gguf-py's fixes before yaml.safe_load (YAML 1.1): the "Norway problem" and tabs.
  const text = (lines.slice(1, end < 0 ? undefined : end).join('\n') + '\n').replaceAll('- no\n', '- "no"\n').replaceAll('\t', '  ');
  try {
    const data: unknown = parse(text, { version: '1.1' });
    return data && typeof data === 'object' && !Array.isArray(data) ? (data as Json) : {};
  } catch {
    return {}; // the Python converter stops on a broken card; we convert without its keys
  }
}

const CARD_FIELDS: ReadonlyArray<readonly [string, string]> = [
  ['name', 'name'], ['author', 'author'], ['version', 'version'], ['organization', 'organization'], ['description', 'description'],
  ['finetune', 'finetune'], ['basename', 'basename'], ['size_label', 'size_label'], ['source_url', 'url'], ['source_doi', 'doi'],
  ['source_uuid', 'uuid'], ['source_repo_url', 'repo_url'],
  ['name', 'model_name'], ['author', 'model_author'], ['version', 'model_version'], ['organization', 'model_organization'],
  ['description', 'model_description'], ['finetune', 'model_finetune'], ['basename', 'model_basename'], ['size_label', 'model_size_label'],
  ['source_url', 'model_url'], ['source_doi', 'model_doi'], ['source_uuid', 'model_uuid'], ['source_repo_url', 'model_repo_url'],
  ['name', 'model_name'], ['author', 'model_creator'], ['basename', 'model_type'],
  ['license', 'license'], ['license_name', 'license_name'], ['license_link', 'license_link'],
];

/** A base model or dataset reference: a hub id or URL expanded as gguf-py does, a mapping kept as given. */
function sourceEntry(id: unknown, totalParams: number): Json {
  if (id && typeof id === 'object' && !Array.isArray(id)) return id as Json;
  if (typeof id !== 'string') return {};
  const url = /^(https?|ssh):\/\//.test(id);
  const hub = url ? /^https?:\/\/huggingface\.co\/([^/]+\/[^/]+)$/.exec(id)?.[1] : id;
  const entry: Json = url ? { repo_url: id } : {};
  if (!hub) return entry;
  const p = modelNameParts(hub, totalParams);
  entry.name = p.name;
  if (p.organization) entry.organization = p.organization;
  if (p.version) entry.version = p.version;
  if (!url && hub.includes('/') && !hub.startsWith('.')) entry.repo_url = `https://huggingface.co/${hub}`;
  return entry;
}

function listOf(v: unknown): unknown[] {
  return typeof v === 'string' ? [v] : Array.isArray(v) ? v : [];
}

const firstKey = (card: Json, keys: readonly string[]): unknown => card[keys.find((k) => k in card) ?? ''];

const str = (key: string, v: unknown): GgufKv[] => (v === undefined || v === null || v === '' ? [] : [{ key, value: { type: 'string', value: String(v) } }]);

function sourceKvs(prefix: string, entries: readonly Json[] | null): GgufKv[] {
  if (!entries) return [];
  const out: GgufKv[] = [{ key: `general.${prefix}.count`, value: { type: 'u32', value: entries.length } }];
  entries.forEach((e, i) => {
    for (const f of ['name', 'author', 'version', 'organization', 'description', 'url', 'doi', 'uuid', 'repo_url']) out.push(...str(`general.${prefix}.${i}.${f}`, e[f]));
  });
  return out;
}

function arrayKv(key: string, items: readonly unknown[] | null): GgufKv[] {
  return items && items.length ? [{ key, value: { type: 'array', itemType: 'string', values: items.map(String) } }] : [];
}

/** Every general.* authorship key for the export (after general.sampling.*, before the hyperparameters). */
export function authorshipKvs(card: Json, config: Json, folderName: string, totalParams: number, computedSizeLabel: string | null): GgufKv[] {
  const m: Json = {};
  for (const [field, key] of CARD_FIELDS) if (key in card && m[field] === undefined) m[field] = card[key];
  const hasBase = ['base_model', 'base_models', 'base_model_sources'].some((k) => k in card);
  const hasData = ['datasets', 'dataset', 'dataset_sources'].some((k) => k in card);
  const bases = hasBase ? listOf(firstKey(card, ['base_model', 'base_models', 'base_model_sources'])).map((id) => sourceEntry(id, totalParams)) : null;
  const datasets = hasData ? listOf(firstKey(card, ['datasets', 'dataset', 'dataset_sources'])).map((id) => sourceEntry(id, totalParams)) : null;
  const tags = 'tags' in card || 'pipeline_tag' in card ? [...listOf(card.tags), ...listOf(card.pipeline_tag)] : null;
  const languages = 'languages' in card || 'language' in card ? [...listOf(card.languages), ...listOf(card.language)] : null;
  const named = exportNameParts(config, folderName, totalParams);
  const pick = (field: string, fallback: string | null): unknown => m[field] ?? fallback;
  const license = Array.isArray(m.license) ? m.license.join(',') : m.license;
  return [
    ...str('general.name', pick('name', named.name)), ...str('general.author', m.author), ...str('general.version', pick('version', named.version)),
    ...str('general.organization', pick('organization', named.organization)), ...str('general.finetune', pick('finetune', named.finetune)),
    ...str('general.basename', pick('basename', named.basename)), ...str('general.description', m.description),
    ...str('general.size_label', pick('size_label', named.sizeLabel ?? computedSizeLabel)),
    ...str('general.license', license), ...str('general.license.name', m.license_name), ...str('general.license.link', m.license_link),
    ...str('general.source.url', m.source_url), ...str('general.source.doi', m.source_doi), ...str('general.source.uuid', m.source_uuid),
    ...str('general.source.repo_url', m.source_repo_url),
    ...sourceKvs('base_model', bases), ...sourceKvs('dataset', datasets), ...arrayKv('general.tags', tags), ...arrayKv('general.languages', languages),
  ];
}
