// Sampling chain: processors with transformers' semantics, seeded draws, generation_config defaults, stop strings.

import * as assert from 'node:assert/strict';
import {
  buildSampler, findStopString, parseGenerationConfig, partialStopSuffix, resolveSampling,
} from '../../src/core/sampling/generationConfig';
import { greedy, multinomial, repetitionPenalty, softmax, temperature, topK, topP } from '../../src/core/sampling/processors';
import { createRng } from '../../src/core/sampling/rng';

const L = (...v: number[]): Float32Array => Float32Array.from(v);

describe('sampling processors', () => {
  it('greedy takes the highest logit, the lowest id on ties', () => {
    assert.equal(greedy().sample(L(1, 3, 3, 2)), 1);
    assert.equal(greedy().sample(L(-5, -1, -9)), 1);
  });

  it('repetition penalty divides positive and multiplies negative logits of seen ids (once per id)', () => {
    const l = L(2, -2, 4, 1);
    repetitionPenalty(2).process(l, [0, 1, 1, 1]);
    assert.deepEqual([...l], [1, -4, 4, 1]);
  });

  it('temperature divides', () => {
    const l = L(2, -4);
    temperature(0.5).process(l, []);
    assert.deepEqual([...l], [4, -8]);
  });

  it('top-k keeps the k largest (and ties at the threshold)', () => {
    const l = L(1, 5, 3, 3, 0);
    topK(2).process(l, []);
    assert.deepEqual([...l], [-Infinity, 5, 3, 3, -Infinity]);
  });

  it('top-p keeps the smallest most-likely set reaching p', () => {
    // probabilities 0.5, 0.25, 0.125, 0.125
    const l = L(Math.log(0.5), Math.log(0.25), Math.log(0.125), Math.log(0.125));
    topP(0.7).process(l, []);
    assert.deepEqual([...l].map((x) => x === -Infinity), [false, false, true, true]);
    const one = L(Math.log(0.9), Math.log(0.1));
    topP(0.5).process(one, []);
    assert.deepEqual([...one].map((x) => x === -Infinity), [false, true]);
  });

  it('seeded multinomial: same seed same draws, different seed different draws, frequencies follow softmax', () => {
    const logits = L(0, Math.log(2), Math.log(5), -Infinity);
    const draw = (seed: number, n: number): number[] => {
      const s = multinomial(createRng(seed));
      return Array.from({ length: n }, () => s.sample(logits));
    };
    assert.deepEqual(draw(42, 50), draw(42, 50));
    assert.notDeepEqual(draw(42, 50), draw(43, 50));
    const counts = [0, 0, 0, 0];
    for (const id of draw(7, 20000)) counts[id]!++;
    const p = softmax(logits);
    for (let i = 0; i < 4; i++) assert.ok(Math.abs(counts[i]! / 20000 - p[i]!) < 0.015, `id ${i}: ${counts[i]} vs p=${p[i]}`);
    assert.equal(counts[3], 0);
  });
});

describe('generation config and the chain', () => {
  it('do_sample=false (or absent) means greedy; eos_token_id lists are kept', () => {
    const d = parseGenerationConfig({ eos_token_id: [128001, 128009], temperature: 0.6, top_p: 0.9 }, { eosTokenIds: [2] }, null);
    assert.equal(d.temperature, 0);
    assert.deepEqual(d.eosIds, [128001, 128009]);
    const s = parseGenerationConfig({ do_sample: true, temperature: 0.6, top_p: 0.9 }, { eosTokenIds: [2] }, null);
    assert.deepEqual([s.temperature, s.topK, s.topP, s.eosIds], [0.6, 50, 0.9, [2]]);
    assert.deepEqual(parseGenerationConfig(null, { eosTokenIds: [] }, { eosId: 7 }).eosIds, [7]);
  });

  it('request values override defaults; temperature 0 builds a greedy chain', () => {
    const d = parseGenerationConfig({ do_sample: true, temperature: 0.7 }, { eosTokenIds: [2] }, null);
    const chain = buildSampler(resolveSampling({ temperature: 0, repetitionPenalty: 1.3 }, d));
    assert.equal(chain.describe(), 'repetition-penalty(1.3) -> greedy');
    const sampled = buildSampler(resolveSampling({ topK: 5, topP: 0.9, seed: 3 }, d));
    assert.equal(sampled.describe(), 'temperature(0.7) -> top-k(5) -> top-p(0.9) -> multinomial');
    const logits = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i));
    const a = buildSampler(resolveSampling({ temperature: 1, seed: 9 }, d));
    const b = buildSampler(resolveSampling({ temperature: 1, seed: 9 }, d));
    const seqA = Array.from({ length: 20 }, () => a.sample(logits, []));
    assert.deepEqual(Array.from({ length: 20 }, () => b.sample(logits, [])), seqA);
    assert.deepEqual([...logits.slice(0, 3)], [0, Math.fround(Math.sin(1)), Math.fround(Math.sin(2))], 'input logits untouched');
  });

  it('stop strings: earliest match, and partial prefixes held back while streaming', () => {
    assert.deepEqual(findStopString('abc\n\nUser: hi', ['User:', '\n\n']), { index: 3, stop: '\n\n' });
    assert.equal(findStopString('abc', ['x']), null);
    assert.equal(partialStopSuffix('hello Us', ['User:']), 2);
    assert.equal(partialStopSuffix('hello', ['User:']), 0);
  });
});
