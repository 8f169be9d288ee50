// Hovers on adapter_config.json: for base_model_name_or_path the value, its kind, where it resolves and why, what is
// there, the compatibility summary and command links to the fixes; for r, lora_alpha, target_modules, fan_in_fan_out
// and modules_to_save what the headers say about them.

import * as vscode from 'vscode';
import { getLocation } from 'jsonc-parser';
import type { Diagnosis } from '../../core/basemodel/diagnose';
import { originLabel } from '../../core/basemodel/classify';
import { moduleScaling } from '../../core/peft/config';
import { valueRange } from '../../core/peft/parse';
import { parseAdapterKey } from '../../core/basemodel/compat';
import type { Fix, Severity } from '../../core/peft/problems';
import type { AdapterDiagnostics } from './adapterDiagnostics';
import { fixTitle } from './adapterCodeActions';
import { APPLY_BASE_FIX } from './baseCommands';
import { localize } from '../platform/l10n';

const HOVER_KEYS = new Set(['base_model_name_or_path', 'r', 'lora_alpha', 'target_modules', 'fan_in_fan_out', 'modules_to_save', 'revision']);

function bytes(n: number): string {
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${u[i]}`;
}

function kindLabel(d: Diagnosis): string {
  switch (d.base.kind) {
    case 'absolute': return vscode.l10n.t('absolute path');
    case 'windows': return vscode.l10n.t('Windows path');
    case 'relative': return vscode.l10n.t('relative path');
    case 'home': return vscode.l10n.t('home-relative path (~)');
    case 'hub-id': return vscode.l10n.t('Hugging Face hub id');
    case 'hf-cache-snapshot': return vscode.l10n.t('Hugging Face cache snapshot path');
    case 'modelscope-cache': return vscode.l10n.t('ModelScope cache path');
    case 'null': return vscode.l10n.t('missing');
  }
}

function viaLabel(d: Diagnosis): string {
  switch (d.base.via) {
    case 'path': return vscode.l10n.t('as written');
    case 'home': return vscode.l10n.t('after expanding ~ (transformers does not)');
    case 'workspace': return vscode.l10n.t('relative to the workspace folder - PEFT uses the process working directory');
    case 'run-cwd': return vscode.l10n.t("relative to a likely training working directory - PEFT uses the process working directory");
    case 'adapter-folder': return vscode.l10n.t('relative to the adapter folder - PEFT uses the process working directory, not this folder');
    case 'hf-cache': return vscode.l10n.t('found in the Hugging Face cache');
    case 'modelscope-cache': return vscode.l10n.t('found in the ModelScope cache');
    case 'search-path': return vscode.l10n.t('found in loraWorkbench.modelSearchPaths');
    case 'override': return vscode.l10n.t('chosen folder');
    default: return '';
  }
}

function severityIcon(s: Severity): string {
  return s === 'error' ? '$(error)' : s === 'warning' ? '$(warning)' : '$(info)';
}

function commandLink(title: string, uri: vscode.Uri, fix: Fix): string {
  const args = encodeURIComponent(JSON.stringify([uri.toString(), fix]));
  return `[${title.replace(/[[\]]/g, '')}](command:${APPLY_BASE_FIX}?${args})`;
}

export function baseHoverMarkdown(d: Diagnosis, uri: vscode.Uri): vscode.MarkdownString {
  const md = new vscode.MarkdownString('', true);
  md.isTrusted = { enabledCommands: [APPLY_BASE_FIX] };
  md.appendMarkdown(`**${vscode.l10n.t('Base model')}**: \`${d.base.raw ?? 'null'}\` - ${kindLabel(d)}`);
  if (d.base.origin) md.appendMarkdown(` (${vscode.l10n.t('recorded on {0}', originLabel(d.base.origin))})`);
  md.appendMarkdown('\n\n');
  if (d.base.resolved) md.appendMarkdown(`${vscode.l10n.t('Resolves to')} \`${d.base.resolved}\` (${viaLabel(d)})\n\n`);
  else md.appendMarkdown(`${vscode.l10n.t('Does not resolve to a folder on this machine.')}\n\n`);
  const rel = d.base.resolution?.relativeHits ?? [];
  if (rel.length > 1) md.appendMarkdown(`${vscode.l10n.t('Other working directories give')}: ${rel.slice(1).map((h) => `\`${h.path}\``).join(', ')}\n\n`);
  const i = d.base.info;
  if (i) {
    const parts = [i.architecture ?? '?', i.dtype ?? '', i.numLayers !== null ? vscode.l10n.t('{0} layers', i.numLayers) : '', i.vocabSize !== null ? vscode.l10n.t('vocab {0}', i.vocabSize) : ''];
    if (i.weights) parts.push(vscode.l10n.t('{0} weight file(s), {1}', i.weights.files.length, bytes(i.weights.totalBytes)));
    if (i.quantization) parts.push(`${i.quantization.method}${i.quantization.bits ? ` ${i.quantization.bits}-bit` : ''}`);
    md.appendMarkdown(`**${vscode.l10n.t('Model')}**: ${parts.filter(Boolean).join(' · ')}\n\n`);
  }
  if (d.compat) {
    const c = d.compat;
    md.appendMarkdown(`**${vscode.l10n.t('Compatibility')}**: ${c.compatible ? '$(check)' : '$(error)'} ${vscode.l10n.t('{0}/{1} adapter tensors fit ({2} modules)', c.matched, c.total, c.adaptedModules)}`);
    if (c.adapterVocab !== null) md.appendMarkdown(` · ${vscode.l10n.t('saved vocab {0}', c.adapterVocab)}`);
    if (d.adapter.tokenizer) md.appendMarkdown(` · ${vscode.l10n.t('adapter tokenizer {0}', d.adapter.tokenizer.size)}`);
    md.appendMarkdown('\n\n');
  } else if (d.compatible === null) {
    md.appendMarkdown(`**${vscode.l10n.t('Compatibility')}**: ${vscode.l10n.t('not checked')}\n\n`);
  }
  const onValue = valueRange(d.parsed, ['base_model_name_or_path']);
  const baseProblems = d.problems.filter((p) => p.range.offset === onValue.offset && p.range.length === onValue.length);
  // The messages themselves are in the diagnostic hover VS Code shows above this one: list the codes only.
  if (baseProblems.length > 0) {
    md.appendMarkdown(`${baseProblems.map((p) => `${severityIcon(p.severity)} \`${p.code}\``).join('  ')}\n\n`);
  }
  const fixes: Fix[] = [];
  for (const p of baseProblems) for (const f of p.fixes) if (!fixes.some((x) => JSON.stringify(x) === JSON.stringify(f))) fixes.push(f);
  if (!fixes.some((f) => f.kind === 'choose-base')) fixes.push({ kind: 'choose-base' });
  md.appendMarkdown(fixes.map((f) => commandLink(fixTitle(f, d), uri, f)).join(' · '));
  return md;
}

function fieldHover(key: string, d: Diagnosis): vscode.MarkdownString | undefined {
  const c = d.config;
  if (!c) return undefined;
  const md = new vscode.MarkdownString('', true);
  const tensors = d.adapter.tensors ?? [];
  const codesFor: Record<string, readonly string[]> = {
    r: ['rank-mismatch'], fan_in_fan_out: ['fan-in-fan-out-mismatch'], modules_to_save: ['vocab-mismatch', 'vocab-resized'],
    target_modules: ['target-module-not-found'], revision: ['revision-suspicious'],
  };
  const problemsHere = d.problems.filter((p) => codesFor[key]?.includes(p.code));
  switch (key) {
    case 'r':
    case 'lora_alpha': {
      const ranks = new Map<number, number>();
      for (const t of tensors) if (/\.lora_A(\.default)?\.weight$/.test(t.name)) ranks.set(t.shape[0]!, (ranks.get(t.shape[0]!) ?? 0) + 1);
      const sample = tensors.find((t) => /\.lora_A(\.default)?\.weight$/.test(t.name));
      const s = sample ? moduleScaling(c, parseAdapterKey(sample.name).module) : moduleScaling(c, '');
      md.appendMarkdown(`r = ${c.r}, lora_alpha = ${c.loraAlpha}${c.useRslora ? ' (rsLoRA)' : ''} → ${vscode.l10n.t('scaling {0}', s.scaling.toPrecision(4))}`);
      if (c.rankPattern.length || c.alphaPattern.length) md.appendMarkdown(` · ${vscode.l10n.t('{0} rank / {1} alpha patterns', c.rankPattern.length, c.alphaPattern.length)}`);
      if (ranks.size) md.appendMarkdown(`\n\n${vscode.l10n.t('lora_A ranks in the weights')}: ${[...ranks].map(([r, n]) => `${r} ×${n}`).join(', ')}`);
      break;
    }
    case 'target_modules': {
      const mods = new Map<string, number>();
      for (const t of tensors) {
        const p = parseAdapterKey(t.name);
        if (p.role === 'A' || p.role === 'embA') {
          const leaf = p.module.slice(p.module.lastIndexOf('.') + 1);
          mods.set(leaf, (mods.get(leaf) ?? 0) + 1);
        }
      }
      md.appendMarkdown(`${vscode.l10n.t('Adapted modules in the weights')}: ${[...mods].map(([m, n]) => `\`${m}\` ×${n}`).join(', ') || vscode.l10n.t('none')}`);
      break;
    }
    case 'fan_in_fan_out': {
      const conv = d.base.info?.modelType === 'gpt2';
      md.appendMarkdown(`fan_in_fan_out = ${c.fanInFanOut}. ${d.base.info ? (conv ? vscode.l10n.t('The base uses GPT-2 Conv1D weights [in, out]: true is right.') : vscode.l10n.t('The base uses nn.Linear weights [out, in]: false is right.')) : vscode.l10n.t('The base layout is unknown (base not resolved).')}`);
      break;
    }
    case 'modules_to_save': {
      const full = tensors.filter((t) => parseAdapterKey(t.name).role === 'full');
      md.appendMarkdown(`${vscode.l10n.t('Saved whole')}: ${full.map((t) => `\`${parseAdapterKey(t.name).module}\` [${t.shape.join(', ')}]`).join(', ') || vscode.l10n.t('none')}`);
      md.appendMarkdown(`\n\n${vscode.l10n.t('Base vocab')}: ${d.base.info?.vocabSize ?? '?'} · ${vscode.l10n.t('adapter tokenizer')}: ${d.adapter.tokenizer?.size ?? '-'}`);
      break;
    }
    case 'revision': {
      const hit = d.base.resolution?.hfCache;
      md.appendMarkdown(`revision = \`${c.revision ?? 'null'}\`. ${vscode.l10n.t('AutoPeftModel applies it to the base model.')}`);
      if (hit) md.appendMarkdown(`\n\n${vscode.l10n.t('Cached refs of {0}', hit.hubId)}: ${hit.refs.join(', ') || '-'}`);
      break;
    }
    default:
      return undefined;
  }
  for (const p of problemsHere) md.appendMarkdown(`\n\n${severityIcon(p.severity)} \`${p.code}\` ${localize(p)}`);
  return md;
}

export class AdapterHover implements vscode.HoverProvider {
  constructor(private readonly diagnostics: AdapterDiagnostics) {}

  async provideHover(document: vscode.TextDocument, position: vscode.Position): Promise<vscode.Hover | undefined> {
    const text = document.getText();
    const loc = getLocation(text, document.offsetAt(position));
    const key = loc.path[0];
    if (typeof key !== 'string' || !HOVER_KEYS.has(key)) return undefined;
    let d = this.diagnostics.get(document.uri);
    if (!d || d.parsed.text !== text) d = await this.diagnostics.diagnose(document.uri);
    const md = key === 'base_model_name_or_path' ? baseHoverMarkdown(d, document.uri) : fieldHover(key, d);
    return md ? new vscode.Hover(md) : undefined;
  }
}
