// Summarises a V8 .cpuprofile (node --cpu-prof, or profile.ts --cpu-prof PREFIX): self time per function, top N.
// Run: npx tsx bench/generate/cpuprofSummary.ts <file.cpuprofile> [top=30]

import * as fs from 'node:fs';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

const file = process.argv[2];
if (!file) throw new Error('usage: cpuprofSummary.ts <file.cpuprofile> [top]');
const top = Number(process.argv[3] ?? 30);
const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i + 1] ?? 0));
const byFn = new Map<string, number>();
for (const [id, us] of self) {
  const f = byId.get(id)!.callFrame;
  const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(src|bench|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
  byFn.set(key, (byFn.get(key) ?? 0) + us);
}
const total = (p.endTime - p.startTime);
console.log(`total ${(total / 1e3).toFixed(1)} ms, ${p.samples.length} samples`);
for (const [k, us] of [...byFn.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${(us / 1e3).toFixed(1).padStart(9)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`);
}
