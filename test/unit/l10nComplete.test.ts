// Every user-visible string has its Simplified Chinese translation: each literal passed to vscode.l10n.t in
// src/extension and each %key% of package.json (static scan, so a string added without a translation fails here).

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : /\.ts$/.test(e.name) ? [p] : [];
  });
}

/** The string literal arguments of l10n.t(...) calls ('...' or "..."; template literals are not allowed by l10n-dev). */
export function l10nLiterals(source: string): string[] {
  const out: string[] = [];
  const re = /l10n\.t\(\s*(?:'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)")/g;
  for (const m of source.matchAll(re)) {
    const raw = m[1] ?? m[2] ?? '';
    out.push(raw.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)));
  }
  return out;
}

describe('localisation completeness (zh-cn)', () => {
  const zh = JSON.parse(fs.readFileSync(path.join(ROOT, 'l10n', 'bundle.l10n.zh-cn.json'), 'utf8')) as Record<string, string>;

  it('translates every vscode.l10n.t string of the extension', () => {
    const missing = new Set<string>();
    for (const f of sourceFiles(path.join(ROOT, 'src', 'extension'))) {
      for (const s of l10nLiterals(fs.readFileSync(f, 'utf8'))) if (!(s in zh)) missing.add(`${path.relative(ROOT, f)}: ${s}`);
    }
    assert.deepEqual([...missing], []);
  });

  it('translates every %key% of package.json', () => {
    const en = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.nls.json'), 'utf8')) as Record<string, string>;
    const zhPkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.nls.zh-cn.json'), 'utf8')) as Record<string, string>;
    const keys = [...fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8').matchAll(/"%([^%"]+)%"/g)].map((m) => m[1]!);
    assert.deepEqual(keys.filter((k) => !(k in en)), [], 'keys without an English text');
    assert.deepEqual(keys.filter((k) => !(k in zhPkg)), [], 'keys without a Chinese text');
  });

  it('finds the literals it scans for (the scanner itself works)', () => {
    assert.deepEqual(l10nLiterals(`x = vscode.l10n.t('It\\'s {0}', a); y = vscode.l10n.t("two")`), ["It's {0}", 'two']);
  });
});
