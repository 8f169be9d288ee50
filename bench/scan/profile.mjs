// Where the scan spends its time: runs the bench CLI bundle under --cpu-prof on a tree and prints the top functions
// (self and inclusive). Usage: node bench/scan/run.mjs --keep --runs 400, then node bench/scan/profile.mjs [tree]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const tree = process.argv[2] ?? 'bench/.tmp/scan-tree';
const dir = mkdtempSync(join(tmpdir(), 'scan-prof-'));
spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, 'bench/.tmp/cli/cli.js', 'scan', tree, '--json'], { stdio: ['ignore', 'ignore', 'inherit'] });
const p = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]), 'utf8'));
rmSync(dir, { recursive: true, force: true });
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map();
const incl = new Map();
const name = (n) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}`;
let total = 0;
p.samples.forEach((id, i) => {
  const dt = p.timeDeltas[i] ?? 0;
  total += dt;
  self.set(name(byId.get(id)), (self.get(name(byId.get(id))) ?? 0) + dt);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const k = name(byId.get(cur));
    if (!seen.has(k)) incl.set(k, (incl.get(k) ?? 0) + dt), seen.add(k);
  }
});
const top = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${(v / 1000).toFixed(0).padStart(6)} ms  ${k}`).join('\n');
console.log(`total ${(total / 1000).toFixed(0)} ms\n-- self\n${top(self, 15)}\n-- inclusive\n${top(incl, 25)}`);
