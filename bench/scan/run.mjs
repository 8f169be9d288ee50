// Benchmark: `lora-workbench scan <tree> --json` on 2,000 runs x 5 checkpoints, against the named baseline `find <tree>`
// (a bare listing of the same tree, no parsing) in the same run. Wall time and peak RSS from /usr/bin/time; medians.
// The CLI is bundled here from src/ (same esbuild options as scripts/build.mjs, unminified) so that a concurrent build of
// dist/ by someone else cannot change what is measured.
// Usage: node bench/scan/run.mjs [--reps 3] [--runs 2000] [--ckpts 5] [--keep]
import { spawnSync } from 'node:child_process';
import * as esbuild from 'esbuild';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { generateTree } from './generate.mjs';

const { values } = parseArgs({ options: { reps: { type: 'string', default: '3' }, runs: { type: 'string', default: '2000' }, ckpts: { type: 'string', default: '5' }, keep: { type: 'boolean', default: false } } });
const reps = Number(values.reps);
const tree = 'bench/.tmp/scan-tree';
const out = 'bench/.tmp/scan-out.json';
const cli = 'bench/.tmp/cli/cli.js';
await esbuild.build({
  bundle: true, platform: 'node', format: 'cjs', target: 'node20', external: ['vscode', 'webgpu'], mainFields: ['module', 'main'],
  entryPoints: { cli: 'src/cli/cli.node.ts' }, outdir: 'bench/.tmp/cli', logLevel: 'error',
});
if (!existsSync(cli)) throw new Error(`${cli} was not built`);

const t0 = Date.now();
const g = generateTree(tree, Number(values.runs), Number(values.ckpts));
console.log(`tree: ${g.runs} runs x ${g.ckpts} checkpoints (+ final adapter per run), ${(g.adapterBytes / 2 ** 20).toFixed(1)} MiB sparse adapters; generated in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

/** Run a shell command under /usr/bin/time; returns wall seconds, CPU seconds (user + sys) and peak RSS in MiB. */
function timed(cmd) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', 'sh', '-c', cmd], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  const [wall, user, sys, kb] = r.stderr.trim().split('\n').pop().split(' ').map(Number);
  return { wall, cpu: user + sys, rssMiB: kb / 1024 };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = { find: [], scan: [] };
// Warm the page cache once so neither side pays for cold disk reads.
timed(`find ${tree} > /dev/null`);
for (let i = 0; i < reps; i++) {
  rows.find.push(timed(`find ${tree} > /dev/null`));
  rows.scan.push(timed(`node ${cli} scan ${tree} --json > ${out}`));
}
const result = JSON.parse(readFileSync(out, 'utf8'));
const ckpts = result.runs.reduce((n, r) => n + r.checkpoints.length, 0);
if (result.runs.length !== g.runs || ckpts !== g.runs * (g.ckpts + 1)) throw new Error(`scan found ${result.runs.length} runs / ${ckpts} checkpoints`);
const f = { wall: median(rows.find.map((r) => r.wall)), cpu: median(rows.find.map((r) => r.cpu)), rss: median(rows.find.map((r) => r.rssMiB)) };
const s = { wall: median(rows.scan.map((r) => r.wall)), cpu: median(rows.scan.map((r) => r.cpu)), rss: median(rows.scan.map((r) => r.rssMiB)) };
const lines = [
  `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}, node ${process.version}`,
  `scan found ${result.runs.length} runs, ${ckpts} checkpoints, ${result.adapters.length} adapters in ${result.stats.dirs} folders / ${result.stats.files} files`,
  `| measure (median of ${reps}) | find (baseline) | lora-workbench scan --json | ratio |`,
  '|---|---|---|---|',
  `| wall time | ${f.wall.toFixed(2)} s | ${s.wall.toFixed(2)} s | ${(s.wall / f.wall).toFixed(1)}x |`,
  `| CPU time (user + sys) | ${f.cpu.toFixed(2)} s | ${s.cpu.toFixed(2)} s | ${(s.cpu / f.cpu).toFixed(1)}x |`,
  `| peak RSS | ${f.rss.toFixed(0)} MiB | ${s.rss.toFixed(0)} MiB | ${(s.rss / f.rss).toFixed(1)}x |`,
  `target: scan under 3 s -> ${s.wall < 3 ? 'met' : 'NOT met'}`,
];
lines.push(`all scan walls: ${rows.scan.map((r) => r.wall.toFixed(2)).join(', ')} s; find walls: ${rows.find.map((r) => r.wall.toFixed(2)).join(', ')} s; load after: ${loadavg()[0].toFixed(1)}`);
console.log(lines.join('\n'));
writeFileSync('bench/.tmp/scan-result.txt', lines.join('\n') + '\n');
if (!values.keep) rmSync(tree, { recursive: true, force: true });
