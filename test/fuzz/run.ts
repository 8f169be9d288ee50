// `npm run fuzz`: every target for FUZZ_SECONDS each (default 60: the slowest target, trainer-state, makes ~2,500
// executions/s on 2 shared cores, so >= 100,000 each), then the table in test/RELIABILITY.md between its fuzz
// markers. A failing input is saved, shrunk, under test/fuzz/regressions/<target>/, to be fixed and committed as a
// regression test (the smoke test replays them). Exit 1 on any failure.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fuzz, type FuzzReport } from './harness';
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

function table(reports: readonly FuzzReport[], seconds: number, what: ReadonlyMap<string, string>): string {
  const rows = reports.map((r) => `| ${r.target} | ${what.get(r.target)} | ${r.executions.toLocaleString('en-US')} | ${(r.ms / 1000).toFixed(0)} s | ${r.crashes} | ${r.hangs} | ${r.memory} |`);
  return [
    BEGIN,
    `Last run: ${new Date().toISOString().slice(0, 10)}, ${seconds} s per target, Node ${process.version}, \`npm run fuzz\`.`,
    '',
    '| Target | Parses | Executions | Time | Crashes | Hangs | Memory |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...rows,
    END,
  ].join('\n');
}

async function main(): Promise<number> {
  const seconds = Number(process.env.FUZZ_SECONDS ?? 60);
  const only = process.argv.slice(2);
  const targets = (await fuzzTargets()).filter((t) => only.length === 0 || only.includes(t.name));
  const reports: FuzzReport[] = [];
  for (const t of targets) {
    const r = await fuzz(t, { timeMs: seconds * 1000 });
    reports.push(r);
    const saved = saveFailure(r);
    console.log(`${t.name}: ${r.executions} executions in ${(r.ms / 1000).toFixed(1)} s${r.failure ? ` - ${r.failure.kind}: ${r.failure.message} (input saved to ${saved})` : ''}`);
  }
  if (only.length === 0) {
    const doc = fs.readFileSync(RELIABILITY, 'utf8');
    const i = doc.indexOf(BEGIN);
    const j = doc.indexOf(END);
    if (i < 0 || j < 0) throw new Error(`${RELIABILITY}: the fuzz table markers are missing`);
    fs.writeFileSync(RELIABILITY, doc.slice(0, i) + table(reports, seconds, new Map(targets.map((t) => [t.name, t.what]))) + doc.slice(j + END.length));
  }
  return reports.some((r) => r.failure) ? 1 : 0;
}

main().then((code) => { process.exitCode = code; }, (err: unknown) => { console.error(err); process.exitCode = 2; });
