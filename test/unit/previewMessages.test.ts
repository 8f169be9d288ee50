// The generation-preview message protocol (webview/preview/messages.ts): every message type both ways is accepted in its
// declared shape, and malformed, out-of-range or foreign messages are rejected; plus divergence and the Markdown export.

import * as assert from 'node:assert/strict';
import { toMarkdown } from '../../src/extension/preview/markdown';
import {
  DEFAULT_SETTINGS, LABEL_KEYS, fidelityLine, firstDivergence, formatNats, parseHostMessage, parseWebviewMessage, validSettings,
  type HostToWebview, type PreviewLabels, type WebviewToHost,
} from '../../webview/preview/messages';

const labels = Object.fromEntries(LABEL_KEYS.map((k) => [k, `L:${k}`])) as unknown as PreviewLabels;
const settings = { ...DEFAULT_SETTINGS, prompt: 'Once upon a time', maxNewTokens: 40 };
const columns = [
  { id: 'base', kind: 'base', title: 'Base', detail: 'models/stories260K', scale: 1, removable: false },
  { id: 'a1', kind: 'adapter', title: 'Base + checkpoint-200', detail: 'runs/stories-lora/checkpoint-200', scale: 1, removable: false },
  { id: 'm2', kind: 'model', title: 'stories260K-q8_0.gguf', detail: 'models/stories260K-q8_0.gguf', scale: 1, removable: true, reference: 'base' },
] as const;

describe('preview messages: webview -> host', () => {
  const valid: WebviewToHost[] = [
    { type: 'ready' },
    { type: 'run', settings, scales: [{ columnId: 'a1', scale: 0.5 }] },
    { type: 'stop' },
    { type: 'addColumn' },
    { type: 'addModels' },
    { type: 'setReference', columnId: 'm2', referenceId: 'a1' },
    { type: 'removeColumn', columnId: 'a2' },
    { type: 'setScale', columnId: 'a1', scale: 2 },
    { type: 'copy', columnId: 'base' },
    { type: 'openMarkdown' },
    { type: 'fix', actionId: 'candidate-0' },
    { type: 'manageTrust' },
    { type: 'retry' },
  ];
  for (const m of valid) {
    it(`accepts ${m.type}`, () => {
      assert.deepEqual(parseWebviewMessage(JSON.parse(JSON.stringify(m))), m);
    });
  }

  const bad: Array<[string, unknown]> = [
    ['null', null],
    ['a string', 'run'],
    ['an array', [{ type: 'run' }]],
    ['no type', { settings }],
    ['an unknown type', { type: 'deleteEverything' }],
    ['a host-side type', { type: 'init' }],
    ['extra keys on a bare message', { type: 'stop', force: true }],
    ['run without settings', { type: 'run', scales: [] }],
    ['run without scales', { type: 'run', settings }],
    ['scale above 2', { type: 'run', settings, scales: [{ columnId: 'a1', scale: 2.5 }] }],
    ['negative scale', { type: 'setScale', columnId: 'a1', scale: -0.1 }],
    ['NaN scale', { type: 'setScale', columnId: 'a1', scale: Number.NaN }],
    ['scale as a string', { type: 'setScale', columnId: 'a1', scale: '1' }],
    ['column id with a path', { type: 'copy', columnId: '../../etc/passwd' }],
    ['empty column id', { type: 'removeColumn', columnId: '' }],
    ['fix without an id', { type: 'fix' }],
    ['setReference without a reference', { type: 'setReference', columnId: 'm2' }],
    ['setReference to a path', { type: 'setReference', columnId: 'm2', referenceId: '/models/x' }],
    ['fractional max tokens', { type: 'run', settings: { ...settings, maxNewTokens: 1.5 }, scales: [] }],
    ['zero max tokens', { type: 'run', settings: { ...settings, maxNewTokens: 0 }, scales: [] }],
    ['huge max tokens', { type: 'run', settings: { ...settings, maxNewTokens: 1e9 }, scales: [] }],
    ['negative temperature', { type: 'run', settings: { ...settings, temperature: -1 }, scales: [] }],
    ['infinite temperature', { type: 'run', settings: { ...settings, temperature: Infinity }, scales: [] }],
    ['top-p 0', { type: 'run', settings: { ...settings, topP: 0 }, scales: [] }],
    ['top-p above 1', { type: 'run', settings: { ...settings, topP: 1.01 }, scales: [] }],
    ['negative seed', { type: 'run', settings: { ...settings, seed: -1 }, scales: [] }],
    ['seed above 2^32', { type: 'run', settings: { ...settings, seed: 2 ** 32 }, scales: [] }],
    ['unknown format', { type: 'run', settings: { ...settings, format: 'llama3' }, scales: [] }],
    ['prompt as a number', { type: 'run', settings: { ...settings, prompt: 42 }, scales: [] }],
    ['oversized prompt', { type: 'run', settings: { ...settings, prompt: 'x'.repeat(200_001) }, scales: [] }],
    ['settings with an extra key', { type: 'run', settings: { ...settings, adapters: ['/tmp/evil'] }, scales: [] }],
    ['settings missing a key', { type: 'run', settings: { ...settings, seed: undefined }, scales: [] }],
  ];
  for (const [what, m] of bad) {
    it(`rejects ${what}`, () => {
      assert.equal(parseWebviewMessage(m), null);
    });
  }

  it('validSettings accepts the defaults and rejects a settings object from an older shape', () => {
    assert.deepEqual(validSettings(DEFAULT_SETTINGS), DEFAULT_SETTINGS);
    assert.equal(validSettings({ prompt: 'x' }), null);
    assert.equal(validSettings(undefined), null);
  });
});

describe('preview messages: host -> webview', () => {
  const stats = { ttftMs: 12.5, tokensPerSecond: 850.2, count: 40 };
  const valid: HostToWebview[] = [
    { type: 'init', title: 'Preview: checkpoint-200', labels, settings, columns, recentPrompts: ['Once upon a time'], chatTemplate: false, trusted: true, isMac: false },
    { type: 'columns', columns },
    { type: 'status', state: 'loading', message: 'Loading', progress: { done: 3, total: 10 } },
    { type: 'status', state: 'ready', message: 'Ready', progress: null },
    { type: 'diagnosis', diagnosis: { title: 'Base not found', problems: [{ severity: 'error', code: 'base-model-foreign-path', message: 'recorded on Colab' }], actions: [{ id: 'choose-base', title: 'Choose...' }] } },
    { type: 'diagnosis', diagnosis: null },
    { type: 'recentPrompts', prompts: ['a', 'b'] },
    { type: 'chatTemplate', available: true },
    { type: 'runStarted', runId: 1, columnIds: ['base', 'a1'], greedy: true },
    { type: 'columnStarted', runId: 1, columnId: 'base' },
    { type: 'tokens', runId: 1, columnId: 'base', tokens: [{ id: 29892, text: ',' }, { id: 727, text: ' there' }] },
    { type: 'columnDone', runId: 1, columnId: 'base', ids: [29892, 727], text: ', there', stopReason: 'max-tokens', stats },
    { type: 'columnError', runId: 1, columnId: 'a1', message: 'adapter unreadable' },
    { type: 'fidelity', runId: 1, columnId: 'm2', reference: 'Model', result: { positions: 40, agreement: 0.975, meanKl: 0.0123, firstDivergence: 13 }, message: '' },
    { type: 'fidelity', runId: 1, columnId: 'm2', reference: 'Model', result: { positions: 0, agreement: null, meanKl: null, firstDivergence: null }, message: '' },
    { type: 'fidelity', runId: 1, columnId: 'm2', reference: 'Model', result: null, message: 'different vocabularies' },
    { type: 'runDone', runId: 1, cancelled: false },
    { type: 'notice', message: 'Copied' },
  ];
  for (const m of valid) {
    it(`accepts ${m.type}${m.type === 'status' ? ` (${m.state})` : ''}`, () => {
      assert.deepEqual(parseHostMessage(JSON.parse(JSON.stringify(m))), m);
    });
  }

  const { labels: _l, ...initWithoutLabels } = valid[0] as Extract<HostToWebview, { type: 'init' }>;
  const bad: Array<[string, unknown]> = [
    ['undefined', undefined],
    ['an unknown type', { type: 'eval', code: 'alert(1)' }],
    ['init without labels', initWithoutLabels],
    ['init with a missing label', { ...valid[0], labels: { ...labels, run: undefined } }],
    ['init with trusted as a string', { ...valid[0], trusted: 'yes' }],
    ['a column of an unknown kind', { type: 'columns', columns: [{ ...columns[0], kind: 'merged' }] }],
    ['a column whose reference is not an id', { type: 'columns', columns: [{ ...columns[2], reference: 'a b' }] }],
    ['an unknown panel state', { type: 'status', state: 'exploded', message: '', progress: null }],
    ['progress without a total', { type: 'status', state: 'loading', message: '', progress: { done: 1 } }],
    ['a diagnosis problem of unknown severity', { type: 'diagnosis', diagnosis: { title: 't', problems: [{ severity: 'fatal', code: 'c', message: 'm' }], actions: [] } }],
    ['a fix action with a bad id', { type: 'diagnosis', diagnosis: { title: 't', problems: [], actions: [{ id: 'a b', title: 'x' }] } }],
    ['tokens without a run id', { type: 'tokens', columnId: 'base', tokens: [] }],
    ['a negative token id', { type: 'tokens', runId: 1, columnId: 'base', tokens: [{ id: -1, text: 'x' }] }],
    ['token text as a number', { type: 'tokens', runId: 1, columnId: 'base', tokens: [{ id: 1, text: 5 }] }],
    ['an unknown stop reason', { type: 'columnDone', runId: 1, columnId: 'base', ids: [], text: '', stopReason: 'tired', stats }],
    ['stats with NaN', { type: 'columnDone', runId: 1, columnId: 'base', ids: [], text: '', stopReason: 'eos', stats: { ...stats, tokensPerSecond: Number.NaN } }],
    ['a fractional token count', { type: 'columnDone', runId: 1, columnId: 'base', ids: [], text: '', stopReason: 'eos', stats: { ...stats, count: 1.5 } }],
    ['runDone without cancelled', { type: 'runDone', runId: 1 }],
    ['chatTemplate without available', { type: 'chatTemplate' }],
    ['fidelity with agreement above 1', { type: 'fidelity', runId: 1, columnId: 'm2', reference: 'Model', result: { positions: 4, agreement: 1.5, meanKl: 0, firstDivergence: null }, message: '' }],
    ['fidelity with a negative KL', { type: 'fidelity', runId: 1, columnId: 'm2', reference: 'Model', result: { positions: 4, agreement: 1, meanKl: -0.1, firstDivergence: null }, message: '' }],
    ['fidelity without a message', { type: 'fidelity', runId: 1, columnId: 'm2', reference: 'Model', result: null }],
  ];
  for (const [what, m] of bad) {
    it(`rejects ${what}`, () => {
      assert.equal(parseHostMessage(m), null);
    });
  }
});

describe('preview: the fidelity line of a model column', () => {
  const L = {
    fidelity: 'vs {0}: {1}% greedy agreement, mean KL {2} nats, first divergence at token {3}',
    fidelityAgrees: 'vs {0}: {1}% greedy agreement, mean KL {2} nats, no divergence',
    fidelityNothing: 'vs {0}: no generated tokens to compare',
    fidelityTruncated: '(first {0} tokens)',
  };
  it('shows agreement, mean KL and the 1-based first divergence', () => {
    assert.equal(fidelityLine(L, 'Model', { positions: 40, agreement: 0.975, meanKl: 0.01234, firstDivergence: 13 }),
      'vs Model: 97.5% greedy agreement, mean KL 0.012 nats, first divergence at token 14');
  });
  it('never rounds a disagreement up to 100%, and says when nothing diverged', () => {
    assert.match(fidelityLine(L, 'Model', { positions: 3000, agreement: 2999 / 3000, meanKl: 0.2, firstDivergence: 2000 }), /: 99\.9% /);
    assert.match(fidelityLine(L, 'Model', { positions: 100, agreement: 0.57, meanKl: 0.2, firstDivergence: 2 }), /: 57% /);
    assert.equal(fidelityLine(L, 'Base', { positions: 8, agreement: 1, meanKl: 0, firstDivergence: null }), 'vs Base: 100% greedy agreement, mean KL 0 nats, no divergence');
    assert.equal(fidelityLine(L, 'Base', { positions: 0, agreement: null, meanKl: null, firstDivergence: null }), 'vs Base: no generated tokens to compare');
  });
  it('says when only the first tokens were compared', () => {
    assert.equal(fidelityLine(L, 'Model', { positions: 441, agreement: 1, meanKl: 0, firstDivergence: null, truncated: true }),
      'vs Model: 100% greedy agreement, mean KL 0 nats, no divergence (first 441 tokens)');
  });
  it('formats nats with two significant digits, tiny ones as exponents', () => {
    assert.deepEqual([0, 0.0123, 1.26, 0.00042].map(formatNats), ['0', '0.012', '1.3', '4.2e-4']);
  });
});

describe('preview: first divergence from the base column', () => {
  it('is null when both generated the same tokens', () => {
    assert.equal(firstDivergence([1, 2, 3], [1, 2, 3]), null);
    assert.equal(firstDivergence([], []), null);
  });
  it('is the index of the first different token', () => {
    assert.equal(firstDivergence([1, 2, 3, 4], [1, 2, 9, 4]), 2);
    assert.equal(firstDivergence([5], [6]), 0);
  });
  it('is where the shorter one ended when one is a prefix of the other (an earlier EOS is a divergence)', () => {
    assert.equal(firstDivergence([1, 2, 3], [1, 2]), 2);
    assert.equal(firstDivergence([1], [1, 2, 3]), 1);
  });
});

describe('preview: Open as Markdown', () => {
  const md = toMarkdown({
    title: 'Preview: checkpoint-200',
    basePath: 'models/stories260K',
    settings: { ...settings, system: 'Be brief.' },
    labels,
    columns: [
      { title: 'Base', detail: '', scale: null, output: { text: ', there was a girl named Lily.', stopReason: 'max-tokens', stats: { ttftMs: 3.2, tokensPerSecond: 900, count: 9 }, error: null } },
      { title: 'Base + checkpoint-200', detail: 'runs/stories-lora/checkpoint-200', scale: 0.5, output: { text: 'code: ```js\nx\n```', stopReason: 'eos', stats: { ttftMs: 4, tokensPerSecond: 800.25, count: 12 }, error: null } },
      { title: 'Base + stories-dora', detail: 'runs/stories-dora', scale: 1, output: null },
      { title: 'stories260K-q8_0.gguf', detail: 'models/stories260K-q8_0.gguf', scale: null, output: { text: ', there was a girl named Lily.', stopReason: 'max-tokens', stats: { ttftMs: 2, tokensPerSecond: 1900, count: 9 }, error: null, fidelity: 'vs Base: 100% greedy agreement, mean KL 1.2e-4 nats, no divergence' } },
    ],
  });
  it('has the prompt, the system prompt, every setting and every column', () => {
    assert.match(md, /^# Preview: checkpoint-200$/m);
    assert.match(md, /```text\nOnce upon a time\n```/);
    assert.match(md, /```text\nBe brief\.\n```/);
    for (const row of ['| L:maxNewTokens | 40 |', '| L:temperature | 0 (L:greedy) |', '| L:seed | 42 |', '| L:format | raw |', '| L:topP | 1 |']) assert.ok(md.includes(row), row);
    assert.match(md, /^## Base$/m);
    assert.match(md, /, there was a girl named Lily\./);
    assert.match(md, /^## Base \+ stories-dora$/m);
    assert.match(md, /^## stories260K-q8_0\.gguf\n\n`models\/stories260K-q8_0\.gguf` · 9 L:tokens.*\n\n> vs Base: 100% greedy agreement, mean KL 1\.2e-4 nats, no divergence$/m);
    assert.match(md, /L:scale 0\.5 · 12 L:tokens · L:ttft 4 L:ms · 800\.3 L:tokensPerSecond · eos/);
  });
  it('fences model output with more backticks than it contains, so the output cannot end the block', () => {
    assert.ok(md.includes('````text\ncode: ```js\nx\n```\n````'), md);
  });
});
