// npm run soak: the full soak run (200 generations, 20 load/unload cycles, 50 merges) on the built engine worker
// (dist/engineWorker.js, what ships), printing the samples and rewriting the soak table in test/RELIABILITY.md.
// Exit 1 when the run is not flat within the limits of test/soak/soak.ts. SOAK_GENERATIONS / SOAK_CYCLES /
// SOAK_MERGES override the counts (the table is then left as it is).

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assertFreshBuild } from '../support/freshBuild';
import { LIMITS, runSoak, sampleTable, type SoakReport } from './soak';

const ROOT = path.join(__dirname, '..', '..');
const WORKER = path.join(ROOT, 'dist', 'engineWorker.js');
const DOC = path.join(ROOT, 'test', 'RELIABILITY.md');
const BEGIN = '<!-- soak table: written by npm run soak -->';
const END = '<!-- end soak table -->';

function count(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v >= 0 ? v : fallback;
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

function summary(r: SoakReport, load: string): string {
  const c = r.counts;
  const growth = (a: number, b: number): string => `${b - a >= 0 ? '+' : ''}${mib(b - a)} MiB`;
  return [
    `Last run: ${new Date().toISOString().slice(0, 10)}, \`npm run soak\` (niced), Node ${process.version}, ${os.availableParallelism()} cores, load average before the run ${load}; ${r.seconds.toFixed(0)} s.`,
    `Counted after warm-up: ${c.generations} generations (${c.tokens} tokens; ${c.cancelled} stopped after 8 tokens, ${c.stopStrings} ended by a stop string), ${c.loadCycles} load/unload cycles of qwen3-tiny, ${c.merges} merges.`,
    `From warm-up to the end: RSS ${growth(r.warm.rssBytes, r.end.rssBytes)} (limit +${mib(LIMITS.rssGrowthBytes)} MiB), worker heap ${growth(r.warm.worker.heapUsedBytes, r.end.worker.heapUsedBytes)} (limit +${mib(LIMITS.heapGrowthBytes)} MiB), ` +
      `WASM memories ${r.warm.worker.wasmMemories} -> ${r.end.worker.wasmMemories}, helper threads ${r.warm.worker.poolThreads} -> ${r.end.worker.poolThreads}, handles ${r.warm.handles} -> ${r.end.handles}: ${r.failures.length ? `NOT FLAT: ${r.failures.join('; ')}` : 'flat'}.`,
    '',
    sampleTable(r),
  ].join('\n');
}

function writeTable(text: string): void {
  const doc = fs.readFileSync(DOC, 'utf8');
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${DOC} has no soak table markers (${BEGIN} ... ${END})`);
  fs.writeFileSync(DOC, `${doc.slice(0, a + BEGIN.length)}\n${text}\n${doc.slice(b)}`);
}

async function main(): Promise<void> {
  assertFreshBuild(WORKER);
  const load = os.loadavg().map((l) => l.toFixed(2)).join(', ');
  const full = !['SOAK_GENERATIONS', 'SOAK_CYCLES', 'SOAK_MERGES'].some((k) => process.env[k] !== undefined);
  const report = await runSoak({
    generations: count('SOAK_GENERATIONS', 200), loadCycles: count('SOAK_CYCLES', 20), merges: count('SOAK_MERGES', 50),
    workerPath: WORKER, log: (line) => console.log(line),
  });
  const text = summary(report, load);
  console.log(`\n${text}`);
  if (full) writeTable(text);
  if (report.failures.length) process.exit(1);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(1);
});
