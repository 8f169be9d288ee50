// general.name / basename / finetune / version / size_label from a model's folder name, with the heuristics of gguf-py's
// Metadata.get_model_id_components and id_to_title (what convert_hf_to_gguf.py writes when no model card names it):
// 'TinyLlama-1.1B-Chat-v1.0' -> name 'TinyLlama 1.1B Chat v1.0', basename 'TinyLlama', version 'v1.0', ...

export interface ModelNameParts {
  readonly name: string;
  readonly organization: string | null;
  readonly basename: string | null;
  readonly finetune: string | null;
  readonly version: string | null;
  readonly sizeLabel: string | null;
}

type Tag = 'basename' | 'size_label' | 'finetune' | 'version' | 'type';

const isAlpha = (s: string): boolean => /^[A-Za-z]+$/.test(s);
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/** Python's str.title(): a letter is upper-cased after a non-letter, lower-cased after a letter. */
function pyTitle(w: string): string {
  return w.replace(/[A-Za-z]+/g, (run) => run[0]!.toUpperCase() + run.slice(1).toLowerCase());
}

/** Python's str.islower(): some cased character and none upper-case. */
function pyIsLower(w: string): boolean {
  return /[a-z]/.test(w) && !/[A-Z]/.test(w);
}

export function idToTitle(s: string): string {
  return s.trim().replaceAll('-', ' ').split(/\s+/).filter(Boolean)
    .map((w) => (pyIsLower(w) && !/^(v\d+(?:\.\d+)*|\d.*)$/.test(w) ? pyTitle(w) : w)).join(' ');
}

/** A size-like part ('7b', '1.1B', '8x7B', '70m'), normalised; with the tag it earns against the parameter count. */
function sizePart(raw: string, totalParams: number): [string, Tag | null] {
  let part = raw.replaceAll('_', '.');
  if (isDigit(part[part.length - 1])) part = part.slice(0, -2) + '.' + part[part.length - 1]! + part[part.length - 2]!; // bloom-7b1
  if (part.length > 1 && isDigit(part[part.length - 2]) && 'kmbt'.includes(part[part.length - 1]!)) part = part.slice(0, -1) + part[part.length - 1]!.toUpperCase();
  if (totalParams !== 0) {
    const label = Number(part.slice(0, -1)) * 1000 ** ' KMBT'.indexOf(part[part.length - 1]!);
    // A negative count is an adapter's (gguf-py's convention): only labels far below it are rejected.
    const far = totalParams < 0 ? label < Math.floor(-totalParams / 8) : Math.abs(label - totalParams) > Math.floor((7 * totalParams) / 8);
    if (!Number.isNaN(label) && far) {
      return [part.slice(0, -1) + part[part.length - 1]!.toLowerCase(), 'finetune']; // likely a context length
    }
  }
  return [part, null];
}

function annotate(parts: string[], totalParams: number): Array<Set<Tag>> {
  return parts.map((part, i) => {
    const t = new Set<Tag>();
    if (/^(v|iter)?\d+([.]\d+)*$/i.test(part)) t.add('version');
    else if (/^(i?q\d(_\w)*|b?fp?(16|32))$/i.test(part)) { t.add('type'); parts[i] = part.toUpperCase(); }
    else if (i > 0 && /^(([A]|\d+[x])?\d+([._]\d+)?[KMBT][\d]?|small|mini|medium|large|x?xl)$/i.test(part)) {
      const [norm, tag] = sizePart(part, totalParams);
      t.add(tag ?? 'size_label');
      parts[i] = norm;
    } else if (i > 0 && /^(chat|instruct|vision|lora)$/i.test(part)) t.add(totalParams < 0 && part.toLowerCase() === 'lora' ? 'type' : 'finetune');
    return t;
  });
}

function markBasename(parts: readonly string[], tags: Array<Set<Tag>>): void {
  let atStart = true;
  parts.forEach((part, i) => {
    const t = tags[i]!;
    if (atStart && ((t.size === 0 && /^[A-Za-z]/.test(part)) || t.has('version'))) t.add('basename');
    else {
      atStart = false;
      if (t.size === 0) t.add('finetune');
    }
  });
  for (let i = parts.length - 1; i >= 0; i--) {
    const t = tags[i]!;
    if (t.has('basename') && t.size > 1) t.delete('basename');
    else break;
  }
}

/** The name parts gguf-py derives from a model id ('org/name' or a folder name). */
export function modelNameParts(modelId: string, totalParams: number): ModelNameParts {
  if (modelId.includes(' ')) return { name: idToTitle(modelId), organization: null, basename: null, finetune: null, version: null, sizeLabel: null };
  const slash = modelId.indexOf('/');
  const org = slash >= 0 && !modelId.startsWith('.') ? modelId.slice(0, slash) : null;
  const id = slash >= 0 ? modelId.slice(slash + 1) : modelId;
  const name = idToTitle(id);
  const organization = org ? idToTitle(org) : null;
  const parts = id.split('-').filter((p) => p.length > 0);
  const tags = annotate(parts, totalParams);
  // Word sizes ('small') give way to numeric ones.
  if (parts.some((p, i) => tags[i]!.has('size_label') && /\d/.test(p))) parts.forEach((p, i) => { if (tags[i]!.has('size_label') && isAlpha(p)) tags[i]!.delete('size_label'); });
  markBasename(parts, tags);
  const join = (pred: (t: Set<Tag>) => boolean): string | null => parts.filter((_, i) => pred(tags[i]!)).join('-') || null;
  const sizeLabel = [...new Set(parts.filter((_, i) => tags[i]!.has('size_label')))].join('-') || null;
  const finetune = join((t) => t.has('finetune'));
  const version = join((t) => t.has('version') && !t.has('basename'));
  const basename = sizeLabel === null && finetune === null && version === null ? null : join((t) => t.has('basename'));
  return { name, organization, basename, finetune, version, sizeLabel };
}

/**
 * What convert_hf_to_gguf names the model: config.json's _name_or_path when it looks like a hub id (at most one '/'),
 * then the folder name for whatever that left unset.
 */
export function exportNameParts(config: Record<string, unknown>, folderName: string, totalParams: number): ModelNameParts {
  const hub = typeof config._name_or_path === 'string' && config._name_or_path.split('/').length <= 2 ? modelNameParts(config._name_or_path, totalParams) : null;
  const dir = modelNameParts(folderName, totalParams);
  if (!hub) return dir;
  return {
    name: hub.name, organization: hub.organization ?? dir.organization, basename: hub.basename ?? dir.basename,
    finetune: hub.finetune ?? dir.finetune, version: hub.version ?? dir.version, sizeLabel: hub.sizeLabel ?? dir.sizeLabel,
  };
}
