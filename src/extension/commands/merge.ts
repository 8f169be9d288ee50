// "Merge into Base Model...": on checkpoints and adapters (Checkpoints view, Explorer, palette). The base is pre-filled
// from the base-model diagnosis and an incompatible base is refused with its findings; the merge itself runs in the
// engine worker (engine/merge) under a cancellable progress notification with tensors, bytes and an ETA.

import * as vscode from 'vscode';
import { formatBytes } from '../../core/format';
import { diagnoseAdapter, type Diagnosis } from '../../core/basemodel/diagnose';
import { CoreError } from '../../core/errors';
import { basename, dirname, joinPath } from '../../core/paths';
import { readTorchBinTensors } from '../../core/torchpickle/binReader';
import { Merge, type BackendChoice, type MergeParams, type MergeResult } from '../../engine/protocol';
import { absolutePath, NodeFs } from '../../node/nodeFs';
import type { EngineHost } from '../engineHost';
import { showBaseFolderDialog } from '../platform/baseFolderDialog';
import { toAbortSignal } from '../platform/cancellation';
import { log } from '../platform/log';
import type { CheckpointIndex } from '../views/checkpointIndex';
import type { CheckpointNode } from '../views/checkpointsTree';
import { registerCommand } from './funnel';
import { localize } from '../platform/l10n';

export const MERGE_COMMAND = 'loraWorkbench.mergeAdapter';
const PREVIEW_COMMAND = 'loraWorkbench.previewGeneration';

/** Programmatic arguments (tests, other commands): every prompt with a value given is skipped. */
export interface MergeCommandArgs {
  readonly adapter: string;
  readonly base?: string;
  readonly out?: string;
  readonly dtype?: MergeParams['dtype'];
  readonly verify?: boolean;
  /** The output folder the prompt proposes when `out` is not given (the deployment plan's, per dtype). */
  readonly suggestedOut?: string;
}

/** The adapter folder a menu invocation points at (a tree node, an Explorer folder, a path). */
export function adapterFolderOf(arg: unknown, index: CheckpointIndex): string | undefined {
  let folder: string | undefined;
  if (arg instanceof vscode.Uri) folder = absolutePath(arg.fsPath);
  else if (typeof arg === 'string') folder = absolutePath(arg);
  else if (arg && typeof arg === 'object' && 'adapter' in arg && typeof (arg as MergeCommandArgs).adapter === 'string') folder = absolutePath((arg as MergeCommandArgs).adapter);
  else if (arg && typeof arg === 'object' && 'type' in arg) {
    const node = arg as CheckpointNode;
    if (node.type === 'checkpoint') folder = node.checkpoint.adapter?.path ?? node.checkpoint.path;
    else if (node.type === 'adapter') folder = node.adapter.path;
  }
  if (!folder) return undefined;
  const checkpoint = index.result.runs.flatMap((r) => r.checkpoints).find((c) => c.path === folder);
  return checkpoint?.adapter?.path ?? folder;
}

/** "Merge checkpoint-100 (1/3): base model": which adapter and which of the three prompts. */
function stepTitle(adapter: string, step: number, what: string): string {
  return vscode.l10n.t('Merge {0} ({1}/{2}): {3}', basename(adapter), step, 3, what);
}

/** Time left once there is something to estimate from (a second of work and 5% done); nothing before. */
function etaText(elapsedSeconds: number, fraction: number): string {
  if (elapsedSeconds < 1 || fraction < 0.05) return '';
  const left = Math.round(elapsedSeconds / fraction - elapsedSeconds);
  return left >= 1 ? vscode.l10n.t(', about {0} s left', left) : vscode.l10n.t(', almost done');
}

/** The diagnosis' own words for why a base does not fit. */
function incompatibility(d: Diagnosis): string {
  const errors = d.incompatibilities.map((p) => localize(p));
  return errors.length ? errors.slice(0, 3).join(' ') : vscode.l10n.t('The adapter\'s tensors do not match this base model.');
}

export function registerMerge(context: vscode.ExtensionContext, engine: EngineHost, index: CheckpointIndex): void {
  const fs = new NodeFs();
  const workspaceFolders = (): string[] => (vscode.workspace.workspaceFolders ?? []).map((f) => absolutePath(f.uri.fsPath));

  const pickAdapter = async (): Promise<string | undefined> => {
    if (!index.ready) await index.refresh();
    const r = index.result;
    const items: Array<vscode.QuickPickItem & { path?: string }> = [];
    for (const run of r.runs) for (const c of run.checkpoints) if (c.adapter) items.push({ label: c.name, description: run.path, path: c.adapter.path });
    const inRuns = new Set(r.runs.flatMap((run) => run.checkpoints.map((c) => c.adapter?.path)));
    for (const a of r.adapters) if (a.format === 'peft' && !inRuns.has(a.path)) items.push({ label: basename(a.path), description: a.path, path: a.path });
    if (items.length === 0) {
      const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: vscode.l10n.t('Merge This Adapter') });
      return picked?.[0] ? absolutePath(picked[0].fsPath) : undefined;
    }
    return (await vscode.window.showQuickPick(items, { placeHolder: vscode.l10n.t('Merge which checkpoint or adapter into its base model?'), matchOnDescription: true }))?.path;
  };

  /** Base folder: the diagnosis' resolution first, or a folder the user picks; an incompatible base is refused. */
  const chooseBase = async (adapter: string, given?: string): Promise<string | undefined> => {
    let base = given;
    if (!base) {
      const d = await diagnoseAdapter(fs, adapter, { workspaceFolders: workspaceFolders(), binReader: readTorchBinTensors, candidates: 'when-broken' });
      const options: Array<vscode.QuickPickItem & { path?: string }> = [];
      if (d.base.resolved && d.compatible !== false) {
        options.push({ label: `$(check) ${d.base.resolved}`, description: vscode.l10n.t('from adapter_config.json'), path: d.base.resolved });
      }
      for (const c of d.base.candidates) {
        const p = (c as { path?: string }).path;
        if (typeof p === 'string' && p !== d.base.resolved) options.push({ label: `$(lightbulb) ${p}`, description: vscode.l10n.t('compatible candidate'), path: p });
      }
      options.push({ label: `$(folder-opened) ${vscode.l10n.t('Choose Base Model Folder...')}` });
      const refused = d.base.resolved && d.compatible === false;
      // The reason is often several sentences: a notification shows it whole, a placeholder would cut it off.
      if (refused) void vscode.window.showWarningMessage(vscode.l10n.t('The recorded base {0} does not fit {1}: {2}', d.base.resolved!, basename(adapter), incompatibility(d)));
      const placeHolder = refused
        ? vscode.l10n.t('The recorded base does not fit this adapter (the notification says why): choose another base model')
        : vscode.l10n.t('Base model to merge {0} into', basename(adapter));
      const pick = await vscode.window.showQuickPick(options, { title: stepTitle(adapter, 1, vscode.l10n.t('base model')), placeHolder, ignoreFocusOut: true });
      if (!pick) return undefined;
      base = pick.path;
      if (!base) {
        base = await showBaseFolderDialog({ openLabel: vscode.l10n.t('Use as Base Model'), knownModels: index.result.models.map((m) => m.path) });
        if (!base) return undefined;
      }
    }
    const check = await diagnoseAdapter(fs, adapter, { base, workspaceFolders: workspaceFolders(), binReader: readTorchBinTensors, candidates: 'never' });
    if (check.compatible === false) {
      throw new CoreError('incompatible', vscode.l10n.t('{0} does not fit this adapter: {1}', base, incompatibility(check)));
    }
    return base;
  };

  const chooseOut = async (adapter: string, suggested?: string): Promise<string | undefined> => {
    const suggestion = suggested ?? joinPath(dirname(adapter), `${basename(adapter)}-merged`);
    const value = await vscode.window.showInputBox({
      title: stepTitle(adapter, 2, vscode.l10n.t('output folder')),
      prompt: vscode.l10n.t('Output folder for the merged model (must not exist, or be empty)'),
      value: suggestion, ignoreFocusOut: true,
      validateInput: async (v) => {
        const p = absolutePath(v.trim());
        const st = await fs.stat(p);
        if (st && (st.kind !== 'dir' || (await fs.readDir(p)).length > 0)) return vscode.l10n.t('{0} exists and is not an empty folder.', p);
        return undefined;
      },
    });
    return value ? absolutePath(value.trim()) : undefined;
  };

  const chooseDtype = async (adapter: string): Promise<MergeParams['dtype'] | undefined> => {
    const items: Array<vscode.QuickPickItem & { value: MergeParams['dtype'] }> = [
      { label: 'auto', description: vscode.l10n.t('keep the base model\'s dtype'), value: 'auto' },
      { label: 'bfloat16', value: 'bfloat16' }, { label: 'float16', value: 'float16' }, { label: 'float32', value: 'float32' },
    ];
    const title = stepTitle(adapter, 3, vscode.l10n.t('data type'));
    return (await vscode.window.showQuickPick(items, { title, placeHolder: vscode.l10n.t('Data type of the merged weights'), ignoreFocusOut: true }))?.value;
  };

  const runMergeJob = async (params: MergeParams): Promise<MergeResult> =>
    vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Merging {0}', basename(params.adapterPath)), cancellable: true },
      async (progress, token) => {
        const started = Date.now();
        let reported = 0;
        return engine.get().request(Merge, params, {
          signal: toAbortSignal(token),
          onProgress: (m) => {
            const frac = m.total > 0 ? m.done / m.total : 0;
            const tensors = m.detail?.split(' ')[0] ?? '';
            let message: string;
            if (m.phase === 'merge') {
              const eta = etaText((Date.now() - started) / 1000, frac);
              message = vscode.l10n.t('{0} tensors · {1} of {2}{3}', tensors, formatBytes(m.done), formatBytes(m.total), eta);
            } else {
              message = vscode.l10n.t('Verifying {0} of {1} tensors', m.done, m.total);
            }
            const pct = m.phase === 'merge' ? frac * 90 : 90 + frac * 10;
            progress.report({ message, increment: Math.max(0, pct - reported) });
            reported = Math.max(reported, pct);
          },
        });
      });

  context.subscriptions.push(registerCommand(MERGE_COMMAND, vscode.l10n.t('Merge into Base Model'), async (arg) => {
    if (arg !== undefined && !index.ready) await index.refresh();
    const args = arg && typeof arg === 'object' && 'adapter' in arg ? (arg as MergeCommandArgs) : undefined;
    const adapter = arg === undefined ? await pickAdapter() : adapterFolderOf(arg, index);
    if (!adapter) return undefined;
    const base = await chooseBase(adapter, args?.base ? absolutePath(args.base) : undefined);
    if (!base) return undefined;
    const out = args?.out ? absolutePath(args.out) : await chooseOut(adapter, args?.suggestedOut);
    if (!out) return undefined;
    const dtype = args?.dtype ?? (args ? 'auto' : await chooseDtype(adapter));
    if (!dtype) return undefined;
    const cfg = vscode.workspace.getConfiguration('loraWorkbench.engine');
    const params: MergeParams = {
      adapterPath: adapter, basePath: base, outPath: out, dtype, verify: args?.verify ?? true,
      backend: cfg.get<BackendChoice>('backend', 'auto'), threads: cfg.get<number>('threads', 0),
    };
    log().info(`merge: ${adapter} + ${base} -> ${out} (${dtype})`);
    const result = await runMergeJob(params);
    log().info(`merge: done ${JSON.stringify(result)}`);
    for (const w of result.warnings) log().warn(`merge: ${w}`);
    void index.refresh();
    const openFolder = vscode.l10n.t('Open Folder');
    const preview = vscode.l10n.t('Preview Generation');
    const actions = [openFolder];
    if ((await vscode.commands.getCommands(true)).includes(PREVIEW_COMMAND)) actions.push(preview);
    void vscode.window.showInformationMessage(
      vscode.l10n.t('Merged {0} tensors into {1} ({2}, {3} s{4}).', result.tensors, out, formatBytes(result.bytesWritten), result.seconds.toFixed(1),
        result.verified ? vscode.l10n.t(', verified') : ''),
      ...actions,
    ).then(async (choice) => {
      const uri = vscode.Uri.file(out);
      if (choice === openFolder) {
        const inWorkspace = vscode.workspace.getWorkspaceFolder(uri) !== undefined;
        await vscode.commands.executeCommand(inWorkspace ? 'revealInExplorer' : 'revealFileInOS', uri);
      } else if (choice === preview) {
        await vscode.commands.executeCommand(PREVIEW_COMMAND, uri);
      }
    });
    return result;
  }, { requiresTrust: true }));
}
