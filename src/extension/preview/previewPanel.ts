// One "Preview Generation" webview panel: resolves and checks the base model (src/core/basemodel diagnosis), loads it once
// in the engine (engine/load), then runs the same prompt and seed through every column (engine/generate, adapters applied
// on the fly), streaming tokens into the webview. Strict CSP with a nonce; every inbound message is validated.

import * as vscode from 'vscode';
import { diagnoseAdapter, type Diagnosis } from '../../core/basemodel/diagnose';
import { BaseModelCache } from '../../core/basemodel/inspect';
import type { Fix } from '../../core/peft/problems';
import { toCoreError } from '../../core/errors';
import { FidelityCompare, Generate, type AdapterSpec, type GenerateResult, type LoadResult } from '../../engine/protocol';
import { NodeFs } from '../../node/nodeFs';
import type { EngineHost } from '../engineHost';
import { showBaseFolderDialog } from '../platform/baseFolderDialog';
import { Disposable } from '../platform/dispose';
import { log } from '../platform/log';
import { webviewHtml } from '../platform/webviewHtml';
import {
  DEFAULT_SETTINGS, fidelityLine, parseWebviewMessage, validSettings,
  type ColumnInfo, type ColumnKind, type FidelityView, type DiagnosisView, type HostToWebview, type PanelState, type PreviewLabels, type PreviewSettings,
  type WebviewToHost,
} from '../../../webview/preview/messages';
import { previewLabels } from './labels';
import { toMarkdown } from './markdown';
import { localize } from '../platform/l10n';

/** What the preview was opened on: an adapter folder (its base is resolved from adapter_config.json) or a full model. */
export type PreviewTarget = { readonly kind: 'adapter'; readonly path: string } | { readonly kind: 'model'; readonly path: string };

interface Column {
  readonly id: string;
  readonly kind: ColumnKind;
  readonly title: string;
  /** Adapter folder; null for the base and model columns. */
  readonly adapterPath: string | null;
  /** A model column's own model (a GGUF export, another model folder); null: the panel's base. */
  readonly modelPath: string | null;
  /** That model once loaded (held through the services' refcount until the column or panel goes). */
  model: LoadResult | null;
  /** A model column's chosen reference column; null: the default (see referenceFor). */
  referenceId: string | null;
  scale: number;
  readonly removable: boolean;
}

interface ColumnOutput {
  text: string;
  /** The adapters at the scales this run used (a slider moved meanwhile must not change what is compared). */
  adapters: AdapterSpec[];
  promptIds: number[];
  ids: number[];
  stopReason: string | null;
  stats: { ttftMs: number; tokensPerSecond: number; count: number } | null;
  error: string | null;
  /** A model column's line against the reference column. */
  fidelity: string | null;
}

/** Shared with the panel by register.ts: the loaded-model refcount, recent prompts and the compatible-adapter picker. */
export interface PreviewServices {
  readonly engine: EngineHost;
  readonly extensionUri: vscode.Uri;
  readonly state: vscode.Memento;
  acquireModel(basePath: string, onProgress: (done: number, total: number, phase: string) => void): Promise<LoadResult>;
  releaseModel(basePath: string): void;
  pickAdapter(basePath: string, exclude: readonly string[]): Promise<string | undefined>;
  /** GGUF exports or other models to compare with; those next to `near` (the previewed target) first. */
  pickModels(near: string, exclude: readonly string[]): Promise<string[]>;
}

// The diagnosis feature's quick-fix commands (src/extension/language/baseCommands.ts), run by id when registered.
const APPLY_BASE_FIX = 'loraWorkbench.applyBaseFix';
const CHOOSE_BASE = 'loraWorkbench.chooseBaseModel';
const RELINK_RUN = 'loraWorkbench.relinkRunBase';
const RECENT_KEY = 'loraWorkbench.preview.recentPrompts';
const SETTINGS_KEY = 'loraWorkbench.preview.settings';
const MAX_RECENT = 20;
/** Tokens are sent to the webview in batches at most this often: one postMessage per token would flood IPC on fast models. */
const TOKEN_FLUSH_MS = 25;

function rel(p: string): string {
  return vscode.workspace.asRelativePath(vscode.Uri.file(p), (vscode.workspace.workspaceFolders?.length ?? 0) > 1);
}

function folderName(p: string): string {
  return p.replace(/[\\/]+$/, '').split(/[\\/]/).pop() ?? p;
}

export class PreviewPanel extends Disposable {
  readonly panel: vscode.WebviewPanel;
  private readonly fs = new NodeFs();
  private cache = new BaseModelCache();
  private readonly labels: PreviewLabels = previewLabels();
  private columns: Column[] = [];
  private nextColumn = 1;
  private basePath: string | null = null;
  private model: LoadResult | null = null;
  private loading: Promise<LoadResult | null> | null = null;
  private state: PanelState = 'idle';
  private diagnosis: DiagnosisView | null = null;
  private fixes = new Map<string, () => Promise<void>>();
  private run: { id: number; controller: AbortController } | null = null;
  private runCounter = 0;
  private lastSettings: PreviewSettings;
  private outputs = new Map<string, ColumnOutput>();
  private chatTemplate = false;
  /** A base folder chosen for this preview only (a found candidate or a picked folder), instead of the recorded one. */
  private baseOverride: string | undefined;
  private readyResolve: (() => void) | undefined;
  /** Resolves once the webview said `ready` (tests and the e2e wait on this through the log). */
  readonly webviewReady = new Promise<void>((r) => (this.readyResolve = r));

  constructor(private readonly target: PreviewTarget, private readonly services: PreviewServices, onDispose: () => void) {
    super();
    this.lastSettings = validSettings(services.state.get(SETTINGS_KEY)) ?? DEFAULT_SETTINGS;
    const title = target.kind === 'adapter' ? vscode.l10n.t('Preview: {0}', this.adapterTitle(target.path)) : vscode.l10n.t('Preview: {0}', folderName(target.path));
    this.panel = this._register(vscode.window.createWebviewPanel('loraWorkbench.preview', title, vscode.ViewColumn.Active, {
      enableScripts: true,
      // Generation keeps streaming while the tab is in the background; the page must not be torn down meanwhile.
      retainContextWhenHidden: true,
      localResourceRoots: [vscode.Uri.joinPath(services.extensionUri, 'dist', 'webview')],
    }));
    this._register(this.panel.onDidDispose(() => {
      this.stop();
      if (this.model && this.basePath) services.releaseModel(this.basePath);
      this.model = null;
      for (const c of this.columns) this.releaseColumnModel(c);
      onDispose();
      this.dispose();
    }));
    this._register(this.panel.webview.onDidReceiveMessage((raw: unknown) => {
      const m = parseWebviewMessage(raw);
      if (!m) {
        log().warn(`preview: rejected a malformed webview message: ${JSON.stringify(raw)?.slice(0, 200)}`);
        return;
      }
      void this.onMessage(m).catch((err: unknown) => this.fail(err));
    }));
    this._register(vscode.workspace.onDidGrantWorkspaceTrust(() => {
      this.post({ type: 'status', state: 'idle', message: '', progress: null });
      void this.prepare();
    }));
    this.panel.webview.html = this.html();
  }

  get targetPath(): string {
    return this.target.path;
  }

  reveal(): void {
    this.panel.reveal();
  }

  private adapterTitle(p: string): string {
    const name = folderName(p);
    // A final adapter saved at the run root is named after the run; checkpoint-N/sft_lora_model after its checkpoint.
    if (/^(sft|pt)_lora_model$|^adapter$/.test(name)) return folderName(p.replace(/[\\/][^\\/]+[\\/]?$/, ''));
    return name;
  }

  private post(m: HostToWebview): void {
    void this.panel.webview.postMessage(m);
  }

  private setStatus(state: PanelState, message: string, progress: { done: number; total: number } | null = null): void {
    this.state = state;
    this.post({ type: 'status', state, message, progress });
  }

  private columnInfos(): ColumnInfo[] {
    return this.columns.map((c) => ({
      id: c.id, kind: c.kind, title: c.title, detail: this.columnPath(c),
      scale: c.scale, removable: c.removable, reference: c.kind === 'model' ? this.referenceFor(c)?.id ?? null : null,
    }));
  }

  /** The folder or file a column runs (workspace-relative): its adapter, its model, or the base. */
  private columnPath(c: Column): string {
    const p = c.adapterPath ?? c.modelPath ?? this.basePath;
    return p ? rel(p) : '';
  }

  private addAdapterColumn(adapterPath: string, removable: boolean): Column {
    const col: Column = {
      id: `a${this.nextColumn++}`, kind: 'adapter', title: vscode.l10n.t('Base + {0}', this.adapterTitle(adapterPath)), adapterPath, modelPath: null, model: null, referenceId: null, scale: 1, removable,
    };
    this.columns.push(col);
    return col;
  }

  /** A column running another model file on the same prompt (loaded on the first Run that needs it). */
  private addModelColumn(modelPath: string): Column {
    const col: Column = { id: `m${this.nextColumn++}`, kind: 'model', title: folderName(modelPath), adapterPath: null, modelPath, model: null, referenceId: null, scale: 1, removable: true };
    this.columns.push(col);
    return col;
  }

  private releaseColumnModel(c: Column): void {
    if (c.model && c.modelPath) this.services.releaseModel(c.modelPath);
    c.model = null;
  }

  /**
   * The column a model column is measured against: the one the user chose, else the previewed target itself (the
   * model, or base + the previewed adapter, whose merge is what gets exported).
   */
  private referenceFor(col: Column): Column | undefined {
    const chosen = this.columns.find((c) => c.id === col.referenceId && c.kind !== 'model');
    return chosen ?? this.columns.find((c) => c.kind === 'adapter' && !c.removable) ?? this.columns.find((c) => c.kind === 'base');
  }

  private async onMessage(m: WebviewToHost): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.post({
          type: 'init', title: this.panel.title, labels: this.labels, settings: this.lastSettings, columns: this.columnInfos(),
          recentPrompts: this.recentPrompts(), chatTemplate: this.chatTemplate, trusted: vscode.workspace.isTrusted, isMac: process.platform === 'darwin',
        });
        this.readyResolve?.();
        log().info(`preview ${rel(this.target.path)}: webview ready`);
        await this.prepare();
        return;
      case 'run':
        for (const s of m.scales) {
          const c = this.columns.find((x) => x.id === s.columnId);
          if (c) c.scale = s.scale;
        }
        await this.runAll(m.settings);
        return;
      case 'stop':
        this.stop();
        return;
      case 'addColumn': {
        if (!this.basePath) return;
        const picked = await this.services.pickAdapter(this.basePath, this.columns.flatMap((c) => (c.adapterPath ? [c.adapterPath] : [])));
        if (!picked) return;
        const col = this.addAdapterColumn(picked, true);
        log().info(`preview: added column ${col.id} ${picked}`);
        this.post({ type: 'columns', columns: this.columnInfos() });
        return;
      }
      case 'addModels': {
        if (!this.basePath || this.run) return;
        const picked = await this.services.pickModels(this.target.path, this.columns.flatMap((c) => (c.modelPath ? [c.modelPath] : [])));
        for (const p of picked) log().info(`preview: added column ${this.addModelColumn(p).id} ${p}`);
        if (picked.length) this.post({ type: 'columns', columns: this.columnInfos() });
        return;
      }
      case 'removeColumn': {
        const i = this.columns.findIndex((c) => c.id === m.columnId && c.removable);
        if (i < 0 || this.run) return;
        this.releaseColumnModel(this.columns[i]!);
        this.columns.splice(i, 1);
        this.outputs.delete(m.columnId);
        this.post({ type: 'columns', columns: this.columnInfos() });
        return;
      }
      case 'setReference': {
        const c = this.columns.find((x) => x.id === m.columnId && x.kind === 'model');
        if (c && this.columns.some((x) => x.id === m.referenceId && x.kind !== 'model')) c.referenceId = m.referenceId;
        return;
      }
      case 'setScale': {
        const c = this.columns.find((x) => x.id === m.columnId);
        if (c && c.kind === 'adapter') c.scale = m.scale;
        return;
      }
      case 'copy': {
        const out = this.outputs.get(m.columnId);
        if (out) {
          await vscode.env.clipboard.writeText(out.text);
          this.post({ type: 'notice', message: this.labels.copied });
        }
        return;
      }
      case 'openMarkdown': {
        const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: this.markdown() });
        await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preview: false });
        return;
      }
      case 'fix': {
        const action = this.fixes.get(m.actionId);
        if (action) await action();
        return;
      }
      case 'manageTrust':
        await vscode.commands.executeCommand('workbench.trust.manage');
        return;
      case 'retry':
        // Retry after a fix: base headers may have changed on disk, and the base may have been fixed in the config.
        this.cache = new BaseModelCache();
        await this.prepare(true);
        return;
    }
  }

  /** Resolve the base (adapter targets), check compatibility, then load it; any blocker becomes an inline diagnosis. */
  private async prepare(rediagnose = false): Promise<void> {
    if (!vscode.workspace.isTrusted) {
      this.setStatus('untrusted', this.labels.untrusted);
      return;
    }
    if (this.target.kind === 'model') {
      this.setBase(this.target.path);
    } else if (!this.basePath || rediagnose) {
      this.setStatus('diagnosing', this.labels.diagnosing);
      const d = await this.diagnose();
      if (!d) return;
    }
    await this.ensureLoaded();
  }

  private setBase(basePath: string): void {
    const changed = this.basePath !== basePath;
    if (changed && this.model && this.basePath) {
      this.services.releaseModel(this.basePath);
      this.model = null;
    }
    this.basePath = basePath;
    if (this.columns.length === 0 || changed) {
      // Adapter and model columns stay; the base column is the new base's.
      const kept = this.columns.filter((c) => c.kind !== 'base');
      this.columns = [{ id: 'base', kind: 'base', title: this.target.kind === 'model' && this.target.path === basePath ? vscode.l10n.t('Model') : vscode.l10n.t('Base'), adapterPath: null, modelPath: null, model: null, referenceId: null, scale: 1, removable: false }];
      if (this.target.kind === 'adapter' && !kept.some((c) => c.kind === 'adapter')) this.addAdapterColumn(this.target.path, false);
      this.columns.push(...kept);
    }
    this.post({ type: 'columns', columns: this.columnInfos() });
  }

  private async diagnose(): Promise<Diagnosis | null> {
    const base = this.baseOverride;
    const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
    const searchPaths = vscode.workspace.getConfiguration('loraWorkbench').get<string[]>('modelSearchPaths', []);
    let d: Diagnosis;
    try {
      d = await diagnoseAdapter(this.fs, this.target.path, { workspaceFolders: folders, searchPaths, cache: this.cache, base });
    } catch (err) {
      const e = toCoreError(err);
      this.showDiagnosis({ title: vscode.l10n.t('This adapter cannot be read.'), problems: [{ severity: 'error', code: e.code, message: e.message }], actions: [] });
      this.setStatus('error', e.message);
      return null;
    }
    // The diagnosis' one judgement decides (issue 13): a resized vocabulary the adapter carries is not a reason to refuse.
    const blocking = d.incompatibilities;
    if (!d.base.resolved || d.compatible === false) {
      const title = !d.base.resolved
        ? vscode.l10n.t('The base model of this adapter cannot be found.')
        : vscode.l10n.t('The base model at {0} does not fit this adapter.', rel(d.base.resolved));
      this.showDiagnosis({ title, problems: (blocking.length ? blocking : d.problems).map((p) => ({ severity: p.severity, code: p.code, message: localize(p) })), actions: await this.fixActions(d) });
      this.setStatus('error', title);
      log().info(`preview ${rel(this.target.path)}: base ${d.base.raw ?? '(none)'} unusable: ${blocking.map((p) => p.code).join(', ')}`);
      return null;
    }
    this.showDiagnosis(null);
    this.chatTemplate = (await this.hasChatTemplate(d.base.resolved)) || (await this.hasChatTemplate(d.adapterDir));
    this.setBase(d.base.resolved);
    return d;
  }

  private async hasChatTemplate(folder: string): Promise<boolean> {
    try {
      const text = await this.fs.readText(`${folder}/tokenizer_config.json`, 16 * 1024 * 1024);
      const tpl = (JSON.parse(text) as { chat_template?: unknown }).chat_template;
      return typeof tpl === 'string' || Array.isArray(tpl);
    } catch {
      return false;
    }
  }

  private showDiagnosis(d: DiagnosisView | null): void {
    this.diagnosis = d;
    this.post({ type: 'diagnosis', diagnosis: d });
  }

  /**
   * Buttons for the diagnosis. Fixes that edit adapter_config.json run the diagnosis feature's quick-fix commands
   * (loraWorkbench.applyBaseFix / chooseBaseModel / relinkRunBase, when registered) and the panel checks again after
   * them; a found compatible model can also be used for this preview only, leaving the file as it is.
   */
  private async fixActions(d: Diagnosis): Promise<Array<{ id: string; title: string }>> {
    this.fixes.clear();
    const actions: Array<{ id: string; title: string }> = [];
    const add = (id: string, title: string, run: () => Promise<void>): void => {
      if (this.fixes.has(id)) return;
      this.fixes.set(id, run);
      actions.push({ id, title });
    };
    const commands = new Set(await vscode.commands.getCommands(true));
    const config = vscode.Uri.file(d.configPath);
    const thenRecheck = (command: string, ...args: unknown[]) => async (): Promise<void> => {
      const done = await vscode.commands.executeCommand(command, ...args);
      if (done) {
        this.baseOverride = undefined;
        await this.prepare(true);
      }
    };
    const seen = new Set<string>();
    const fixes: Fix[] = d.problems.flatMap((p) => [...p.fixes]).filter((f) => {
      const key = JSON.stringify(f);
      return seen.has(key) ? false : (seen.add(key), true);
    });
    let n = 0;
    const usedForPreview = new Set<string>();
    for (const f of fixes) {
      const i = n++;
      switch (f.kind) {
        case 'use-candidate': {
          const candidate = f.folder ?? d.base.candidates.find((c) => c.path === f.path || c.hubId === f.path)?.path ?? f.path;
          // One "for this preview" button per model folder, one "Write" button per form of its value.
          if (!usedForPreview.has(candidate)) add(`use-${i}`, vscode.l10n.t('Use {0} for this preview', rel(candidate)), () => this.useBase(candidate));
          usedForPreview.add(candidate);
          if (commands.has(APPLY_BASE_FIX)) add(`write-${i}`, vscode.l10n.t('Write {0} into adapter_config.json', f.path), thenRecheck(APPLY_BASE_FIX, config, f));
          break;
        }
        case 'rewrite-hub-id':
        case 'make-absolute':
        case 'make-relative':
        case 'remove-revision': {
          const what = f.kind === 'rewrite-hub-id' ? f.hubId : f.kind === 'remove-revision' ? vscode.l10n.t('remove "revision"') : f.value;
          if (commands.has(APPLY_BASE_FIX)) add(`fix-${i}`, vscode.l10n.t('Fix adapter_config.json: {0}', what), thenRecheck(APPLY_BASE_FIX, config, f));
          break;
        }
        case 'use-original':
          if (commands.has(APPLY_BASE_FIX)) add(`fix-${i}`, vscode.l10n.t('Use the 16-bit original {0}', f.hubId), thenRecheck(APPLY_BASE_FIX, config, f));
          break;
        case 'choose-base':
          if (commands.has(CHOOSE_BASE)) add('choose-base', vscode.l10n.t('Choose Base Model Folder...'), thenRecheck(CHOOSE_BASE, config));
          break;
        case 'relink-run':
          if (commands.has(RELINK_RUN)) add('relink-run', vscode.l10n.t('Relink All Adapters of This Run...'), thenRecheck(RELINK_RUN, config));
          break;
      }
    }
    if (!this.fixes.has('choose-base')) {
      // Without the diagnosis commands (or when no fix was proposed): pick a folder for this preview only.
      add('choose-base', vscode.l10n.t('Choose Base Model Folder...'), async () => {
        const picked = await showBaseFolderDialog({ openLabel: vscode.l10n.t('Use as Base Model') });
        if (picked) await this.useBase(picked);
      });
    }
    add('open-config', vscode.l10n.t('Open adapter_config.json'), async () => {
      await vscode.window.showTextDocument(config, { preview: true });
    });
    return actions;
  }

  /** Check a base folder the user or a fix chose, and use it when it fits (the config on disk is left as it is). */
  private async useBase(folder: string): Promise<void> {
    this.baseOverride = folder;
    this.setStatus('diagnosing', this.labels.diagnosing);
    const d = await this.diagnose();
    if (d) await this.ensureLoaded();
  }

  private async ensureLoaded(): Promise<LoadResult | null> {
    if (this.model) {
      this.setStatus('ready', this.readyMessage(this.model));
      return this.model;
    }
    if (!this.basePath) return null;
    if (this.loading) return this.loading;
    const basePath = this.basePath;
    this.setStatus('loading', vscode.l10n.t('Loading {0}...', rel(basePath)), { done: 0, total: 1 });
    this.loading = (async () => {
      try {
        if (!this.chatTemplate) this.chatTemplate = await this.hasChatTemplate(basePath);
        const r = await this.services.acquireModel(basePath, (done, total, phase) => {
          this.setStatus('loading', vscode.l10n.t('Loading {0}: {1}', rel(basePath), phase), { done, total });
        });
        if (this.basePath !== basePath) {
          this.services.releaseModel(basePath);
          return null;
        }
        this.model = r;
        this.chatTemplate ||= r.hasChatTemplate;
        this.post({ type: 'chatTemplate', available: this.chatTemplate });
        log().info(`preview: loaded ${basePath} as ${r.modelId} (${r.backend}, ${r.dtype}, ${Math.round(r.loadMs)} ms)`);
        this.setStatus('ready', this.readyMessage(r));
        return r;
      } catch (err) {
        const e = toCoreError(err);
        log().error(`preview: loading ${basePath} failed: [${e.code}] ${e.message}`);
        if (e.code === 'worker-died') {
          // Not a fault of the model: the engine host has said what happened; Run tries again on a fresh worker.
          this.setStatus('idle', this.engineLostMessage());
          return null;
        }
        this.showDiagnosis({ title: vscode.l10n.t('The model at {0} cannot be loaded.', rel(basePath)), problems: [{ severity: 'error', code: e.code, message: e.message }], actions: [] });
        this.setStatus('error', e.message);
        return null;
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  private readyMessage(r: LoadResult): string {
    return vscode.l10n.t('{0} loaded: {1}, {2} layers, {3} backend, {4} ms.', rel(this.basePath ?? ''), r.dtype, r.numLayers, r.backend, Math.round(r.loadMs));
  }

  stop(): void {
    this.run?.controller.abort();
  }

  /**
   * The engine worker died: its model is gone (register.ts forgot the shared load, so nothing is released). The next
   * Run loads the base again on the fresh worker; a run in progress ends with its columns' worker-died errors.
   */
  engineLost(): void {
    // Model columns' loads died with the worker too (register.ts forgot them: nothing to release).
    for (const c of this.columns) c.model = null;
    if (!this.model) return;
    this.model = null;
    if (!this.run) this.setStatus('idle', this.engineLostMessage());
  }

  private engineLostMessage(): string {
    return vscode.l10n.t('The engine stopped; Run loads {0} again.', rel(this.basePath ?? ''));
  }

  /** Run every column, one after the other on the one engine worker, so each column's timings are its own. */
  private async runAll(settings: PreviewSettings): Promise<void> {
    if (this.run) return;
    if (!vscode.workspace.isTrusted) {
      this.setStatus('untrusted', this.labels.untrusted);
      return;
    }
    this.lastSettings = settings;
    void this.services.state.update(SETTINGS_KEY, settings);
    this.remember(settings.prompt);
    const model = await this.ensureLoaded();
    if (!model) return;
    const runId = ++this.runCounter;
    const controller = new AbortController();
    this.run = { id: runId, controller };
    const columns = [...this.columns];
    this.outputs = new Map(columns.map((c) => [c.id, { text: '', adapters: [], promptIds: [], ids: [], stopReason: null, stats: null, error: null, fidelity: null }]));
    this.post({ type: 'runStarted', runId, columnIds: columns.map((c) => c.id), greedy: settings.temperature === 0 });
    this.setStatus('running', this.labels.generating);
    const t0 = Date.now();
    try {
      for (const col of columns) {
        // After a worker death the model id is gone: the remaining columns wait for the next Run.
        if (controller.signal.aborted || !this.model) break;
        await this.runColumn(runId, col, model, settings, controller.signal);
      }
      if (!controller.signal.aborted && this.model) await this.compareModelColumns(runId, columns, model, controller.signal);
    } finally {
      this.run = null;
      const cancelled = controller.signal.aborted;
      this.post({ type: 'runDone', runId, cancelled });
      if (this.model) this.setStatus('ready', this.readyMessage(model));
      else this.setStatus('idle', this.engineLostMessage());
      log().info(`preview run ${runId}: ${cancelled ? 'stopped' : 'done'} in ${Date.now() - t0} ms: ` +
        columns.map((c) => { const o = this.outputs.get(c.id); return `${c.id} ${o?.stats ? `${o.stats.count} tok, ttft ${o.stats.ttftMs.toFixed(1)} ms, ${o.stats.tokensPerSecond.toFixed(1)} tok/s, ${o.stopReason}` : o?.error ?? 'not run'}`; }).join('; '));
    }
  }

  private async runColumn(runId: number, col: Column, model: LoadResult, s: PreviewSettings, signal: AbortSignal): Promise<void> {
    const out = this.outputs.get(col.id)!;
    this.post({ type: 'columnStarted', runId, columnId: col.id });
    let pending: Array<{ id: number; text: string }> = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const flush = (): void => {
      clearTimeout(timer);
      timer = undefined;
      if (pending.length === 0) return;
      this.post({ type: 'tokens', runId, columnId: col.id, tokens: pending });
      pending = [];
    };
    try {
      const modelId = col.modelPath ? (await this.columnModel(col)).modelId : model.modelId;
      out.adapters = col.adapterPath ? [{ path: col.adapterPath, scale: col.scale }] : [];
      const result: GenerateResult = await this.services.engine.get().request(Generate, {
        modelId,
        adapters: out.adapters,
        prompt: { text: s.prompt, format: s.format, ...(s.system ? { system: s.system } : {}) },
        maxNewTokens: s.maxNewTokens,
        temperature: s.temperature,
        topK: s.topK,
        topP: s.topP,
        repetitionPenalty: s.repetitionPenalty,
        seed: s.seed,
        stream: col.id,
      }, {
        signal,
        onToken: (t) => {
          if (t.stream !== undefined && t.stream !== col.id) return;
          pending.push({ id: t.tokenId, text: t.text });
          out.text += t.text;
          out.ids.push(t.tokenId);
          timer ??= setTimeout(flush, TOKEN_FLUSH_MS);
        },
      });
      flush();
      out.text = result.text;
      out.promptIds = [...result.promptIds];
      out.ids = [...result.ids];
      out.stopReason = result.stopReason;
      out.stats = { ttftMs: Math.max(0, result.timings.firstTokenMs), tokensPerSecond: Math.max(0, result.timings.decodeTokensPerSecond), count: result.ids.length };
      this.post({ type: 'columnDone', runId, columnId: col.id, ids: out.ids, text: result.text, stopReason: result.stopReason, stats: out.stats });
    } catch (err) {
      flush();
      const e = toCoreError(err);
      if (e.code === 'cancelled') {
        // The webview marks columns that were still running as stopped when runDone arrives.
        out.stopReason = 'cancelled';
        out.stats = { ttftMs: 0, tokensPerSecond: 0, count: out.ids.length };
        return;
      }
      out.error = localize(e);
      log().error(`preview: ${col.title}: [${e.code}] ${e.message}`);
      this.post({ type: 'columnError', runId, columnId: col.id, message: out.error });
    }
  }

  /** A model column's own model, loaded (engine/load through the shared refcount) the first time it runs. */
  private async columnModel(col: Column): Promise<LoadResult> {
    if (col.model) return col.model;
    const path = col.modelPath!;
    this.setStatus('loading', vscode.l10n.t('Loading {0}...', rel(path)), { done: 0, total: 1 });
    const r = await this.services.acquireModel(path, (done, total, phase) => {
      this.setStatus('loading', vscode.l10n.t('Loading {0}: {1}', rel(path), phase), { done, total });
    });
    col.model = r;
    log().info(`preview: loaded ${path} as ${r.modelId} (${r.backend}, ${r.dtype}, ${Math.round(r.loadMs)} ms)`);
    this.setStatus('running', this.labels.generating);
    return r;
  }

  /** After a run: every model column that ran, against its reference column if that one finished (engine/fidelity). */
  private async compareModelColumns(runId: number, columns: readonly Column[], model: LoadResult, signal: AbortSignal): Promise<void> {
    for (const col of columns) {
      const reference = col.kind === 'model' ? this.referenceFor(col) : undefined;
      const refOut = reference ? this.outputs.get(reference.id) : undefined;
      if (!reference || !refOut?.stats || refOut.error || refOut.stopReason === 'cancelled') continue;
      if (!col.model || !this.outputs.get(col.id)?.stats || signal.aborted) continue;
      await this.compareColumn(runId, col, reference, refOut, model, signal);
    }
  }

  private async compareColumn(runId: number, col: Column, reference: Column, refOut: ColumnOutput, model: LoadResult, signal: AbortSignal): Promise<void> {
    this.setStatus('running', vscode.l10n.t('Comparing {0} with {1}...', col.title, reference.title));
    const post = (result: FidelityView | null, message: string): void => {
      this.outputs.get(col.id)!.fidelity = result ? fidelityLine(this.labels, reference.title, result) : message;
      this.post({ type: 'fidelity', runId, columnId: col.id, reference: reference.title, result, message });
    };
    try {
      const r = await this.services.engine.get().request(FidelityCompare, {
        modelId: col.model!.modelId,
        referenceModelId: model.modelId,
        referenceAdapters: refOut.adapters,
        promptIds: refOut.promptIds,
        ids: refOut.ids,
      }, { signal });
      post({ positions: r.positions, agreement: r.agreement, meanKl: r.meanKl, firstDivergence: r.firstDivergence, truncated: r.truncated }, '');
      log().info(`preview: ${col.title} vs ${reference.title}: ${r.agreed}/${r.positions} greedy agreement, mean KL ${r.meanKl} nats, max ${r.maxKl}, first divergence ${r.firstDivergence}`);
    } catch (err) {
      const e = toCoreError(err);
      if (e.code === 'cancelled') return;
      log().error(`preview: ${col.title} vs ${reference.title}: [${e.code}] ${e.message}`);
      post(null, localize(e));
    }
  }

  private fail(err: unknown): void {
    const e = toCoreError(err);
    log().error(`preview: [${e.code}] ${e.message}${err instanceof Error && e.code === 'internal' ? `\n${err.stack}` : ''}`);
    this.setStatus('error', e.message);
  }

  private recentPrompts(): string[] {
    return this.services.state.get<string[]>(RECENT_KEY, []).filter((p) => typeof p === 'string');
  }

  private remember(prompt: string): void {
    if (!prompt.trim()) return;
    const list = [prompt, ...this.recentPrompts().filter((p) => p !== prompt)].slice(0, MAX_RECENT);
    void this.services.state.update(RECENT_KEY, list);
    this.post({ type: 'recentPrompts', prompts: list });
  }

  private markdown(): string {
    return toMarkdown({
      title: this.panel.title,
      basePath: this.basePath ? rel(this.basePath) : '',
      settings: this.lastSettings,
      columns: this.columns.map((c) => ({
        title: c.title, detail: c.kind === 'base' ? '' : this.columnPath(c), scale: c.kind === 'adapter' ? c.scale : null,
        output: this.outputs.get(c.id) ?? null,
      })),
      labels: this.labels,
    });
  }

  private html(): string {
    return webviewHtml(this.panel.webview, this.services.extensionUri, {
      script: 'preview', title: vscode.l10n.t('Preview Generation'), rootTag: 'main', rootAttributes: 'aria-busy="true"',
    });
  }
}
