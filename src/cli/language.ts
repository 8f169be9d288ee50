// The CLI's language: English, or the l10n bundle of the language LANGUAGE / LC_ALL / LC_MESSAGES / LANG name
// (zh_CN.UTF-8 -> bundle.l10n.zh-cn.json), looked up next to the package (dist/../l10n or src/cli/../../l10n).
// --json output always stays English, so scripts keep parsing the same messages.

import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Translate } from '../core/text';

/** The bundle's language for a locale value: "zh_CN.UTF-8" -> "zh-cn"; null for English, C and POSIX. */
export function bundleLanguage(env: NodeJS.ProcessEnv): string | null {
  const raw = [env.LANGUAGE?.split(':')[0], env.LC_ALL, env.LC_MESSAGES, env.LANG].find((v) => v && v.trim() !== '');
  if (!raw) return null;
  const tag = raw.split('.')[0]!.replace('_', '-').toLowerCase();
  if (tag === 'c' || tag === 'posix' || tag.startsWith('en')) return null;
  return tag === 'zh' || tag.startsWith('zh-cn') || tag.startsWith('zh-sg') || tag.startsWith('zh-hans') ? 'zh-cn' : tag;
}

/** A Translate over the bundle for `env`'s language, or undefined (English) when there is no such bundle. */
export function cliTranslate(env: NodeJS.ProcessEnv, here: string = __dirname): Translate | undefined {
  const lang = bundleLanguage(env);
  if (!lang) return undefined;
  for (const dir of [path.join(here, '..', 'l10n'), path.join(here, '..', '..', 'l10n')]) {
    const file = path.join(dir, `bundle.l10n.${lang}.json`);
    if (!existsSync(file)) continue;
    try {
      const bundle = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
      return (template) => bundle[template];
    } catch {
      return undefined; // a broken bundle must never stop the CLI: English it is
    }
  }
  return undefined;
}
