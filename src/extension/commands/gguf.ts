// "Export to GGUF...": on checkpoints, adapters and full models (Checkpoints view, Explorer, palette). An adapter is
// exported merged into its base (the diagnosis' base, or one the user picks) or as a llama.cpp LoRA adapter; the type
// picker shows each type's size from the export plan; the export runs in the engine worker (engine/gguf) under a
// cancellable progress notification, and the file then shows in the Checkpoints view.

import * as vscode from 'vscode';
import { diagnoseAdapter } from '../../core/basemodel/diagnose';
import { formatBytes } from '../../core/format';
import { type ExportType } from '../../core/gguf/format';
import { planGgufTypes } from '../../core/gguf/typeSizes';
import { basename, dirname, joinPath } from '../../core/paths';
import { readTorchBinTensors } from '../../core/torchpickle/binReader';
import { GgufExport, type BackendChoice, type GgufParams, type GgufResult } from '../../engine/protocol';
import { absolutePath, NodeFs } from '../../node/nodeFs';
import type { EngineHost } from '../engineHost';
import { showBaseFolderDialog } from '../platform/baseFolderDialog';
import { toAbortSignal } from '../platform/cancellation';
import { localize } from '../platform/l10n';
import { log } from '../platform/log';
import type { CheckpointIndex } from '../views/checkpointIndex';
import type { CheckpointNode } from '../views/checkpointsTree';
import { registerCommand } from './funnel';

export const GGUF_COMMAND = 'loraWorkbench.exportGguf';

/** What is exported: a full model folder, or an adapter folder. */
type Target = { readonly kind: 'model' | 'adapter'; readonly path: string };

type Form = { readonly adapterOnly: boolean; readonly base: string };

/** Programmatic arguments (the deployment plan's buttons, tests): an adapter merged into `base`; prompts given a value are skipped. */
export interface GgufCommandArgs {
  readonly adapter: string;
  readonly base?: string;
  readonly ggufType?: ExportType;
  readonly out?: string;
}

function commandArgs(arg: unknown): GgufCommandArgs | undefined {
  return arg && typeof arg === 'object' && typeof (arg as GgufCommandArgs).adapter === 'string' ? arg as GgufCommandArgs : undefined;
}

const nodeFs = new NodeFs();

async function targetOf(arg: unknown, index: CheckpointIndex): Promise<Target | undefined> {
  const node = arg as CheckpointNode | undefined;
  if (node && typeof node === 'object' && 'type' in node) {
    if (node.type === 'model') return { kind: 'model', path: node.model.path };
    if (node.type === 'adapter') return { kind: 'adapter', path: node.adapter.path };
    if (node.type === 'checkpoint') return { kind: 'adapter', path: node.checkpoint.adapter?.path ?? node.checkpoint.path };
  }
  if (arg instanceof vscode.Uri || typeof arg === 'string') {
    const p = absolutePath(arg instanceof vscode.Uri ? arg.fsPath : arg);
    return { kind: (await nodeFs.stat(joinPath(p, 'adapter_config.json'))) ? 'adapter' : 'model', path: p };
  }
  if (!index.ready) await index.refresh();
  const items: Array<vscode.QuickPickItem & { target: Target }> = [
    ...index.result.models.map((m) => ({ label: `$(database) ${basename(m.path)}`, description: m.path, target: { kind: 'model', path: m.path } as const })),
    ...index.result.adapters.filter((a) => a.format === 'peft').map((a) => ({ label: `$(extensions) ${basename(a.path)}`, description: a.path, target: { kind: 'adapter', path: a.path } as const })),
  ];
  return (await vscode.window.showQuickPick(items, { placeHolder: vscode.l10n.t('Export which model or adapter to GGUF?'), matchOnDescription: true }))?.target;
}

/** For an adapter: merged into which base, or alone as a llama.cpp adapter. */
async function chooseForm(adapter: string, index: CheckpointIndex): Promise<Form | undefined> {
  const d = await diagnoseAdapter(nodeFs, adapter, { binReader: readTorchBinTensors, candidates: 'never' });
  const resolved = d.base.resolved && d.compatible !== false ? d.base.resolved : null;
  const pick = await vscode.window.showQuickPick([
    { label: vscode.l10n.t('Merged model'), description: resolved ? vscode.l10n.t('into {0}', resolved) : vscode.l10n.t('choose the base model next'), adapterOnly: false },
    { label: vscode.l10n.t('LoRA adapter'), description: vscode.l10n.t('for llama.cpp --lora and Ollama ADAPTER (LoRA and rsLoRA)'), adapterOnly: true },
  ], { title: vscode.l10n.t('Export {0} to GGUF', basename(adapter)), ignoreFocusOut: true });
  if (!pick) return undefined;
  const base = resolved ?? await showBaseFolderDialog({ openLabel: vscode.l10n.t('Use as Base Model'), knownModels: index.result.models.map((m) => m.path) });
  return base ? { adapterOnly: pick.adapterOnly, base } : undefined;
}

/** Each type with the size its export plan gives, or why it cannot be written. */
async function chooseType(target: Target, form: Form | null): Promise<ExportType | undefined> {
  const planned = await planGgufTypes(nodeFs, { modelPath: form?.base ?? target.path, adapterPath: form ? target.path : undefined, adapterOnly: form?.adapterOnly }, readTorchBinTensors);
  const items = planned.map((p) => (p.plan
    ? { label: p.type, description: formatBytes(p.plan.layout.fileSize), type: p.type as ExportType | undefined }
    : { label: `$(circle-slash) ${p.type}`, description: p.error ? localize(p.error) : '', type: undefined }));
  const pick = await vscode.window.showQuickPick(items, { title: vscode.l10n.t('GGUF type for {0}', basename(target.path)), ignoreFocusOut: true });
  if (pick && !pick.type) throw new Error(pick.description);
  return pick?.type;
}

async function runExport(engine: EngineHost, params: GgufParams): Promise<GgufResult> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Exporting {0} to GGUF', basename(params.outPath)), cancellable: true },
    async (progress, token) => {
      let reported = 0;
      return engine.get().request(GgufExport, params, {
        signal: toAbortSignal(token),
        onProgress: (m) => {
          const pct = m.total > 0 ? (m.done / m.total) * 100 : 0;
          progress.report({ message: vscode.l10n.t('{0} tensors · {1} of {2}', m.detail?.split(' ')[0] ?? '', formatBytes(m.done), formatBytes(m.total)), increment: Math.max(0, pct - reported) });
          reported = Math.max(reported, pct);
        },
      });
    });
}

export function registerGgufExport(context: vscode.ExtensionContext, engine: EngineHost, index: CheckpointIndex): void {
  context.subscriptions.push(registerCommand(GGUF_COMMAND, vscode.l10n.t('Export to GGUF'), async (arg) => {
    const args = commandArgs(arg);
    const target: Target | undefined = args ? { kind: 'adapter', path: absolutePath(args.adapter) } : await targetOf(arg, index);
    if (!target) return undefined;
    const given: Form | undefined = args?.base ? { adapterOnly: false, base: absolutePath(args.base) } : undefined;
    const chosen = target.kind === 'adapter' ? given ?? await chooseForm(target.path, index) : null;
    if (chosen === undefined) return undefined;
    const form: Form | null = chosen;
    const type = args?.ggufType ?? await chooseType(target, form);
    if (!type) return undefined;
    const picked = args?.out ? vscode.Uri.file(absolutePath(args.out)) : await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.file(joinPath(dirname(target.path), `${basename(target.path)}-${type}.gguf`)), filters: { GGUF: ['gguf'] },
      saveLabel: vscode.l10n.t('Export'),
    });
    if (!picked) return undefined;
    const cfg = vscode.workspace.getConfiguration('loraWorkbench.engine');
    const params: GgufParams = {
      modelPath: form?.base ?? target.path, adapterPath: form ? target.path : undefined, adapterOnly: form?.adapterOnly, outPath: absolutePath(picked.fsPath),
      type, backend: cfg.get<BackendChoice>('backend', 'auto'), threads: cfg.get<number>('threads', 0),
    };
    log().info(`gguf: ${JSON.stringify(params)}`);
    const result = await runExport(engine, params);
    for (const w of result.warnings) log().warn(`gguf: ${w}`);
    void index.refresh();
    void vscode.window.showInformationMessage(vscode.l10n.t('Wrote {0} ({1} tensors, {2}, {3} s).', result.out, result.tensors, formatBytes(result.bytesWritten), result.seconds.toFixed(1)));
    return result;
  }, { requiresTrust: true }));
}
