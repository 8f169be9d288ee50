// Live base-model diagnostics for adapter_config.json: runs the core diagnosis on open documents (as you type, debounced),
// on every adapter_config.json in the workspace at start, and again when a config, a base model folder or the
// loraWorkbench.modelSearchPaths setting changes. Keeps the latest Diagnosis per file for hovers and quick fixes.

import * as vscode from 'vscode';
import { diagnoseAdapter, type Diagnosis } from '../../core/basemodel/diagnose';
import { BaseModelCache } from '../../core/basemodel/inspect';
import { positionAt, type SourceRange } from '../../core/peft/parse';
import type { Problem, Severity } from '../../core/peft/problems';
import { absolutePath, NodeFs } from '../../node/nodeFs';
import { Disposable } from '../platform/dispose';
import { log } from '../platform/log';
import { localize } from '../platform/l10n';

export const DIAGNOSIS_SOURCE = 'LoRA Workbench';
export const ADAPTER_CONFIG_SELECTOR: vscode.DocumentSelector = { scheme: 'file', pattern: '**/adapter_config.json' };
const BASE_FILES_GLOB = '**/{config.json,model.safetensors,model.safetensors.index.json,pytorch_model.bin,pytorch_model.bin.index.json,*.safetensors,tokenizer.model,tokenizer.json,added_tokens.json}';
/** At most this many configs are diagnosed in the background at start (open documents always are). */
const MAX_BACKGROUND = 500;
/** Base folders watched individually (each costs two watchers). */
const MAX_EXTERNAL_WATCHERS = 32;

export function isAdapterConfig(uri: vscode.Uri): boolean {
  return uri.scheme === 'file' && /(^|[\\/])adapter_config\.json$/.test(uri.fsPath);
}

export function toVsRange(text: string, r: SourceRange): vscode.Range {
  const a = positionAt(text, r.offset);
  const b = positionAt(text, r.offset + r.length);
  return new vscode.Range(a.line, a.character, b.line, b.character);
}

function toSeverity(s: Severity): vscode.DiagnosticSeverity {
  return s === 'error' ? vscode.DiagnosticSeverity.Error : s === 'warning' ? vscode.DiagnosticSeverity.Warning : vscode.DiagnosticSeverity.Information;
}

export class AdapterDiagnostics extends Disposable {
  readonly fs = new NodeFs();
  readonly cache = new BaseModelCache(64);
  private readonly collection = this._register(vscode.languages.createDiagnosticCollection('lora-workbench-base'));
  private readonly latest = new Map<string, Diagnosis>();
  private readonly versions = new Map<string, number>();
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly external = new Map<string, vscode.Disposable>();
  private allTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly changed = this._register(new vscode.EventEmitter<vscode.Uri>());
  /** Fires after a file's diagnosis is (re)computed. */
  readonly onDidDiagnose = this.changed.event;

  constructor() {
    super();
    this._register(vscode.workspace.onDidOpenTextDocument((d) => isAdapterConfig(d.uri) && this.schedule(d.uri, 0)));
    this._register(vscode.workspace.onDidChangeTextDocument((e) => isAdapterConfig(e.document.uri) && e.contentChanges.length > 0 && this.schedule(e.document.uri, 250)));
    // A closed document may have been discarded: go back to what is on disk.
    this._register(vscode.workspace.onDidCloseTextDocument((d) => isAdapterConfig(d.uri) && this.schedule(d.uri, 0)));
    const configs = this._register(vscode.workspace.createFileSystemWatcher('**/adapter_config.json'));
    this._register(configs.onDidCreate((u) => this.schedule(u, 100)));
    this._register(configs.onDidChange((u) => this.schedule(u, 100)));
    this._register(configs.onDidDelete((u) => this.forget(u)));
    const bases = this._register(vscode.workspace.createFileSystemWatcher(BASE_FILES_GLOB));
    for (const ev of [bases.onDidCreate, bases.onDidChange, bases.onDidDelete]) this._register(ev(() => this.scheduleAll()));
    this._register(vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('loraWorkbench.modelSearchPaths') && this.scheduleAll()));
    this._register(vscode.workspace.onDidChangeWorkspaceFolders(() => this.scheduleAll()));
    this._register({ dispose: () => {
      for (const t of this.timers.values()) clearTimeout(t);
      if (this.allTimer) clearTimeout(this.allTimer);
      for (const w of this.external.values()) w.dispose();
    } });
    for (const d of vscode.workspace.textDocuments) if (isAdapterConfig(d.uri)) this.schedule(d.uri, 0);
    void this.diagnoseWorkspace();
  }

  workspaceFolders(): string[] {
    return (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => absolutePath(f.uri.fsPath));
  }

  searchPaths(): string[] {
    const first = this.workspaceFolders()[0] ?? this.fs.env.cwd;
    return vscode.workspace.getConfiguration('loraWorkbench').get<string[]>('modelSearchPaths', [])
      .filter((p) => typeof p === 'string' && p.trim() !== '')
      .map((p) => (p.startsWith('~') ? p : absolutePath(p, first)));
  }

  /** The latest diagnosis of a file (open or not), if one was computed. */
  get(uri: vscode.Uri): Diagnosis | undefined {
    return this.latest.get(uri.toString());
  }

  /** Run a diagnosis now with the current settings (used by commands: --base checks, candidate lookups). */
  async diagnose(uri: vscode.Uri, opts: { base?: string; candidates?: 'never' | 'when-broken' | 'always' } = {}): Promise<Diagnosis> {
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    return diagnoseAdapter(this.fs, absolutePath(uri.fsPath), {
      text: doc?.getText(), workspaceFolders: this.workspaceFolders(), searchPaths: this.searchPaths(), cache: this.cache, ...opts,
    });
  }

  /** Problems of the latest diagnosis that a VS Code diagnostic stands for. */
  problemFor(uri: vscode.Uri, diag: vscode.Diagnostic): Problem | undefined {
    const d = this.latest.get(uri.toString());
    if (!d) return undefined;
    return d.problems.find((p) => p.code === diag.code && toVsRange(d.parsed.text, p.range).isEqual(diag.range) && localize(p) === diag.message);
  }

  schedule(uri: vscode.Uri, delayMs: number): void {
    const key = uri.toString();
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.set(key, setTimeout(() => {
      this.timers.delete(key);
      void this.refresh(uri);
    }, delayMs));
  }

  private scheduleAll(): void {
    if (this.allTimer) clearTimeout(this.allTimer);
    this.allTimer = setTimeout(() => {
      this.allTimer = undefined;
      for (const key of this.latest.keys()) void this.refresh(vscode.Uri.parse(key));
    }, 400);
  }

  private forget(uri: vscode.Uri): void {
    this.latest.delete(uri.toString());
    this.collection.delete(uri);
    this.changed.fire(uri);
  }

  private async diagnoseWorkspace(): Promise<void> {
    try {
      const files = await vscode.workspace.findFiles('**/adapter_config.json', '**/{node_modules,.git}/**', MAX_BACKGROUND);
      for (const f of files) if (!this.latest.has(f.toString())) await this.refresh(f);
    } catch (e) {
      log().warn(`base-model diagnosis: workspace scan failed: ${(e as Error).message}`);
    }
  }

  /** Diagnose one file and publish. Stale results (an edit arrived meanwhile) are dropped. */
  async refresh(uri: vscode.Uri): Promise<void> {
    const key = uri.toString();
    const version = (this.versions.get(key) ?? 0) + 1;
    this.versions.set(key, version);
    const open = vscode.workspace.textDocuments.some((d) => d.uri.toString() === key);
    let d: Diagnosis;
    try {
      // Candidate search walks folders: only for files the user is looking at.
      d = await this.diagnose(uri, { candidates: open ? 'when-broken' : 'never' });
    } catch (e) {
      if (this.versions.get(key) !== version) return;
      const msg = (e as Error).message;
      if (/not found/.test(msg) && !open) {
        this.forget(uri);
        return;
      }
      log().warn(`base-model diagnosis of ${uri.fsPath}: ${msg}`);
      const diag = new vscode.Diagnostic(new vscode.Range(0, 0, 0, 0), msg, vscode.DiagnosticSeverity.Error);
      diag.code = 'config-unreadable';
      diag.source = DIAGNOSIS_SOURCE;
      this.collection.set(uri, [diag]);
      return;
    }
    if (this.versions.get(key) !== version) return;
    this.latest.set(key, d);
    this.collection.set(uri, d.problems.map((p) => {
      const diag = new vscode.Diagnostic(toVsRange(d.parsed.text, p.range), localize(p), toSeverity(p.severity));
      diag.code = p.code;
      diag.source = DIAGNOSIS_SOURCE;
      if (p.code === 'legacy-key') diag.tags = [vscode.DiagnosticTag.Deprecated];
      if (p.code === 'unknown-key') diag.tags = [vscode.DiagnosticTag.Unnecessary];
      return diag;
    }));
    this.watchBase(d);
    this.changed.fire(uri);
  }

  /**
   * Watch the base folder itself (its parent, for the folder's name: renames and deletes of the whole folder are not
   * reported for the files inside) and its top-level files. For a path that does not exist yet, watch the nearest
   * parent that does, so the diagnosis clears when the model is copied into place.
   */
  private watchBase(d: Diagnosis): void {
    const r = d.base.resolution;
    let folder = d.base.resolved;
    if (!folder && r && (r.kind === 'absolute' || r.kind === 'home') && !d.base.origin && d.base.raw) {
      const p = r.kind === 'home' ? d.base.raw.replace(/^~(?=\/)/, this.fs.env.home) : d.base.raw;
      if (p.startsWith('/')) folder = p.replace(/\/+$/, '');
    }
    if (!folder || folder === '/' || this.external.has(folder) || this.external.size >= MAX_EXTERNAL_WATCHERS) return;
    const parent = folder.slice(0, folder.lastIndexOf('/')) || '/';
    const name = folder.slice(folder.lastIndexOf('/') + 1);
    const watchers = [
      vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(parent), name)),
      vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(folder), '*')),
    ];
    const subs: vscode.Disposable[] = [...watchers];
    for (const w of watchers) subs.push(w.onDidCreate(() => this.scheduleAll()), w.onDidChange(() => this.scheduleAll()), w.onDidDelete(() => this.scheduleAll()));
    this.external.set(folder, { dispose: () => subs.forEach((s) => s.dispose()) });
  }
}
