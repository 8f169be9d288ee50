// Profile driver for the generation engine (not a test): loads the generated TinyLlama-shaped model that
// generate.bench.ts writes, runs a prefill and a greedy decode on the WASM backend, and prints where the time goes per
// backend op (a timing wrapper around the Backend, so src/ stays free of timing code), split into prefill and decode,
// plus the time outside backend ops (model JS, sampling, logits copy). Matmuls are broken down by weight shape with
// GB/s (n == 1) or GFLOP/s (n > 1). Options: --cold skips the warm-up forward (the bench's prefill is the first one),
// --cpu-prof writes V8 CPU profiles of prefill and decode (summarise with cpuprofSummary.ts), --pool-stats times the
// calling thread waiting for helpers per kernel, --matvec-loop times the decode matvecs alone back to back.
// Run: nice -n 10 npx tsx bench/generate/profile.ts [--threads 2] [--prefill 32] [--decode 16] [--dtype f16|q8_0]
//      [--dir /tmp/lwb-bench] [--no-ops] [--cold: no warm-up forward, like the bench's first prefill]
//      [--v8 '--no-liftoff'] [--cpu-prof /tmp/gen]
//      [--pool-stats] [--matvec-loop] (run generate.bench.ts once first to write the model).

import * as fs from 'node:fs';
import { Session } from 'node:inspector';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import type { Backend, BTensor } from '../../src/core/backend';
import { generate } from '../../src/core/model/generate';
import { loadModel } from '../../src/core/model/loadModel';
import { greedy, SamplerChain } from '../../src/core/sampling/processors';
import { createWasmBackend } from '../../src/kernels/createBackend.node';
import { ThreadPool } from '../../src/kernels/wasm/threadPool.node';
import { NodeFs } from '../../src/node/nodeFs';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

interface Stat { calls: number; ms: number; bytes: number; flops: number }

/** Wraps every backend method: per-phase, per-op (and per matmul shape) wall time. Ops are synchronous, so exact. */
class OpTimer {
  phase = 'load';
  readonly stats = new Map<string, Map<string, Stat>>();
  readonly phaseWall = new Map<string, number>();

  wrap(b: Backend): Backend {
    const self = this;
    return new Proxy(b, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver);
        if (typeof v !== 'function' || prop === 'supports') return v;
        return function (this: unknown, ...args: unknown[]) {
          const t0 = performance.now();
          const r = (v as (...a: unknown[]) => unknown).apply(target, args);
          const ms = performance.now() - t0;
          self.record(String(prop), args, ms);
          return r;
        };
      },
    });
  }

  private record(op: string, args: unknown[], ms: number): void {
    let key = op;
    let bytes = 0;
    let flops = 0;
    if (op === 'matmul') {
      const w = args[1] as BTensor;
      const n = args[3] as number;
      const [rows, cols] = [w.shape[0]!, w.shape[1]!];
      key = `matmul ${w.dtype} ${rows}x${cols} n${n === 1 ? '=1' : '>1'}`;
      bytes = rows * cols * (w.dtype === 'f32' ? 4 : w.dtype === 'q8_0' ? 34 / 32 : 2);
      flops = 2 * rows * cols * n;
    }
    let m = this.stats.get(this.phase);
    if (!m) this.stats.set(this.phase, (m = new Map()));
    const s = m.get(key) ?? { calls: 0, ms: 0, bytes: 0, flops: 0 };
    s.calls++;
    s.ms += ms;
    s.bytes += bytes;
    s.flops += flops;
    m.set(key, s);
  }

  report(phase: string, wallMs: number, tokens: number): void {
    const m = this.stats.get(phase);
    if (!m) return;
    const total = [...m.values()].reduce((a, s) => a + s.ms, 0);
    console.log(`\n## ${phase}: wall ${wallMs.toFixed(1)} ms for ${tokens} token(s) (${(tokens / (wallMs / 1e3)).toFixed(2)} tok/s); `
      + `backend ops ${total.toFixed(1)} ms (${((100 * total) / wallMs).toFixed(1)}%), outside ops ${(wallMs - total).toFixed(1)} ms`);
    console.log('| op | calls | ms | % of wall | ms/token | rate |');
    console.log('|---|---|---|---|---|---|');
    for (const [k, s] of [...m.entries()].sort((a, b) => b[1].ms - a[1].ms)) {
      const rate = s.bytes === 0 ? '' : k.endsWith('n=1') ? `${(s.bytes / (s.ms / 1e3) / 1e9).toFixed(1)} GB/s` : `${(s.flops / (s.ms / 1e3) / 1e9).toFixed(1)} GFLOP/s`;
      console.log(`| ${k} | ${s.calls} | ${s.ms.toFixed(1)} | ${((100 * s.ms) / wallMs).toFixed(1)} | ${(s.ms / tokens).toFixed(2)} | ${rate} |`);
    }
  }
}

/**
 * --matvec-loop: the 155 matvecs of one decode step (every layer's weights, lm_head) back to back with nothing between
 * them, and one 2048x5632 weight repeated (cache/TLB-warm), each as GB/s: separates the kernel + thread pool from the
 * rest of the forward pass.
 */
function matvecLoop(b: Backend, model: unknown): void {
  const m = model as { layers: Array<Record<string, { w: BTensor; outDim: number; inDim: number }>>; lmHead: { w: BTensor } };
  const ws: BTensor[] = [];
  for (const L of m.layers) for (const k of ['q', 'k', 'v', 'o', 'gate', 'up', 'down']) ws.push(L[k]!.w);
  ws.push(m.lmHead.w);
  const x = b.alloc('f32', [1, 8192], 'mvl.x');
  const out = b.alloc('f32', [1, 32000], 'mvl.out');
  const bytes = (w: BTensor): number => w.shape[0]! * w.shape[1]! * (w.dtype === 'q8_0' ? 34 / 32 : w.dtype === 'f32' ? 4 : 2);
  const rates: number[] = [];
  for (let rep = 0; rep < 5; rep++) {
    const t0 = performance.now();
    let total = 0;
    for (const w of ws) {
      b.matmul(out, w, x, 1);
      total += bytes(w);
    }
    rates.push(total / ((performance.now() - t0) / 1e3) / 1e9);
  }
  const one = ws[4]!; // layer 0 gate_proj
  const oneRates: number[] = [];
  for (let rep = 0; rep < 5; rep++) {
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) b.matmul(out, one, x, 1);
    oneRates.push((20 * bytes(one)) / ((performance.now() - t0) / 1e3) / 1e9);
  }
  const med = (a: number[]): string => [...a].sort((p, q) => p - q)[a.length >> 1]!.toFixed(1);
  console.log(`\nmatvec loop: all decode weights back to back ${med(rates)} GB/s; one ${one.shape.join('x')} weight repeated ${med(oneRates)} GB/s (medians of 5)`);
  b.free(x);
  b.free(out);
}

async function main(): Promise<void> {
  const dir = path.join(arg('dir', path.join(os.tmpdir(), 'lwb-bench')), 'tinyllama-f16');
  const threads = Number(arg('threads', '2'));
  const prefill = Number(arg('prefill', '32'));
  const decode = Number(arg('decode', '16'));
  const dtype = arg('dtype', 'f16');
  // e.g. --v8 '--no-liftoff': V8 flags set before the kernels are compiled (helper threads share them).
  for (const f of arg('v8', '').split(' ').filter(Boolean)) v8.setFlagsFromString(f);
  const timer = new OpTimer();
  // --pool-stats: time the calling thread spends waiting for helpers at the end of each threaded kernel, by kernel.
  const poolWait = new Map<string, { calls: number; ms: number; runMs: number }>();
  if (process.argv.includes('--pool-stats')) {
    const proto = ThreadPool.prototype as unknown as { run: (...a: unknown[]) => void; waitHelpers: () => void };
    const run = proto.run;
    const wait = proto.waitHelpers;
    let current = '';
    proto.waitHelpers = function (this: unknown) {
      const t0 = performance.now();
      wait.call(this);
      const s = poolWait.get(current);
      if (s) s.ms += performance.now() - t0;
    };
    proto.run = function (this: unknown, ...a: unknown[]) {
      current = `${timer.phase} ${String(a[0])}`;
      const s = poolWait.get(current) ?? { calls: 0, ms: 0, runMs: 0 };
      poolWait.set(current, s);
      s.calls++;
      const t0 = performance.now();
      run.apply(this, a);
      s.runMs += performance.now() - t0;
    };
  }
  const raw = await createWasmBackend({ threads });
  const backend = process.argv.includes('--no-ops') ? raw : timer.wrap(raw);
  const t0 = performance.now();
  const lm = await loadModel(new NodeFs(), dir, backend, { quantize: dtype === 'q8_0' ? 'q8_0' : null, contextLength: 512, prefillBatch: Math.max(prefill, 1) });
  console.log(`load ${((performance.now() - t0) / 1e3).toFixed(1)} s, ${raw.info.detail}`);
  const ids = Array.from({ length: prefill }, (_, i) => 100 + ((i * 7919) % 30000));
  const model = lm.model;
  // Warm-up: one short forward so kernels are compiled/tiered and pages touched, then reset positions by reusing pos 0.
  if (!process.argv.includes('--cold')) {
    timer.phase = 'warmup';
    await model.forward(ids.slice(0, 4), 0);
    await model.forward([ids[0]!], 4);
  }
  // --cpu-prof PREFIX: V8 CPU profiles of the prefill and of the decode loop, PREFIX.prefill.cpuprofile and
  // PREFIX.decode.cpuprofile (open in Chrome DevTools or summarise with bench/generate/cpuprofSummary.ts).
  const profPrefix = arg('cpu-prof', '');
  const session = profPrefix ? new Session() : null;
  const post = (method: string, params?: object): Promise<unknown> => new Promise((resolve, reject) => {
    session!.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res)));
  });
  if (session) {
    session.connect();
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 100 });
  }
  const profiled = async <T>(phase: string, fn: () => Promise<T>): Promise<T> => {
    timer.phase = phase;
    if (session) await post('Profiler.start');
    const r = await fn();
    if (session) {
      const { profile } = await post('Profiler.stop') as { profile: unknown };
      fs.writeFileSync(`${profPrefix}.${phase}.cpuprofile`, JSON.stringify(profile));
    }
    return r;
  };
  const tp = performance.now();
  let logits = await profiled('prefill', () => model.forward(ids, 0));
  const prefillMs = performance.now() - tp;
  const sampler = new SamplerChain([], greedy());
  const td = performance.now();
  await profiled('decode', async () => {
    const history = [...ids];
    for (let i = 0; i < decode; i++) {
      const id = sampler.sample(logits, history);
      history.push(id);
      logits = await model.forward([id], prefill + i);
    }
  });
  const decodeMs = performance.now() - td;
  session?.disconnect();
  if (process.argv.includes('--matvec-loop')) matvecLoop(raw, model);
  timer.report('prefill', prefillMs, prefill);
  timer.report('decode', decodeMs, decode);
  if (poolWait.size) {
    console.log('\n| phase kernel | calls | run ms | of which waiting for helpers ms |\n|---|---|---|---|');
    for (const [k, v] of poolWait) console.log(`| ${k} | ${v.calls} | ${v.runMs.toFixed(1)} | ${v.ms.toFixed(1)} |`);
  }
  // The real generate() loop as the bench runs it (includes its per-token event-loop yield).
  timer.phase = 'generate';
  const out = await generate(model, lm.tokenizer, ids, { maxNewTokens: decode + 1, sampler, eosIds: [] });
  console.log(`\ngenerate(): prefill ${out.timings.prefillTokensPerSecond.toFixed(2)} tok/s, decode ${out.timings.decodeTokensPerSecond.toFixed(2)} tok/s`);
  raw.dispose();
}

void main();
