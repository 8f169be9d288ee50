// Every user-visible string has its Simplified Chinese translation: each literal passed to vscode.l10n.t in
// src/extension, each core message template (tr`...` in src/core, src/cli, src/engine and src/node, rendered by the extension through the same bundle)
// and each %key% of package.json (static scan, so a string added without a translation fails here).

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { renderText, tr } from '../../src/core/text';

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

/**
 * The keys of the tr`...` tagged templates in `source`: each template's text with its holes numbered {0}, {1}...
 * as core/text's tr builds them at run time; tr`...` nested inside a hole is a key of its own.
 */
export function coreTemplates(source: string): string[] {
  const out: string[] = [];
  const readTemplate = (start: number): number => {
    // start: index just past the opening backtick
    let key = '';
    let hole = 0;
    let i = start;
    while (i < source.length) {
      const c = source[i]!;
      if (c === '\\') {
        key += source[i + 1] === '`' || source[i + 1] === '$' || source[i + 1] === '\\' ? source[i + 1] : c + source[i + 1];
        i += 2;
        continue;
      }
      if (c === '`') {
        out.push(key);
        return i + 1;
      }
      if (c === '$' && source[i + 1] === '{') {
        key += `{${hole++}}`;
        i = readHole(i + 2);
        continue;
      }
      key += c;
      i++;
    }
    throw new Error('unterminated tr`...`');
  };
  const readHole = (start: number): number => {
    let depth = 1;
    let i = start;
    while (i < source.length) {
      const c = source[i]!;
      if (c === '`') {
        const tagged = /(?<![\w$])tr$/.test(source.slice(Math.max(0, i - 3), i));
        i = tagged ? readTemplate(i + 1) : skipTemplate(i + 1);
        continue;
      }
      if (c === "'" || c === '"') {
        i++;
        while (source[i] !== c) i += source[i] === '\\' ? 2 : 1;
        i++;
        continue;
      }
      if (c === '{') depth++;
      if (c === '}' && --depth === 0) return i + 1;
      i++;
    }
    throw new Error('unterminated ${...}');
  };
  const skipTemplate = (start: number): number => {
    let i = start;
    while (source[i] !== '`') {
      if (source[i] === '\\') i += 2;
      else if (source[i] === '$' && source[i + 1] === '{') i = readHole(i + 2);
      else i++;
    }
    return i + 1;
  };
  for (const m of source.matchAll(/(?<![\w$])tr`/g)) {
    // Nested ones are read by their parent; reading them again is harmless (same key).
    readTemplate(m.index + 3);
  }
  return [...new Set(out)];
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

  it('translates every core message template (tr`...`)', () => {
    const missing = new Set<string>();
    for (const f of ['core', 'cli', 'engine', 'node'].flatMap((dir) => sourceFiles(path.join(ROOT, 'src', dir)))) {
      for (const k of coreTemplates(fs.readFileSync(f, 'utf8'))) if (!(k in zh)) missing.add(k);
    }
    if (process.env.LW_L10N_DUMP) fs.writeFileSync(process.env.LW_L10N_DUMP, JSON.stringify([...missing], null, 2));
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
    const src = 'x = tr`${a}: has ${n ? tr`${n} rows` : \'\'} and \\`q\\` ${`plain ${b}`}.`; at`no`;';
    assert.deepEqual(coreTemplates(src).sort(), ['{0} rows', '{0}: has {1} and `q` {2}.'].sort());
  });

  it('builds at run time exactly the keys the scanner reads', () => {
    const n = 3;
    const a = 'f';
    const b = 'g';
    const built = tr`${a}: has ${n ? tr`${n} rows` : ''} and \`q\` ${`plain ${b}`}.`;
    assert.equal(built.template, '{0}: has {1} and `q` {2}.');
    assert.equal((built.args[1] as { template: string }).template, '{0} rows');
    assert.equal(renderText(built), 'f: has 3 rows and `q` plain g.');
    const zhRows: Record<string, string> = { '{0}: has {1} and `q` {2}.': '{0}：有 {1}，以及 `q` {2}。', '{0} rows': '{0} 行' };
    assert.equal(renderText(built, (k) => zhRows[k]), 'f：有 3 行，以及 `q` plain g。');
  });
});
