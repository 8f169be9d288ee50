// The CLI follows LANG for its human-readable output (core messages through the l10n bundle); --json stays English.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundleLanguage, cliTranslate } from '../../src/cli/language';
import type { Translate } from '../../src/core/text';
import { runCliCaptured } from './cliHarness';

const cli = (args: string[], translate?: Translate): ReturnType<typeof runCliCaptured> => runCliCaptured(args, { translate });

describe('CLI language (LANG)', () => {
  it('maps locale variables to a bundle language, English and C to none', () => {
    assert.equal(bundleLanguage({ LANG: 'zh_CN.UTF-8' }), 'zh-cn');
    assert.equal(bundleLanguage({ LANGUAGE: 'zh_CN:en', LANG: 'en_US.UTF-8' }), 'zh-cn');
    assert.equal(bundleLanguage({ LC_ALL: 'C.UTF-8', LANG: 'zh_CN.UTF-8' }), null);
    assert.equal(bundleLanguage({ LANG: 'en_GB.UTF-8' }), null);
    assert.equal(bundleLanguage({}), null);
    assert.equal(cliTranslate({ LANG: 'en_US.UTF-8' }), undefined);
    assert.equal(cliTranslate({ LANG: 'fr_FR.UTF-8' }), undefined, 'no French bundle: English');
  });

  it('prints core messages in Chinese under a Chinese LANG, and keeps --json English', async () => {
    const translate = cliTranslate({ LANG: 'zh_CN.UTF-8' }, path.join(__dirname, '..', '..', 'src', 'cli'));
    assert.ok(translate, 'the zh-cn bundle is found from src/cli');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lw-lang-'));
    try {
      // A scan finding (a Git LFS pointer instead of weights) and a merge error (no adapter weights).
      fs.writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 8, lora_alpha: 16, target_modules: ['q_proj'], base_model_name_or_path: null }));
      fs.writeFileSync(path.join(dir, 'adapter_model.safetensors'), 'version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1000\n');
      const zh = await cli(['scan', dir], translate);
      const en = await cli(['scan', dir]);
      assert.match(en.out, /Git LFS pointer/);
      assert.match(zh.out, /\[lfs-pointer\] .*[\u4e00-\u9fff]/, zh.out);
      const json = await cli(['scan', dir, '--json'], translate);
      assert.match(json.out, /Git LFS pointer/);
      // An error of the command itself (printed by the CLI's error funnel).
      const missing = await cli(['scan', path.join(dir, 'gone')], translate);
      assert.equal(missing.code, 2);
      assert.match(missing.err, /gone: [\u4e00-\u9fff]/, missing.err);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
