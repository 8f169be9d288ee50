// Base-model status per adapter for the Checkpoints tree (found and compatible / problem / unknown), from the diagnosis
// engineer's core (basemodel/diagnose.ts: diagnoseAdapter + baseStatusOf); no resolution logic here. Computed lazily for
// rows VS Code actually renders, a few at a time, cached until the next scan.

import * as vscode from 'vscode';
import { baseDisplayName, baseStatusOf, diagnoseAdapter, type BaseStatus } from '../../core/basemodel/diagnose';
import { BaseModelCache } from '../../core/basemodel/inspect';
import type { Adapter } from '../../core/checkpoints/model';
import { absolutePath, NodeFs } from '../../node/nodeFs';
import { log } from '../platform/log';
import { localize } from '../platform/l10n';

export interface BaseStatusInfo {
  readonly status: BaseStatus;
  /** Hub id or folder name of the base. */
  readonly name: string;
  /** Where it resolved, when it did. */
  readonly resolved: string | null;
  /** The first error/warning message, for the tooltip. */
  readonly problem: string | null;
}

const CONCURRENCY = 2;

export class BaseStatusCache implements vscode.Disposable {
  private readonly results = new Map<string, BaseStatusInfo>();
  private readonly queued = new Set<string>();
  private readonly queue: string[] = [];
  private active = 0;
  private generation = 0;
  private readonly fs = new NodeFs();
  private readonly cache = new BaseModelCache();
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires (batched) when statuses were computed. */
  readonly onDidChange = this.changed.event;
  private fireTimer: ReturnType<typeof setTimeout> | undefined;

  dispose(): void {
    clearTimeout(this.fireTimer);
    this.changed.dispose();
  }

  /** Forget everything (after a rescan: configs or bases may have changed). */
  reset(): void {
    this.generation++;
    this.results.clear();
    this.queued.clear();
    this.queue.length = 0;
  }

  /** The status if known; otherwise schedules its computation and returns undefined. */
  get(adapter: Adapter): BaseStatusInfo | undefined {
    if (adapter.format !== 'peft' || adapter.baseModel === null) return undefined;
    const hit = this.results.get(adapter.path);
    if (hit) return hit;
    if (!this.queued.has(adapter.path)) {
      this.queued.add(adapter.path);
      this.queue.push(adapter.path);
      this.pump();
    }
    return undefined;
  }

  private pump(): void {
    while (this.active < CONCURRENCY && this.queue.length > 0) {
      const path = this.queue.shift()!;
      const gen = this.generation;
      this.active++;
      void this.compute(path)
        .then((info) => {
          if (gen !== this.generation) return;
          this.results.set(path, info);
          clearTimeout(this.fireTimer);
          this.fireTimer = setTimeout(() => this.changed.fire(), 150);
        })
        .catch((e: unknown) => log().warn(`base status of ${path}: ${(e as Error).message}`))
        .finally(() => {
          this.active--;
          this.pump();
        });
    }
  }

  private async compute(path: string): Promise<BaseStatusInfo> {
    const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => absolutePath(f.uri.fsPath));
    const searchPaths = vscode.workspace.getConfiguration('loraWorkbench').get<string[]>('modelSearchPaths', []);
    const d = await diagnoseAdapter(this.fs, path, { workspaceFolders: folders, searchPaths, candidates: 'never', cache: this.cache });
    const problem = d.problems.find((p) => p.severity === 'error') ?? d.problems.find((p) => p.severity === 'warning');
    return { status: baseStatusOf(d), name: baseDisplayName(d), resolved: d.base.resolved, problem: problem ? localize(problem) : null };
  }
}

export function baseStatusIcon(status: BaseStatus): vscode.ThemeIcon {
  switch (status) {
    case 'ok': return new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed'));
    case 'warning': return new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'));
    case 'error': return new vscode.ThemeIcon('error', new vscode.ThemeColor('list.errorForeground'));
    default: return new vscode.ThemeIcon('question');
  }
}

export function baseStatusLabel(status: BaseStatus): string {
  switch (status) {
    case 'ok': return vscode.l10n.t('base found and compatible');
    case 'warning': return vscode.l10n.t('base has warnings');
    case 'error': return vscode.l10n.t('base missing or incompatible');
    default: return vscode.l10n.t('base not checked');
  }
}
