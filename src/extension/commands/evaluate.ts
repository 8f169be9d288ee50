// "Evaluate Checkpoints...": on a run (Checkpoints view, palette) - the base and every checkpoint's loss on a data file
// the user picks, in the engine worker under a cancellable progress notification; the results go to the run's
// training-curves panel (loss on your data per checkpoint, best marked) and the tree marks the best checkpoint.

import * as vscode from 'vscode';
import { diagnoseAdapter } from '../../core/basemodel/diagnose';
import type { Run } from '../../core/checkpoints/model';
import { CoreError } from '../../core/errors';
import { defaultEvalCachePath } from '../../core/eval/cache';
import { bestIndex, runCandidates, type RunCandidate } from '../../core/eval/candidates';
import { basename } from '../../core/paths';
import { readTorchBinTensors } from '../../core/torchpickle/binReader';
import { Eval, type EvalResult, type PromptFormat } from '../../engine/protocol';
import type { PreviewApi } from '../preview/register';
import { absolutePath, NodeFs } from '../../node/nodeFs';
import type { EngineHost } from '../engineHost';
import { showBaseFolderDialog } from '../platform/baseFolderDialog';
import { toAbortSignal } from '../platform/cancellation';
import { log } from '../platform/log';
import type { CheckpointIndex } from '../views/checkpointIndex';
import type { CheckpointNode } from '../views/checkpointsTree';
import type { EvalPoint, EvalResults, RunEvaluation } from '../views/evalResults';
import { registerCommand } from './funnel';

export const EVALUATE_COMMAND = 'loraWorkbench.evaluateCheckpoints';

/** Programmatic arguments (tests): each one given skips its prompt. */
export interface EvaluateArgs {
  readonly run: string;
  readonly data?: string;
  readonly base?: string;
  readonly format?: PromptFormat;
}

function workspaceFolders(): string[] {
  return (vscode.workspace.workspaceFolders ?? []).map((f) => absolutePath(f.uri.fsPath));
}

/** The run a menu invocation names (a run or checkpoint node, an args object), else a pick among runs. */
async function runOf(arg: unknown, index: CheckpointIndex): Promise<Run | undefined> {
  if (!index.ready) await index.refresh();
  let folder: string | undefined;
  if (arg && typeof arg === 'object' && 'type' in arg) {
    const node = arg as CheckpointNode;
    if (node.type === 'run' || node.type === 'checkpoint') folder = node.run.path;
  } else if (arg && typeof arg === 'object' && typeof (arg as EvaluateArgs).run === 'string') folder = absolutePath((arg as EvaluateArgs).run);
  const runs = index.result.runs.filter((r) => runCandidates(r).length > 0);
  if (folder) return runs.find((r) => r.path === folder) ?? index.runFor(folder);
  if (runs.length <= 1) return runs[0];
  const pick = await vscode.window.showQuickPick(
    runs.map((r) => ({ label: vscode.workspace.asRelativePath(vscode.Uri.file(r.path)), description: vscode.l10n.t('{0} checkpoints', runCandidates(r).length), run: r })),
    { placeHolder: vscode.l10n.t('Evaluate the checkpoints of which run?') },
  );
  return pick?.run;
}

/** JSON files of runs and models that are never evaluation data (configs, trainer state, tokenizers, results). */
const NOT_DATA = /(^|\/)(adapter_config|config|generation_config|trainer_state|tokenizer|tokenizer_config|special_tokens_map|added_tokens|merge_manifest|\w*results|[\w.-]*index)\.json$/;

/** A data file: the workspace's JSONL / text files first, or any file through the open dialog. */
async function chooseData(): Promise<string | undefined> {
  const found = await vscode.workspace.findFiles('**/*.{jsonl,json,txt}', '**/{node_modules,.git,.lora-workbench}/**', 200);
  const items: Array<vscode.QuickPickItem & { path?: string }> = found
    .filter((u) => !NOT_DATA.test(u.path))
    .map((u) => ({ label: vscode.workspace.asRelativePath(u), path: absolutePath(u.fsPath) }))
    .sort((a, b) => a.label.localeCompare(b.label));
  items.push({ label: `$(folder-opened) ${vscode.l10n.t('Choose File...')}` });
  const pick = await vscode.window.showQuickPick(items, {
    title: vscode.l10n.t('Evaluate Checkpoints (1/2): data'),
    placeHolder: vscode.l10n.t('Evaluation data: JSONL or JSON (Alpaca, messages, text) or a plain text file'), ignoreFocusOut: true,
  });
  if (!pick) return undefined;
  if (pick.path) return pick.path;
  const picked = await vscode.window.showOpenDialog({ canSelectFiles: true, canSelectFolders: false, openLabel: vscode.l10n.t('Evaluate on This File') });
  return picked?.[0] ? absolutePath(picked[0].fsPath) : undefined;
}

async function chooseFormat(): Promise<PromptFormat | undefined> {
  const items: Array<vscode.QuickPickItem & { value: PromptFormat }> = [
    { label: 'raw', description: vscode.l10n.t('prompt text as it is'), value: 'raw' },
    { label: 'alpaca2', description: vscode.l10n.t('[INST] <<SYS>> template (Llama-2 chat, Chinese-LLaMA-Alpaca-2)'), value: 'alpaca2' },
    { label: 'chat', description: vscode.l10n.t('the model\'s chat_template'), value: 'chat' },
  ];
  const pick = await vscode.window.showQuickPick(items, {
    title: vscode.l10n.t('Evaluate Checkpoints (2/2): prompt format'),
    placeHolder: vscode.l10n.t('How instruction prompts are rendered (as in the preview); plain text is scored whole'), ignoreFocusOut: true,
  });
  return pick?.value;
}

/** The base the run's adapters record, when it resolves and fits; else the user's choice. */
async function chooseBase(fs: NodeFs, candidate: RunCandidate, index: CheckpointIndex): Promise<string | undefined> {
  const d = await diagnoseAdapter(fs, candidate.path, { workspaceFolders: workspaceFolders(), binReader: readTorchBinTensors, candidates: 'never' });
  if (d.base.resolved && d.compatible !== false) return d.base.resolved;
  void vscode.window.showWarningMessage(vscode.l10n.t('The base model of {0} was not found or does not fit: choose the base model folder.', candidate.label));
  return showBaseFolderDialog({ openLabel: vscode.l10n.t('Use as Base Model'), knownModels: index.result.models.map((m) => m.path) });
}

/** The engine's results as the tree and the curves panel read them. */
function evaluationOf(run: Run, candidates: readonly RunCandidate[], dataPath: string, r: EvalResult): RunEvaluation {
  const rows = [null, ...candidates];
  const points: EvalPoint[] = r.results.map((x, i) => ({
    label: x.label, path: rows[i]?.path ?? null, step: rows[i]?.step ?? null, final: rows[i]?.final ?? false,
    loss: x.loss, lossCi95: x.lossCi95, perplexity: x.perplexity, tokens: x.tokens,
  }));
  const checkpoints = points.slice(1);
  const best = bestIndex(checkpoints);
  return { runPath: run.path, dataPath, format: r.format, examples: r.examples, points, best: best >= 0 ? checkpoints[best]! : null };
}

/** Base models loaded in the engine worker, shared with the preview's panels (refcounted). */
export type ModelLeases = PreviewApi['models'];

export function registerEvaluate(context: vscode.ExtensionContext, engine: EngineHost, models: ModelLeases, index: CheckpointIndex, results: EvalResults): void {
  const fs = new NodeFs();
  context.subscriptions.push(registerCommand(EVALUATE_COMMAND, vscode.l10n.t('Evaluate Checkpoints'), async (arg) => {
    const run = await runOf(arg, index);
    if (!run) {
      void vscode.window.showInformationMessage(vscode.l10n.t('No training run with adapter checkpoints was found here.'));
      return undefined;
    }
    const args = (arg && typeof arg === 'object' && !('type' in arg) ? arg : {}) as Partial<EvaluateArgs>;
    const candidates = runCandidates(run);
    const dataPath = args.data ?? await chooseData();
    if (!dataPath) return undefined;
    const format = args.format ?? await chooseFormat();
    if (!format) return undefined;
    const base = args.base ?? await chooseBase(fs, candidates[0]!, index);
    if (!base) return undefined;
    const r = await evaluate(engine, models, run, candidates, base, dataPath, format);
    const evaluation = evaluationOf(run, candidates, dataPath, r);
    results.set(evaluation);
    log().info(`eval ${run.path} on ${dataPath}: ${r.results.map((x) => `${x.label}=${x.loss.toFixed(4)}${x.cached ? ' (cached)' : ''}`).join(', ')}; best ${evaluation.best?.label ?? '-'}`);
    await vscode.commands.executeCommand('loraWorkbench.showTrainingCurves', { type: 'run', run });
    if (evaluation.best) {
      void vscode.window.showInformationMessage(vscode.l10n.t('Best on {0}: {1} (loss {2}, base {3}).', basename(dataPath), evaluation.best.label,
        evaluation.best.loss.toFixed(4), evaluation.points[0]!.loss.toFixed(4)));
    }
    return evaluation;
  }));
}

async function evaluate(engine: EngineHost, models: ModelLeases, run: Run, candidates: readonly RunCandidate[], base: string, dataPath: string, format: PromptFormat): Promise<EvalResult> {
  return vscode.window.withProgress({
    location: vscode.ProgressLocation.Notification, cancellable: true,
    title: vscode.l10n.t('Evaluating {0} on {1}', run.name, basename(dataPath)),
  }, async (progress, token) => {
    const signal = toAbortSignal(token);
    // Leased, not loaded outright: the base stays loaded only while a preview panel also uses it.
    const load = await models.acquireModel(base, (done, total) => {
      if (total > 0) progress.report({ message: vscode.l10n.t('loading the base model {0}%', Math.round((100 * done) / total)) });
    });
    try {
      return await runEval(engine, load.modelId, run, candidates, dataPath, format, signal, progress);
    } finally {
      models.releaseModel(base);
    }
  });
}

async function runEval(engine: EngineHost, modelId: string, run: Run, candidates: readonly RunCandidate[], dataPath: string, format: PromptFormat,
  signal: AbortSignal, progress: vscode.Progress<{ message?: string; increment?: number }>): Promise<EvalResult> {
  let last = 0;
  const r = await engine.get().request(Eval, {
    modelId, dataPath, format, cacheFile: defaultEvalCachePath(run.path),
    candidates: [{ label: 'base', adapters: [] }, ...candidates.map((c) => ({ label: c.label, adapters: [{ path: c.path, scale: 1 }] }))],
  }, {
    signal,
    onProgress: (m) => {
      if (m.phase !== 'eval' || m.total <= 0) return;
      const pct = (100 * m.done) / m.total;
      progress.report({ increment: pct - last, message: m.detail ?? '' });
      last = pct;
    },
  });
  if (signal.aborted) throw new CoreError('cancelled', 'Cancelled.');
  return r;
}
