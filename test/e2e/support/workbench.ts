// Shared fixture for the DOM e2e tests (test/e2e/ui, test/e2e/restricted): one Debian chromium per mocha process driven by
// playwright-core, one page per Workbench, and helpers built on the selectors that work in VS Code 1.139 web (E2E.md).

import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type FrameLocator, type Locator, type Page } from 'playwright-core';

/** What scripts/e2e.mjs tells the tests about the running server. */
export interface E2eEnv {
  /** 'ui' (trusted workspace) or 'restricted' (Restricted Mode). */
  readonly phase: string;
  /** Base URL of code-server, ending in '/'. */
  readonly url: string;
  /** This phase's private copy of demo/: tests may modify it. */
  readonly workspace: string;
  /** code-server's --user-data-dir (logs/ holds the extension's log file). */
  readonly userDataDir: string;
  readonly chromium: string;
  readonly screenshots: string;
  /** Where failure screenshots go: this run's folder under .e2e-run/, kept when the run fails. */
  readonly failures: string;
}

export function e2eEnv(): E2eEnv {
  const get = (name: string): string => {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is not set: run the e2e tests through 'npm run test:e2e' (scripts/e2e.mjs)`);
    return v;
  };
  return {
    phase: get('LORA_E2E_PHASE'), url: get('LORA_E2E_URL'), workspace: get('LORA_E2E_WORKSPACE'),
    userDataDir: get('LORA_E2E_USER_DATA'), chromium: get('LORA_E2E_CHROMIUM'), screenshots: get('LORA_E2E_SCREENSHOTS'),
    failures: get('LORA_E2E_FAILURES'),
  };
}

/** Titles as the user sees them (package.nls.json); the tests find things by these, like a user would. */
export const CONTAINER_TITLE = 'LoRA Workbench';
export const CHECKPOINTS_VIEW = 'Checkpoints';

let browser: Browser | undefined;
const openWorkbenches = new Set<Workbench>();

async function sharedBrowser(): Promise<Browser> {
  browser ??= await chromium.launch({
    executablePath: e2eEnv().chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  return browser;
}

/** Close every page and the browser (the root hook in hooks.ts calls this once per mocha run). */
export async function closeBrowser(): Promise<void> {
  for (const wb of [...openWorkbenches]) await wb.close();
  await browser?.close();
  browser = undefined;
}

export function currentWorkbenches(): readonly Workbench[] {
  return [...openWorkbenches];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const cssString = (s: string): string => JSON.stringify(s);

export interface OpenOptions {
  /** Folder to open (default: the phase's copy of demo/). */
  readonly folder?: string;
  /** Wait for the LoRA Workbench activity-bar item (default true). */
  readonly waitForContainer?: boolean;
}

export class Workbench {
  private constructor(readonly page: Page) {}

  /** Open a fresh page on the workbench with the demo copy as folder and wait until it is usable. */
  static async open(options: OpenOptions = {}): Promise<Workbench> {
    // On a machine shared by many builds the first page load can overrun its timeouts: try up to three times.
    for (let attempt = 1; ; attempt++) {
      try {
        return await Workbench.openOnce(options);
      } catch (err) {
        if (attempt >= 3) throw err;
        console.log(`      workbench did not load (${(err as Error).message.split('\n')[0]}); retrying`);
      }
    }
  }

  /** Open the workbench with the LoRA Workbench container shown, once the Checkpoints view lists `row` (a run, say). */
  static async openOnCheckpoints(row: string): Promise<Workbench> {
    const wb = await Workbench.open();
    await wb.openContainer();
    await wb.treeRows(CHECKPOINTS_VIEW, row).first().waitFor({ timeout: 60_000 });
    return wb;
  }

  private static async openOnce(options: OpenOptions): Promise<Workbench> {
    const env = e2eEnv();
    const page = await (await sharedBrowser()).newPage({ viewport: { width: 1280, height: 800 } });
    const wb = new Workbench(page);
    openWorkbenches.add(wb);
    try {
      // Not the 'load' event with its 30 s default: on a busy machine the workbench's assets take longer than that.
      await page.goto(`${env.url}?folder=${encodeURIComponent(options.folder ?? env.workspace)}`, { waitUntil: 'domcontentloaded', timeout: 120_000 });
      await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
      if (options.waitForContainer ?? true) await wb.activityBarItem(CONTAINER_TITLE).waitFor({ timeout: 60_000 });
      return wb;
    } catch (err) {
      await wb.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    openWorkbenches.delete(this);
    await this.page.close().catch(() => undefined);
  }

  activityBarItem(title: string): Locator {
    return this.page.locator(`.part.activitybar a.action-label[aria-label^=${cssString(title)}]`);
  }

  /** Show a view container from the activity bar (a click on the active one would hide the side bar). */
  async openContainer(title: string = CONTAINER_TITLE): Promise<void> {
    const item = this.activityBarItem(title);
    const li = item.locator('xpath=ancestor::li[1]');
    const isActive = async (): Promise<boolean> => (await li.getAttribute('class'))?.split(/\s+/).includes('checked') ?? false;
    if (!(await isActive()) || !(await this.page.locator('.part.sidebar').isVisible())) await item.click();
    await this.page.locator(`.part.sidebar .composite.title h2[title^=${cssString(title)}], .part.sidebar .title-label h2`).first().waitFor();
  }

  /** Drag the sash between side bar and editor so the side bar is `width` px wide (long labels, screenshots). */
  async setSidebarWidth(width: number): Promise<void> {
    const box = await this.page.locator('.part.sidebar').boundingBox();
    if (!box) throw new Error('the side bar is not visible');
    const y = box.y + box.height / 2;
    await this.page.mouse.move(box.x + box.width + 1, y);
    await this.page.mouse.down();
    await this.page.mouse.move(box.x + width, y, { steps: 8 });
    await this.page.mouse.up();
    // Move off the sash, whose hover highlight would otherwise stay in screenshots.
    await this.page.mouse.move(box.x + width + 200, y);
    await this.page.waitForTimeout(400);
  }

  /** The pane of a view in the side bar (header plus body), whether it shows a tree or its welcome content. */
  viewPane(viewName: string): Locator {
    return this.page.locator('.part.sidebar .pane', { has: this.page.locator(`.pane-header h3.title`, { hasText: new RegExp(`^${escapeRegExp(viewName)}$`) }) });
  }

  /** The tree of a tree view (present once the view has data; an empty view shows its welcome content instead). */
  tree(viewName: string): Locator {
    return this.page.locator(`.part.sidebar [role="tree"][aria-label=${cssString(viewName)}]`);
  }

  /** Rows of a tree view, optionally only those whose label is `label`. */
  treeRows(viewName: string, label?: string | RegExp): Locator {
    const rows = this.tree(viewName).locator('[role="treeitem"]');
    return label === undefined ? rows : rows.filter({ has: this.page.locator('.label-name', { hasText: label }) });
  }

  /** Labels (and descriptions) of the visible rows of a tree view. */
  async treeLabels(viewName: string): Promise<{ label: string; description: string }[]> {
    const rows = await this.treeRows(viewName).all();
    return Promise.all(rows.map(async (r) => ({
      label: (await r.locator('.label-name').first().textContent())?.trim() ?? '',
      description: (await r.locator('.label-description').first().textContent().catch(() => ''))?.trim() ?? '',
    })));
  }

  /** Right-click `target` and choose `item`; menu items ignore clicks for their first 100 ms, hence the wait. */
  async contextMenu(target: Locator, item: string | RegExp): Promise<void> {
    await target.click({ button: 'right' });
    const entry = this.page.locator('.context-view .monaco-menu [role="menuitem"]', { hasText: item }).first();
    await entry.waitFor();
    await sleep(250);
    await entry.click();
  }

  /** Run a command by its palette title (e.g. 'LoRA Workbench: Probe Compute Engine'). */
  async runCommand(title: string): Promise<void> {
    const input = this.page.locator('.quick-input-widget input');
    for (let attempt = 0; ; attempt++) {
      await this.page.keyboard.press('Escape');
      await this.page.keyboard.press('F1');
      try {
        await input.waitFor({ timeout: 5_000 });
        // The palette can close again between opening and typing (a webview taking focus back): retry then too.
        await input.fill(`>${title}`, { timeout: 5_000 });
        break;
      } catch (err) {
        if (attempt >= 3) throw err; // focus was in a webview or a modal swallowed F1: retry a few times
      }
    }
    const row = this.page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first();
    await row.waitFor({ timeout: 15_000 });
    // Enter runs the first (highlighted) row: make sure it is the one we mean.
    const first = this.page.locator('.quick-input-widget .monaco-list-row').first();
    const firstLabel = (await first.getAttribute('aria-label')) ?? (await first.textContent()) ?? '';
    if (!firstLabel.includes(title)) await row.click();
    else await this.page.keyboard.press('Enter');
  }

  /** Notification toasts (not rendered while the smoke-test driver is on: DOM tests run without it). */
  notifications(text?: string | RegExp): Locator {
    const toasts = this.page.locator('.notifications-toasts .notification-toast');
    return text === undefined ? toasts : toasts.filter({ hasText: text });
  }

  /** Wait for a toast containing `text` and return its message. */
  async waitForNotification(text: string | RegExp, timeout = 60_000): Promise<string> {
    const toast = this.notifications(text).first();
    await toast.waitFor({ timeout });
    return (await toast.locator('.notification-list-item-message').textContent())?.trim() ?? '';
  }

  /** The content frame of the active webview. */
  webview(): FrameLocator {
    return this.page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
  }

  /**
   * Entries of the Problems panel as their aria-labels (severity, message, position). The panel draws only the rows in
   * view (files sorted by path), so `filter` (the panel's own filter box) narrows it to the rows a test looks for.
   */
  async problems(filter?: string): Promise<string[]> {
    await this.runCommand('Problems: Focus on Problems View');
    const panel = this.page.locator('.markers-panel');
    await panel.waitFor();
    const box = this.page.locator('input[placeholder^="Filter (e.g. text"]').first();
    if (filter !== undefined) {
      await box.fill(filter);
      await this.page.waitForTimeout(500); // the filter applies after a short debounce
    }
    try {
      const rows = await panel.locator('[role="treeitem"]').all();
      return await Promise.all(rows.map(async (r) => (await r.getAttribute('aria-label')) ?? ''));
    } finally {
      if (filter !== undefined) await box.fill('');
    }
  }

  /**
   * Hover `target` until a hover with text shows (language servers start lazily; markdown renders after the box
   * appears) and return its text. It stays open for a screenshot unless `dismiss`; call dismissTransient() before
   * clicking rows it may cover.
   */
  async hover(target: Locator, options: { attempts?: number; dismiss?: boolean; until?: RegExp } = {}): Promise<string> {
    const hover = this.page.locator('.monaco-hover:visible .hover-contents');
    const attempts = options.attempts ?? 6;
    let last = '';
    for (let i = 0; i < attempts; i++) {
      await this.page.mouse.move(0, 0);
      await target.hover();
      const deadline = Date.now() + 4_000;
      while (Date.now() < deadline) {
        const text = (await hover.allTextContents()).join('\n').trim();
        // Several providers fill one hover (problems first, then language hovers): with `until`, wait for the part
        // the caller is about rather than returning the first text that shows.
        if (text && (!options.until || options.until.test(text))) {
          if (options.dismiss) await this.dismissTransient();
          return text;
        }
        last = text || last;
        await sleep(100);
      }
    }
    throw new Error(`no hover${options.until ? ` matching ${options.until}` : ' with text'} appeared over ${target.toString()} after ${attempts} attempts; last: ${last}`);
  }

  /** Close hovers, menus and quick picks (Escape, pointer to a neutral corner). */
  async dismissTransient(): Promise<void> {
    await this.page.mouse.move(0, 0);
    await this.page.keyboard.press('Escape');
    await this.page.locator('.monaco-hover:visible, .context-view .monaco-menu:visible').first()
      .waitFor({ state: 'hidden', timeout: 2_000 }).catch(() => undefined);
  }

  /** Open a workspace file in an editor via Quick Open. */
  async openFile(relativePath: string): Promise<void> {
    await this.page.keyboard.press('Escape');
    await this.page.keyboard.press('Control+P');
    const input = this.page.locator('.quick-input-widget input');
    await input.waitFor();
    await input.fill(relativePath);
    const row = this.page.locator('.quick-input-widget .monaco-list-row').first();
    await row.waitFor();
    await this.page.keyboard.press('Enter');
    // Several files share a name (every checkpoint has an adapter_config.json): wait for the selected tab.
    await this.page.locator(`.tabs-container .tab[aria-selected="true"][data-resource-name=${cssString(path.basename(relativePath))}]`).first().waitFor();
  }

  /** Save a screenshot as test/e2e/screenshots/<phase>-<name>.png (ignored by git; `dir` overrides) and return its path. */
  async screenshot(name: string, dir = e2eEnv().screenshots): Promise<string> {
    const env = e2eEnv();
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${env.phase}-${name.replace(/[^\w.-]+/g, '-').slice(0, 150)}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }
}

/** The extension's LogOutputChannel as VS Code wrote it to disk ('' until the channel exists). */
export function readExtensionLog(channel = 'LoRA Workbench'): string {
  const logs = path.join(e2eEnv().userDataDir, 'logs');
  const found: string[] = [];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === `${channel}.log`) found.push(p);
    }
  };
  walk(logs);
  return found.sort().map((f) => readFileSync(f, 'utf8')).join('\n');
}

/** Poll the extension log until `pattern` appears; returns the matching line. */
export async function waitForLog(pattern: RegExp, timeout = 30_000): Promise<string> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const line = readExtensionLog().split('\n').find((l) => pattern.test(l));
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`extension log has no line matching ${pattern} after ${timeout / 1000} s:\n${readExtensionLog().slice(-2000)}`);
    await sleep(250);
  }
}

/** package.json with its %key% strings resolved from package.nls.json, as VS Code shows them. */
export function manifest(): { json: Record<string, unknown>; localize(s: string): string } {
  const root = path.resolve(__dirname, '..', '..', '..');
  const json = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  const nls = JSON.parse(readFileSync(path.join(root, 'package.nls.json'), 'utf8')) as Record<string, string>;
  return { json, localize: (s) => s.replace(/^%(.+)%$/, (_m, key: string) => nls[key] ?? s) };
}

/** The palette title of a contributed command ('Category: Title'). */
export function commandTitle(commandId: string): string {
  const { json, localize } = manifest();
  const commands = ((json.contributes as { commands?: { command: string; title: string; category?: string }[] }).commands) ?? [];
  const c = commands.find((x) => x.command === commandId);
  if (!c) throw new Error(`${commandId} is not contributed in package.json`);
  return c.category ? `${localize(c.category)}: ${localize(c.title)}` : localize(c.title);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Accept the merge prompts (base pick, suggested output folder, dtype) with Enter until `done` shows. The prompts come
 * one after another in the same quick-input widget, and on a busy machine an Enter can land while the input box is
 * still validating: so rather than a fixed sequence, press Enter whenever a prompt is open.
 */
export async function acceptMergePrompts(wb: Workbench, adapterLabel: string, done: Locator): Promise<Set<string>> {
  const widget = wb.page.locator('.quick-input-widget');
  // The prompts' titles, for tests of what each prompt says.
  const titles = new Set<string>();
  // On a busy machine the menu click occasionally reaches the command without the tree node; it then asks which
  // adapter to merge (the palette flow): answer it with the same adapter.
  const adapterPick = wb.page.locator('.quick-input-widget input[placeholder*="Merge which checkpoint"]');
  const deadline = Date.now() + 150_000;
  while (!(await done.first().isVisible())) {
    if (Date.now() > deadline) throw new Error('the merge prompts did not lead to a merge');
    if (await widget.isVisible()) {
      const title = (await widget.locator('.quick-input-title').textContent().catch(() => ''))?.trim();
      if (title) titles.add(title);
      if (await adapterPick.isVisible()) {
        await wb.page.keyboard.type(adapterLabel);
        await sleep(500);
      }
      await wb.page.keyboard.press('Enter');
      await sleep(1000);
    } else {
      await sleep(250);
    }
  }
  return titles;
}
