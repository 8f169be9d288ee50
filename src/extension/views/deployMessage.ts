// The deployment plan (core/deploy) as the webview shows it: every number formatted, every label in the display
// language, and each option's buttons naming the existing command they run (merge, GGUF export, relink, choose base).

import * as vscode from 'vscode';
import { OPTION_NOTES, type DeployPlan, type GgufOption, type MergedOption } from '../../core/deploy/plan';
import { formatBytes } from '../../core/format';
import { basename } from '../../core/paths';
import type { DeployDataMessage, DeployFact, DeployRow, DeploySection } from '../../../webview/deploy/messages';
import { localize, localizeText } from '../platform/l10n';

const rel = (p: string): string => vscode.workspace.asRelativePath(vscode.Uri.file(p), (vscode.workspace.workspaceFolders?.length ?? 0) > 1);
const bytes = (n: number | null): string => (n === null ? '-' : formatBytes(n));

function optionRow(id: string, label: string, o: MergedOption | GgufOption, action: DeployRow['action'], badge: string | null): DeployRow {
  return {
    id, label, badge, action: o.bytes === null ? null : action, size: o.bytes === null ? null : formatBytes(o.bytes), bytes: o.bytes,
    load: o.loadBytes === null ? null : formatBytes(o.loadBytes), command: o.command, error: o.error ? localize(o.error) : null,
  };
}

function sharingFacts(p: DeployPlan): DeployFact[] {
  if (p.base.status !== 'ok') return [];
  return p.shared.sharing.map((r) => ({
    label: r.adapters === p.shared.runAdapters ? vscode.l10n.t('{0} adapters (this run)', r.adapters) : r.adapters === 1 ? vscode.l10n.t('1 adapter') : vscode.l10n.t('{0} adapters', r.adapters),
    value: vscode.l10n.t('{0} on one base · {1} merged', bytes(r.sharedBytes), bytes(r.mergedBytes)), bytes: r.sharedBytes,
  }));
}

function referenceFact(p: DeployPlan): DeployFact {
  const recorded = JSON.stringify(p.base.recorded);
  const value = p.shared.recordsSharedPath
    ? vscode.l10n.t('base_model_name_or_path already names the shared path')
    : vscode.l10n.t('set base_model_name_or_path to the shared path (now {0})', recorded);
  return { label: vscode.l10n.t('Reference it'), value };
}

function sharedSection(p: DeployPlan): DeploySection {
  const s = p.shared;
  const base = p.base.status === 'ok' && p.base.path ? p.base.path : null;
  const load = s.loadBytes === null ? vscode.l10n.t('the base + {0} (adapter, applied unmerged)', formatBytes(s.adapterWeightsBytes)) : vscode.l10n.t('{0} (base + adapter, applied unmerged)', formatBytes(s.loadBytes));
  const facts: DeployFact[] = [
    { label: vscode.l10n.t('Adapter on disk'), value: `${formatBytes(s.adapterBytes)} · ${s.adapterFiles.map((f) => f.name).join(', ')}`, bytes: s.adapterBytes },
    { label: vscode.l10n.t('Base to share'), value: base ? `${base} · ${bytes(p.base.bytes)}` : vscode.l10n.t('not found'), bytes: p.base.bytes },
    referenceFact(p),
    { label: vscode.l10n.t('Load (weights)'), value: load, bytes: s.loadBytes },
    ...sharingFacts(p),
  ];
  const relink = base && !s.recordsSharedPath ? [{ title: vscode.l10n.t('Relink to Shared Path'), action: { kind: 'relink' } as const }] : [];
  return { id: 'shared', title: vscode.l10n.t('Adapter alone + shared base'), note: localizeText(OPTION_NOTES.shared), facts, rows: [], actions: relink, command: s.command, selected: null };
}

function mergedSection(p: DeployPlan): DeploySection {
  const rows = p.merged.map((m) => optionRow(`merged-${m.dtype}`, m.dtype, m, { title: vscode.l10n.t('Merge'), action: { kind: 'merge', dtype: m.dtype } }, m.isBaseDtype ? vscode.l10n.t('base dtype') : null));
  const facts = [{ label: vscode.l10n.t('On disk'), value: vscode.l10n.t('every file merge writes (shards, index, config, tokenizer), merge_manifest.json aside') }];
  const selected = `merged-${p.merged.find((m) => m.isBaseDtype)?.dtype ?? 'float16'}`;
  return { id: 'merged', title: vscode.l10n.t('Merged safetensors model'), note: localizeText(OPTION_NOTES.merged), facts, rows, actions: [], command: null, selected };
}

function ggufSection(p: DeployPlan): DeploySection {
  const rows = p.gguf.map((g) => optionRow(`gguf-${g.type}`, g.type, g, { title: vscode.l10n.t('Export'), action: { kind: 'gguf', type: g.type } }, null));
  const facts = [{ label: vscode.l10n.t('On disk'), value: vscode.l10n.t('the exact size of the file Export to GGUF writes') }];
  // f16 is what Export to GGUF and lora-workbench gguf write by default.
  return { id: 'gguf', title: vscode.l10n.t('GGUF file'), note: localizeText(OPTION_NOTES.gguf), facts, rows, actions: [], command: null, selected: 'gguf-f16' };
}

export function deployMessage(p: DeployPlan): DeployDataMessage {
  const ok = p.base.status === 'ok' && p.base.path;
  const subtitle = [rel(p.adapterPath), ok ? vscode.l10n.t('base {0}', rel(p.base.path!)) : vscode.l10n.t('base not found: adapter numbers only')].join(' · ');
  const why = p.base.reason ? localize(p.base.reason) : '';
  const baseProblem = ok ? null : p.base.status === 'missing'
    ? vscode.l10n.t('The base model cannot be found, so only the adapter\'s numbers are shown: {0}', why)
    : vscode.l10n.t('The base model does not fit this adapter, so only the adapter\'s numbers are shown: {0}', why);
  return {
    type: 'data', title: vscode.l10n.t('Deployment plan for {0}', basename(p.adapterPath)), subtitle, baseProblem,
    baseActions: ok ? [] : [{ title: vscode.l10n.t('Choose Base Model...'), action: { kind: 'chooseBase' } }],
    sections: [sharedSection(p), mergedSection(p), ggufSection(p)],
    labels: {
      size: vscode.l10n.t('On disk'), load: vscode.l10n.t('Load (weights)'), copy: vscode.l10n.t('Copy'), copied: vscode.l10n.t('Copied'),
      cannot: vscode.l10n.t('Cannot be written'),
    },
  };
}
