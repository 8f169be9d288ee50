// CheckpointIndex: the workspace's scanned runs/checkpoints/adapters/models, kept current by debounced file watchers.
// Other features (preview, merge, diagnose) read `result` and listen to onDidChange instead of scanning themselves.

import * as vscode from 'vscode';
import { DEFAULT_SCAN_EXCLUDE, DEFAULT_SCAN_MAX_DEPTH } from '../../core/checkpoints/glob';
import type { Adapter, Checkpoint, Run, ScanResult } from '../../core/checkpoints/model';
import { scanCheckpoints } from '../../core/checkpoints/scan';
import { absolutePath, NodeFs } from '../../node/nodeFs';
import { Disposable } from '../platform/dispose';
import { log } from '../platform/log';

/** Names whose creation, change or deletion can change the scan (folders included: checkpoint-600/ appearing). */
const WATCH_GLOB =
  '**/{checkpoint-*,global_step*,adapter_config.json,adapter_model.safetensors,adapter_model.bin,adapters.safetensors,trainer_state.json,config.json,model.safetensors,model.safetensors.index.json,pytorch_model.bin,pytorch_model.bin.index.json,optimizer.pt,sft_lora_model,pt_lora_model,lora_model,merged,latest}';

/** Coalesces bursts (a checkpoint save writes ~10 files) into one rescan; short enough that a new folder shows within 2 s. */
export const RESCAN_DEBOUNCE_MS = 300;

/**
 * Run folders are also polled (one readdir each) at this interval: file events arrive late under load and not at all on
 * many network mounts (NFS/SMB training outputs on clusters), and a new checkpoint-N/ must still show within 2 s.
 */
export const RUN_POLL_MS = 500;
/** Polling is for the few runs a user watches; with more, file events alone drive rescans. */
export const MAX_POLLED_RUNS = 32;

const EMPTY: ScanResult = { roots: [], runs: [], adapters: [], models: [], gguf: [], problems: [], leftovers: [], stats: { dirs: 0, files: 0, ms: 0 } };

export class CheckpointIndex extends Disposable {
  private current: ScanResult = EMPTY;
  private readonly changed = this._register(new vscode.EventEmitter<ScanResult>());
  /** Fires after every completed scan. */
  readonly onDidChange = this.changed.event;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<ScanResult> | undefined;
  private again = false;
  private readonly fs = new NodeFs();
  private scanned = false;

  constructor() {
    super();
    const watcher = this._register(vscode.workspace.createFileSystemWatcher(WATCH_GLOB));
    const poke = (uri: vscode.Uri): void => {
      if (uri.scheme === 'file' && !/[\\/](node_modules|\.git)[\\/]/.test(uri.fsPath)) this.scheduleRescan();
    };
    this._register(watcher.onDidCreate(poke));
    this._register(watcher.onDidChange(poke));
    this._register(watcher.onDidDelete(poke));
    // A folder created with its files at once (copy, unzip, mkdir + save) is often reported as the folder alone: the
    // files inside were written before the recursive watch reached it. So any new folder, and any deletion of a
    // folder the scan knows, also rescans. Change events are ignored here (training writes logs constantly).
    const folders = this._register(vscode.workspace.createFileSystemWatcher('**/*', false, true, false));
    this._register(
      folders.onDidCreate(async (uri) => {
        if (uri.scheme !== 'file' || /[\\/](node_modules|\.git)([\\/]|$)/.test(uri.fsPath)) return;
        const st = await this.fs.stat(absolutePath(uri.fsPath)).catch(() => null);
        if (st?.kind === 'dir') poke(uri);
      }),
    );
    this._register(
      folders.onDidDelete((uri) => {
        if (uri.scheme !== 'file') return;
        const p = absolutePath(uri.fsPath);
        const r = this.current;
        const known = (x: string): boolean => x === p || x.startsWith(p + '/');
        if (r.runs.some((x) => known(x.path)) || r.adapters.some((x) => known(x.path)) || r.models.some((x) => known(x.path))) poke(uri);
      }),
    );
    this._register(vscode.workspace.onDidChangeWorkspaceFolders(() => this.scheduleRescan()));
    this._register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('loraWorkbench.scan')) this.scheduleRescan();
      }),
    );
    this._register({ dispose: () => clearTimeout(this.timer) });
    const poll = setInterval(() => void this.pollRuns(), RUN_POLL_MS);
    this._register({ dispose: () => clearInterval(poll) });
  }

  private polling = false;

  /** Rescan when a polled run folder's set of checkpoint-N folders differs from the last scan's. */
  private async pollRuns(): Promise<void> {
    const runs = this.current.runs;
    if (this.polling || this.running || runs.length === 0 || runs.length > MAX_POLLED_RUNS) return;
    this.polling = true;
    try {
      for (const run of runs) {
        if (run.kind === 'deepspeed') continue;
        const known = new Set(run.checkpoints.filter((c) => !c.final).map((c) => c.name));
        let entries;
        try {
          entries = await this.fs.readDir(run.path);
        } catch {
          this.scheduleRescan(0); // the run folder went away
          return;
        }
        const now = entries.filter((e) => e.kind !== 'file' && /^checkpoint-\d+$/.test(e.name)).map((e) => e.name);
        if (now.length !== known.size || now.some((n) => !known.has(n))) {
          this.scheduleRescan(0);
          return;
        }
      }
    } finally {
      this.polling = false;
    }
  }

  /** The latest completed scan (empty before the first one finishes). */
  get result(): ScanResult {
    return this.current;
  }

  /** True once a scan has completed. */
  get ready(): boolean {
    return this.scanned;
  }

  /** Every adapter folder in the workspace, including those inside runs. */
  adapters(): readonly Adapter[] {
    return this.current.adapters;
  }

  runs(): readonly Run[] {
    return this.current.runs;
  }

  /** The run a folder belongs to (the run folder itself, or one of its checkpoint/adapter folders). */
  runFor(folder: string): Run | undefined {
    const p = absolutePath(folder);
    return this.current.runs.find((r) => r.path === p || r.checkpoints.some((c) => c.path === p || c.adapter?.path === p));
  }

  checkpointFor(folder: string): { run: Run; checkpoint: Checkpoint } | undefined {
    const p = absolutePath(folder);
    for (const run of this.current.runs) {
      const checkpoint = run.checkpoints.find((c) => c.path === p || c.adapter?.path === p);
      if (checkpoint) return { run, checkpoint };
    }
    return undefined;
  }

  /** Rescan soon (debounced). */
  scheduleRescan(delay = RESCAN_DEBOUNCE_MS): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refresh(), delay);
  }

  /** Scan now; a request during a scan runs one more scan after it, so no change is missed. */
  refresh(): Promise<ScanResult> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const run = async (): Promise<ScanResult> => {
      try {
        return await vscode.window.withProgress({ location: { viewId: 'loraWorkbench.checkpoints' } }, () => this.scanOnce());
      } catch (err) {
        log().error(`checkpoint scan failed: ${(err as Error)?.stack ?? String(err)}`);
        return this.current;
      } finally {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          void this.refresh();
        }
      }
    };
    const p = run();
    this.running = p;
    return p;
  }

  private async scanOnce(): Promise<ScanResult> {
    const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file');
    const cfg = vscode.workspace.getConfiguration('loraWorkbench.scan');
    const roots = folders.map((f) => absolutePath(f.uri.fsPath));
    const result = await scanCheckpoints(this.fs, roots, {
      include: cfg.get<string[]>('include', ['**']),
      exclude: cfg.get<string[]>('exclude', [...DEFAULT_SCAN_EXCLUDE]),
      maxDepth: cfg.get<number>('maxDepth', DEFAULT_SCAN_MAX_DEPTH),
      followSymlinks: cfg.get<boolean>('followSymlinks', true),
    });
    for (const p of result.problems) log().info(`scan: [${p.code}] ${p.message}`);
    log().info(`scan: ${result.runs.length} run(s), ${result.adapters.length} adapter(s), ${result.models.length} model(s) in ${result.stats.dirs} folders, ${result.stats.ms} ms`);
    this.current = result;
    this.scanned = true;
    this.changed.fire(result);
    return result;
  }
}
