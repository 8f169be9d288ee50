// `npm run fuzz [target...]`: every target (or those named) for FUZZ_SECONDS each (default 90), and longer for a target
// still short of MIN_EXECUTIONS then (the slowest, tokenizer-config, makes ~700 executions/s on 2 quiet cores: it runs
// until 100,000, at most 5 x FUZZ_SECONDS in all), then its rows of the table in
// test/RELIABILITY.md between the fuzz markers. A failing input is saved, shrunk, under test/fuzz/regressions/<target>/,
// to be fixed and committed as a regression test (the smoke test replays them). Exit 1 on any failure.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlockCoverage } from './coverage';
import { fuzz, type FuzzReport, type FuzzTarget } from './harness';
import { fuzzTargets } from './targets';

const RELIABILITY = path.join(__dirname, '..', 'RELIABILITY.md');
const BEGIN = '<!-- fuzz table: written by npm run fuzz -->';
const END = '<!-- end fuzz table -->';

function saveFailure(r: FuzzReport): string | null {
  if (!r.failure) return null;
  const dir = path.join(__dirname, 'regressions', r.target);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${r.failure.kind}-${createHash('sha256').update(r.failure.input).digest('hex').slice(0, 12)}.bin`);
  fs.writeFileSync(file, r.failure.input);
  return file;
}

const MIN_EXECUTIONS = 100_000;

/** FUZZ_SECONDS of a target, then more inputs (a new seed) until MIN_EXECUTIONS, within 5 x FUZZ_SECONDS in all. */
async function fuzzAtLeast(t: FuzzTarget, seconds: number): Promise<FuzzReport> {
  const first = await fuzz(t, { timeMs: seconds * 1000 });
  if (first.failure || first.executions >= MIN_EXECUTIONS) return first;
  const more = await fuzz(t, { timeMs: seconds * 4000, numRuns: MIN_EXECUTIONS - first.executions, seed: Date.now() ^ 0x5eed });
  return {
    ...more, executions: first.executions + more.executions, ms: first.ms + more.ms,
  };
}

/** A fuzz report and the code blocks under src/ its inputs executed (see coverage.ts). */
type CoveredReport = FuzzReport & { readonly blocks: number };

/** One table row per target; a run of some targets replaces their rows and keeps the others'. */
function table(previous: string, reports: readonly CoveredReport[], seconds: number, what: ReadonlyMap<string, string>): string {
  const rows = new Map<string, string>();
  for (const line of previous.split('\n')) {
    const name = /^\| ([a-z0-9-]+) \|/.exec(line)?.[1];
    if (name && name !== 'Target') rows.set(name, line);
  }
  for (const r of reports) rows.set(r.target, `| ${r.target} | ${what.get(r.target)} | ${r.executions.toLocaleString('en-US')} | ${(r.ms / 1000).toFixed(0)} s | ${r.blocks.toLocaleString('en-US')} | ${r.crashes} | ${r.hangs} | ${r.memory} |`);
  const order = [...what.keys()];
  return [
    BEGIN,
    `Last run: ${new Date().toISOString().slice(0, 10)}, \`FUZZ_SECONDS=${seconds} npm run fuzz\`${reports.length < what.size ? ` (${reports.map((r) => r.target).join(', ')}; the other rows from earlier runs)` : ''}, Node ${process.version}.`,
    '',
    '| Target | Parses | Executions | Time | Code blocks covered | Crashes | Hangs | Memory |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...[...rows].sort(([a], [b]) => order.indexOf(a) - order.indexOf(b)).map(([, row]) => row),
    END,
  ].join('\n');
}

async function main(): Promise<number> {
  const seconds = Number(process.env.FUZZ_SECONDS ?? 90);
  const only = process.argv.slice(2);
  const all = await fuzzTargets();
  const targets = all.filter((t) => only.length === 0 || only.includes(t.name));
  const reports: CoveredReport[] = [];
  const coverage = new BlockCoverage();
  await coverage.start();
  for (const t of targets) {
    await coverage.coveredBlocks(); // resets the counters: what follows is this target's
    const r = { ...(await fuzzAtLeast(t, seconds)), blocks: await coverage.coveredBlocks() };
    reports.push(r);
    const saved = saveFailure(r);
    console.log(`${t.name}: ${r.executions} executions, ${r.blocks} blocks covered in ${(r.ms / 1000).toFixed(1)} s${r.failure ? ` - ${r.failure.kind}: ${r.failure.message} (input saved to ${saved})` : ''}`);
  }
  await coverage.stop();
  const doc = fs.readFileSync(RELIABILITY, 'utf8');
  const i = doc.indexOf(BEGIN);
  const j = doc.indexOf(END);
  if (i < 0 || j < 0) throw new Error(`${RELIABILITY}: the fuzz table markers are missing`);
  const what = new Map(all.map((t) => [t.name, t.what]));
  fs.writeFileSync(RELIABILITY, doc.slice(0, i) + table(doc.slice(i, j), reports, seconds, what) + doc.slice(j + END.length));
  return reports.some((r) => r.failure) ? 1 : 0;
}

main().then((code) => { process.exitCode = code; }, (err: unknown) => { console.error(err); process.exitCode = 2; });
