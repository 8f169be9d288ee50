// "Open as Markdown": the prompt, the settings and every column's output of the last run as one Markdown document,
// so a comparison can be saved, diffed or pasted into a report. Pure string building (no vscode), unit-tested.

import type { PreviewLabels, PreviewSettings } from '../../../webview/preview/messages';

export interface MarkdownColumn {
  readonly title: string;
  readonly detail: string;
  readonly scale: number | null;
  readonly output: { readonly text: string; readonly stopReason: string | null; readonly stats: { readonly ttftMs: number; readonly tokensPerSecond: number; readonly count: number } | null; readonly error: string | null;
    /** A model column's fidelity line against the reference column. */
    readonly fidelity?: string | null;
  } | null;
}

export interface MarkdownInput {
  readonly title: string;
  readonly basePath: string;
  readonly settings: PreviewSettings;
  readonly columns: readonly MarkdownColumn[];
  readonly labels: PreviewLabels;
}

/** A fence longer than any backtick run inside `text`, so model output never closes the block early. */
function fence(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  return '`'.repeat(longest + 1);
}

function block(text: string): string {
  const f = fence(text);
  return `${f}text\n${text}\n${f}`;
}

export function toMarkdown(m: MarkdownInput): string {
  const s = m.settings;
  const L = m.labels;
  const lines: string[] = [`# ${m.title}`, ''];
  if (m.basePath) lines.push(`Base: \`${m.basePath}\``, '');
  lines.push(`## ${L.prompt}`, '', block(s.prompt), '');
  if (s.system) lines.push(`**${L.system}**`, '', block(s.system), '');
  lines.push(`## ${L.parameters}`, '', '| | |', '|---|---|',
    `| ${L.format} | ${s.format} |`,
    `| ${L.maxNewTokens} | ${s.maxNewTokens} |`,
    `| ${L.temperature} | ${s.temperature}${s.temperature === 0 ? ` (${L.greedy})` : ''} |`,
    `| ${L.topK} | ${s.topK} |`,
    `| ${L.topP} | ${s.topP} |`,
    `| ${L.repetitionPenalty} | ${s.repetitionPenalty} |`,
    `| ${L.seed} | ${s.seed} |`, '');
  for (const c of m.columns) {
    lines.push(`## ${c.title}`, '');
    const meta: string[] = [];
    if (c.detail) meta.push(`\`${c.detail}\``);
    if (c.scale !== null) meta.push(`${L.scale} ${c.scale}`);
    const st = c.output?.stats;
    if (st) meta.push(`${st.count} ${L.tokens}`, `${L.ttft} ${st.ttftMs.toFixed(0)} ${L.ms}`, `${st.tokensPerSecond.toFixed(1)} ${L.tokensPerSecond}`);
    if (c.output?.stopReason) meta.push(c.output.stopReason);
    if (meta.length) lines.push(meta.join(' · '), '');
    if (c.output?.fidelity) lines.push(`> ${c.output.fidelity}`, '');
    if (c.output?.error) lines.push(`> ${L.error}: ${c.output.error}`, '');
    lines.push(block(c.output?.text ?? ''), '');
  }
  return lines.join('\n');
}
