// The installed .vsix has every file its manifest points at (a .vscodeignore rule too many shows up here, not in a
// user's bug report), and nothing from the development tree that .vscodeignore keeps out.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

const EXTENSION_ID = 'lora-workbench.lora-workbench';

/** Relative file paths in package.json: main, icons, jsonValidation schemas, l10n. Theme icons ($(name)) and URLs are not files. */
function referencedFiles(pkg: Record<string, unknown>): string[] {
  const files: string[] = [];
  const add = (p: unknown): void => {
    if (typeof p === 'string' && !p.startsWith('$(') && !/^[a-z]+:/i.test(p)) files.push(p);
    else if (p && typeof p === 'object') for (const v of Object.values(p as Record<string, unknown>)) add(v); // {light, dark}
  };
  add(pkg.main);
  add(pkg.icon);
  const contributes = (pkg.contributes ?? {}) as Record<string, unknown>;
  for (const containers of Object.values((contributes.viewsContainers ?? {}) as Record<string, { icon?: unknown }[]>)) {
    for (const c of containers) add(c.icon);
  }
  for (const views of Object.values((contributes.views ?? {}) as Record<string, { icon?: unknown }[]>)) for (const v of views) add(v.icon);
  for (const c of (contributes.commands ?? []) as { icon?: unknown }[]) add(c.icon);
  for (const j of (contributes.jsonValidation ?? []) as { url?: unknown }[]) add(j.url);
  return files;
}

describe('packaging (the installed .vsix)', () => {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);

  beforeEach(function () {
    assert.ok(ext, `${EXTENSION_ID} is not loaded`);
    // Only an installed .vsix has this file; test-electron loads the development tree, where there is nothing to check.
    if (!fs.existsSync(path.join(ext.extensionPath, '.vsixmanifest'))) this.skip();
  });

  it('contains every file package.json references, the engine worker and the zh-cn bundle', () => {
    assert.ok(ext);
    const pkg = ext.packageJSON as Record<string, unknown>;
    const files = [...referencedFiles(pkg), 'dist/engineWorker.js', 'package.nls.json', 'package.nls.zh-cn.json',
      path.join(String(pkg.l10n ?? 'l10n'), 'bundle.l10n.zh-cn.json'), 'LICENSE.txt', 'readme.md']; // vsce's names for LICENSE and README.md
    const missing = files.filter((f) => !fs.existsSync(path.join(ext.extensionPath, f)));
    assert.deepEqual(missing, [], `missing from ${ext.extensionPath}`);
  });

  it('ships no sources, tests, demo data or node_modules', () => {
    assert.ok(ext);
    const unwanted = ['src', 'test', 'demo', 'bench', 'node_modules', 'scripts', 'tsconfig.json', '.ci'];
    const present = unwanted.filter((f) => fs.existsSync(path.join(ext.extensionPath, f)));
    assert.deepEqual(present, []);
  });
});
