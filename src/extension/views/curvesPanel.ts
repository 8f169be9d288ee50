// Host of the "Training Curves" webview (webview/curves): one panel per run, fed from the run's newest
// trainer_state.json and refreshed when a rescan sees it change. Strict CSP with a nonce; scripts only from dist/webview.

import * as vscode from 'vscode';
import type { Run } from '../../core/checkpoints/model';
import { curvesOf, parseTrainerState } from '../../core/checkpoints/trainerState';
import { readJsonFile } from '../../core/checkpoints/inspect';
import { MAX_TRAINER_STATE_BYTES } from '../../core/checkpoints/scan';
import { NodeFs } from '../../node/nodeFs';
import type { CurvesDataMessage, CurvesToHost, DataEvalMessage } from '../../../webview/curves/messages';
import { basename } from '../../core/paths';
import type { EvalResults } from './evalResults';
import type { CheckpointIndex } from './checkpointIndex';
import { log } from '../platform/log';
import { webviewHtml } from '../platform/webviewHtml';

export class CurvesPanels implements vscode.Disposable {
  private readonly panels = new Map<string, { panel: vscode.WebviewPanel; statePath: string | null; mtime: number }>();
  private readonly subscription: vscode.Disposable;
  private readonly fs = new NodeFs();

  private readonly evalSubscription: vscode.Disposable;

  constructor(private readonly extensionUri: vscode.Uri, private readonly index: CheckpointIndex, private readonly evalResults: EvalResults) {
    // A finished "Evaluate Checkpoints..." redraws its run's panel with the loss-on-your-data chart.
    this.evalSubscription = evalResults.onDidChange((runPath) => {
      const entry = this.panels.get(runPath);
      const run = index.result.runs.find((r) => r.path === runPath);
      if (entry && run) void this.update(entry.panel, run, true);
    });
    // Live curves: a training run rewrites trainer_state.json at every save; the rescan that follows updates the panel.
    this.subscription = index.onDidChange(() => {
      for (const [runPath, entry] of this.panels) {
        const run = index.result.runs.find((r) => r.path === runPath);
        if (run) void this.update(entry.panel, run, false);
      }
    });
  }

  dispose(): void {
    this.subscription.dispose();
    this.evalSubscription.dispose();
    for (const { panel } of this.panels.values()) panel.dispose();
    this.panels.clear();
  }

  /** Open (or reveal) the curves of `run`. */
  async show(run: Run): Promise<vscode.WebviewPanel> {
    const existing = this.panels.get(run.path);
    if (existing) {
      existing.panel.reveal();
      await this.update(existing.panel, run, true);
      return existing.panel;
    }
    const panel = vscode.window.createWebviewPanel('loraWorkbench.curves', vscode.l10n.t('Curves: {0}', run.name), vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: false,
      localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview')],
    });
    this.panels.set(run.path, { panel, statePath: null, mtime: -1 });
    panel.onDidDispose(() => this.panels.delete(run.path));
    panel.webview.onDidReceiveMessage((m: CurvesToHost) => {
      const current = this.index.result.runs.find((r) => r.path === run.path) ?? run;
      if (m.type === 'ready') void this.update(panel, current, true);
      else if (m.type === 'openCheckpoint') {
        const c = current.checkpoints.find((x) => x.step === m.step && !x.final);
        if (c) void vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(c.path));
      } else if (m.type === 'rendered') log().info(`curves ${run.name}: rendered ${JSON.stringify(m.series)}`);
    });
    panel.webview.html = this.html(panel.webview);
    return panel;
  }

  private html(webview: vscode.Webview): string {
    return webviewHtml(webview, this.extensionUri, { script: 'curves', title: vscode.l10n.t('Training Curves'), rootTag: 'div' });
  }

  private async update(panel: vscode.WebviewPanel, run: Run, force: boolean): Promise<void> {
    const entry = this.panels.get(run.path);
    const statePath = run.trainerState;
    const st = statePath ? await this.fs.stat(statePath).catch(() => null) : null;
    const mtime = st?.mtimeMs ?? -1;
    if (!force && entry && entry.statePath === statePath && entry.mtime === mtime && entry.mtime !== -1) return;
    if (entry) {
      entry.statePath = statePath;
      entry.mtime = mtime;
    }
    const msg = await this.message(run);
    await panel.webview.postMessage(msg);
  }

  private async message(run: Run): Promise<CurvesDataMessage> {
    const labels = {
      loss: vscode.l10n.t('Training loss'),
      evalLoss: vscode.l10n.t('Eval loss'),
      learningRate: vscode.l10n.t('Learning rate'),
      gradNorm: vscode.l10n.t('Grad norm'),
      step: vscode.l10n.t('Step'),
      lossAxis: vscode.l10n.t('Loss'),
      best: vscode.l10n.t('best'),
      logScale: vscode.l10n.t('Log scale'),
      smoothing: vscode.l10n.t('Smoothing'),
      noData: vscode.l10n.t('No logged values.'),
      checkpoint: vscode.l10n.t('Checkpoint'),
      rows: vscode.l10n.t('log rows'),
    };
    let series: CurvesDataMessage['series'] = { loss: [], evalLoss: [], learningRate: [], gradNorm: [] };
    let rows = 0;
    if (run.trainerState) {
      const r = await readJsonFile(this.fs, run.trainerState, MAX_TRAINER_STATE_BYTES, 'bad-trainer-state', 'warning');
      if (r.ok) {
        try {
          const state = parseTrainerState(r.value);
          series = curvesOf(state);
          rows = state.logHistory.length;
        } catch (e) {
          log().warn(`curves: ${run.trainerState}: ${(e as Error).message}`);
        }
      } else log().warn(`curves: ${r.health.message}`);
    }
    return {
      type: 'data',
      title: run.name,
      source: run.trainerState ?? '',
      rows,
      series,
      checkpoints: run.checkpoints.filter((c) => !c.final && c.step !== null).map((c) => ({ step: c.step!, name: c.name, best: c.best })),
      bestStep: run.bestStep,
      labels,
      dataEval: this.dataEval(run),
    };
  }

  /** The run's latest evaluation on the user's data: one point per checkpoint on the step axis, the base as a line. */
  private dataEval(run: Run): DataEvalMessage | null {
    const e = this.evalResults.get(run.path);
    if (!e) return null;
    const onAxis = e.points.filter((p) => p.path !== null && !p.final && p.step !== null);
    const name = basename(e.dataPath);
    return {
      title: vscode.l10n.t('Loss on {0} ({1} examples, {2})', name, e.examples, e.format),
      points: onAxis.map((p) => [p.step!, p.loss] as const),
      whiskers: onAxis.map((p) => [p.step!, p.lossCi95[0], p.lossCi95[1]] as const),
      base: e.points[0]?.path === null ? e.points[0].loss : null,
      bestStep: e.best && !e.best.final ? e.best.step : null,
      labels: {
        series: vscode.l10n.t('Loss on {0}', name),
        base: vscode.l10n.t('Base model'),
        best: vscode.l10n.t('best on {0}: {1}', name, e.best?.label ?? '-'),
        interval: vscode.l10n.t('95% interval (bootstrap over examples)'),
      },
    };
  }
}
