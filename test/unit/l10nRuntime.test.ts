// The messages users really get are fully translated: every diagnosis of the demo workspace and every health finding of
// the broken-checkpoint fixture tree is a core Text, and each template in it (nested fragments too) has a zh-cn entry.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { diagnoseAdapter } from '../../src/core/basemodel/diagnose';
import { allHealth, scanCheckpoints } from '../../src/core/checkpoints/scan';
import { isText, renderText, type Text, type TextArg } from '../../src/core/text';
import { absolutePath, NodeFs } from '../../src/node/nodeFs';

const ROOT = path.join(__dirname, '..', '..');
const zh = JSON.parse(fs.readFileSync(path.join(ROOT, 'l10n', 'bundle.l10n.zh-cn.json'), 'utf8')) as Record<string, string>;

/** Templates in `t` (and its nested args) that have words but no translation. */
function untranslated(t: TextArg): string[] {
  if (!isText(t)) return [];
  const own = /[A-Za-z]{2,}/.test(t.template.replace(/\{\d+\}/g, '')) && !(t.template in zh) ? [t.template] : [];
  return [...own, ...t.args.flatMap(untranslated)];
}

function adapterConfigs(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? adapterConfigs(p) : e.name === 'adapter_config.json' ? [p] : [];
  });
}

describe('localisation of the messages users get (zh-cn)', () => {
  it('translates every diagnosis of the demo workspace, with and without its base', async () => {
    const demo = absolutePath(path.join(ROOT, 'demo'));
    const texts: Text[] = [];
    for (const cfg of adapterConfigs(demo)) {
      const d = await diagnoseAdapter(new NodeFs(), cfg, { workspaceFolders: [demo], candidates: 'always' });
      // The same adapter against a folder that is not a model: the base-broken messages.
      const broken = await diagnoseAdapter(new NodeFs(), cfg, { workspaceFolders: [demo], base: path.join(demo, 'runs') });
      for (const p of [...d.problems, ...broken.problems]) {
        assert.ok(p.text, `${cfg}: [${p.code}] has no Text: ${p.message}`);
        texts.push(p.text);
      }
    }
    assert.ok(texts.length >= 10, `${texts.length} messages`);
    assert.deepEqual([...new Set(texts.flatMap(untranslated))], []);
    // Rendered in Chinese, each message really is Chinese.
    for (const t of texts) assert.match(renderText(t, (k) => zh[k]), /[\u4e00-\u9fff]/, renderText(t));
  });

  it('translates every health finding of the broken-checkpoint fixture tree', async () => {
    const tree = absolutePath(path.join(ROOT, 'test', 'fixtures', 'checkpoints', 'tree'));
    const result = await scanCheckpoints(new NodeFs(), [tree]);
    const health = allHealth(result);
    assert.ok(health.length >= 10, `${health.length} findings`);
    const missingText = health.filter((h) => !h.text).map((h) => `[${h.code}] ${h.message}`);
    assert.deepEqual(missingText, []);
    assert.deepEqual([...new Set(health.flatMap((h) => untranslated(h.text!)))], []);
  });
});
