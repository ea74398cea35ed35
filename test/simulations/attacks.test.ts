// simulations/attacks/ and `fedrec attack`: the metric helpers by hand, the
// item-embedding layout of both models, interaction inference beating chance
// on plain FedAvg (and, as expected, under central DP, which noises only the
// sum), the promotion attack's push and its effect, and the commands' JSON
// summary lines and output files.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { attackCommand } from '../../cli/attack.ts';
import { initBackend, Rng, specOf, type EvalCase, type Model } from '../../recommender/index.ts';
import { itemRows } from '../../simulations/attacks/index.ts';
import { auc, precisionRecallAtK, rowNorms, runInteractionInference } from '../../simulations/attacks/interactionInference.ts';
import { exposure, pickMalicious, poison, popularityPush, unpopularItem } from '../../simulations/attacks/itemPromotion.ts';
import { parseSimulationConfig, type SimulationConfig } from '../../simulations/config.ts';
import { parseCsv } from '../../simulations/report/index.ts';

const base = mkdtempSync(join(tmpdir(), 'fedrec-attack-test-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
beforeAll(async () => {
  await initBackend('wasm');
});

let n = 0;
const dirFor = () => join(base, `run${n++}`);
const TINY = { data: 'synthetic:users=120,items=60', model: 'mf', modelConfig: { dim: 8 }, rounds: 2, clientsPerRound: 20, lr: 0.05 };
const tiny = (over: Partial<SimulationConfig> = {}): SimulationConfig => parseSimulationConfig({ ...TINY, ...over });

/** Runs `fedrec attack ARGS` in this process; returns the last stdout line as JSON. */
async function attack(args: string[]): Promise<Record<string, any>> {
  const lines: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => lines.push(String(chunk)) > 0);
  const print = vi.spyOn(console, 'log').mockImplementation(() => {});
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await attackCommand().parseAsync(args, { from: 'user' });
  } finally {
    write.mockRestore();
    print.mockRestore();
    err.mockRestore();
  }
  return JSON.parse(lines.join('').trim().split('\n').pop()!);
}

describe('auc', () => {
  it('is 1 when every interacted item scores above every other, 0 when below, 0.5 on ties', () => {
    expect(auc([3, 2, 1, 0], new Set([0, 1]))).toBe(1);
    expect(auc([3, 2, 1, 0], new Set([2, 3]))).toBe(0);
    expect(auc([1, 1, 1, 1], new Set([0]))).toBe(0.5);
  });

  it('counts the pairs ordered right, ties half', () => {
    // positives score 3 and 1, negatives 2 and 0: pairs (3,2) (3,0) (1,0) right, (1,2) wrong
    expect(auc([3, 1, 2, 0], new Set([0, 1]))).toBe(0.75);
    // the positive (1) against 2, 1, 0: wrong, tie, right
    expect(auc([2, 1, 1, 0], new Set([1]))).toBe(0.5);
    expect(auc([1, 2], new Set())).toBeNaN();
    expect(auc([1, 2], new Set([0, 1]))).toBeNaN();
  });
});

describe('precisionRecallAtK', () => {
  it('counts the hits among the k best', () => {
    const scores = [0.9, 0.8, 0.7, 0.1, 0];
    const pos = new Set([0, 2, 4]);
    expect(precisionRecallAtK(scores, pos, 2)).toEqual({ precision: 1 / 2, recall: 1 / 3 });
    expect(precisionRecallAtK(scores, pos, 3)).toEqual({ precision: 2 / 3, recall: 2 / 3 });
    expect(precisionRecallAtK(scores, pos, 10)).toEqual({ precision: 3 / 5, recall: 1 }); // k beyond the catalog: all of it
  });

  it('breaks ties at the cut at random, in expectation', () => {
    // item 0 is in; one of the three tied items joins it, the positive with probability 1/3
    const r = precisionRecallAtK([1, 0, 0, 0], new Set([1]), 2);
    expect(r.precision).toBeCloseTo(1 / 6, 12);
    expect(r.recall).toBeCloseTo(1 / 3, 12);
  });
});

describe('item-embedding rows', () => {
  it("finds catalog item i at row i in MF and at row i + 1 in SASRec (0 is padding)", () => {
    for (const [model, config, firstRow] of [
      ['mf', { numItems: 5, dim: 2 }, 0],
      ['sasrec', { numItems: 5, dim: 2, maxLen: 3, blocks: 1 }, 1],
    ] as const) {
      const spec = specOf(model, config);
      const rows = itemRows(spec);
      expect(rows).toMatchObject({ dim: 2, firstRow, numItems: 5 });
      const delta = new Float32Array(spec.size);
      delta.set([3, 4], rows.offset + (2 + firstRow) * 2); // catalog item 2
      expect(Array.from(rowNorms(delta, rows))).toEqual([0, 0, 5, 0, 0]);
    }
  });
});

describe('interaction inference', () => {
  it('beats chance on plain FedAvg, and keeps working under central DP (which noises only the sum)', async () => {
    // 600 items: a catalog much larger than a client's ~28 training items, as real
    // ones are. (On 60 items MF's 4 sampled negatives per positive move every
    // other row about 3 times, more than the interacted rows move.)
    const out = dirFor();
    const r = await runInteractionInference({ base: tiny({ data: 'synthetic:users=120,items=600', seededNoise: true }), out, modes: ['plain', 'dp'] });
    // random scores would give 0.5
    expect(r.modes.plain!.auc).toBeGreaterThan(0.75);
    expect(r.modes.dp!.auc).toBeGreaterThan(0.75);
    expect(r.modes.plain!.updates).toBe(2 * 20); // every selected client's update scored
    expect(r.modes.plain!.epsilon).toBeNull();
    expect(r.modes.dp!.epsilon).toBeGreaterThan(0);
    for (const m of ['plain', 'dp'] as const) expect(r.modes[m]!.precision).toBeCloseTo(r.modes[m]!.recall, 12); // k = the client's items
    expect(JSON.parse(readFileSync(join(out, 'attack.json'), 'utf8')).modes.plain.auc).toBeCloseTo(r.modes.plain!.auc, 12);
    const csv = parseCsv(readFileSync(join(out, 'attack.csv'), 'utf8'));
    expect(csv.header).toEqual(['mode', 'auc', 'precision', 'recall', 'updates', 'epsilon']);
    expect(csv.rows.map((row) => row[0])).toEqual(['plain', 'dp']);
    for (const m of ['plain', 'dp']) for (const f of ['config.json', 'summary.json', 'rounds.csv']) expect(existsSync(join(out, m, f)), `${m}/${f}`).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'dp', 'config.json'), 'utf8'))).toMatchObject({ dp: 'central', q: 20 / 120, noise: 1 });
  });

  it('fedrec attack interaction-inference prints the JSON summary line', async () => {
    const j = await attack(['interaction-inference', '--data', TINY.data, '--model', 'mf', '--dim', '8', '--rounds', '1', '--clients-per-round', '10', '--modes', 'plain', '--max-updates', '4', '--out', dirFor(), '--json']);
    expect(j.attack).toBe('interaction-inference');
    expect(Object.keys(j.modes)).toEqual(['plain']);
    expect(Object.keys(j.modes.plain).sort()).toEqual(['auc', 'epsilon', 'precision', 'recall', 'updates']);
    expect(j.modes.plain.updates).toBe(4);
  });
});

describe('item promotion', () => {
  it('pushes the target along the popular-minus-average row, and bounds a poisoned update under DP', () => {
    // one-wide rows for 4 items, then 4 biases; item 0 is popular, item 3 the target
    const weights = Float32Array.from([4, 2, 0, -2, 1, 1, 1, 5]);
    const push = popularityPush(weights, { rows: { offset: 0, dim: 1, firstRow: 0, numItems: 4 }, biasOffset: 4, target: 3, popular: [0] });
    // rows: 4 - mean(4, 2, 0, -2) = 3; biases: 1 - mean(1, 1, 1, 5) = -1
    expect(Array.from(push)).toEqual([0, 0, 0, 3, 0, 0, 0, -1]);
    expect(Array.from(poison(Float32Array.from([1, 0]), Float32Array.from([0, 1]), 2))).toEqual([1, 2]);
    const bounded = poison(Float32Array.from([3, 0]), Float32Array.from([0, 2]), 1, 1); // [3, 2] has norm √13 > 1
    expect(bounded[0]).toBeCloseTo(3 / Math.sqrt(13), 6);
    expect(bounded[1]).toBeCloseTo(2 / Math.sqrt(13), 6);
  });

  it('picks the target from the less popular half and round(F × clients) malicious clients', () => {
    for (let seed = 0; seed < 20; seed++) expect([1, 3]).toContain(unpopularItem(Float64Array.from([5, 0, 3, 1]), new Rng(seed)));
    const clients = Array.from({ length: 120 }, (_, i) => `c${i}`);
    const bad = pickMalicious(clients, 0.1, new Rng(1));
    expect(bad.size).toBe(12);
    for (const c of bad) expect(clients).toContain(c);
    expect(pickMalicious(clients, 0.1, new Rng(1))).toEqual(bad);
  });

  it('measures exposure as the share of users with the target in their top-10, seen items excluded', () => {
    const numItems = 12;
    const target = 11;
    const rows = [
      Array.from({ length: numItems }, (_, i) => i), // target best: rank 0
      Array.from({ length: numItems }, (_, i) => -i), // target worst: rank 11
      Array.from({ length: numItems }, (_, i) => (i === target ? 2.5 : numItems - i)), // items 0..9 above the target: rank 10, but one of the items above it was seen: rank 9
    ];
    const cases: EvalCase[] = rows.map((_, u) => ({ user: `u${u}`, target: 0, history: { items: Int32Array.from(u === 2 ? [0] : []), types: new Uint8Array(u === 2 ? 1 : 0) } }));
    const model = { scoreBatch: (h: unknown[]) => Float32Array.from(rows.slice(0, h.length).flat()) } as unknown as Model;
    expect(exposure(model, cases, target, numItems)).toBeCloseTo(2 / 3, 12);
  });

  it('without a defence a large boost raises exposure over the honest run; outputs parse', async () => {
    const out = dirFor();
    const j = await attack(['item-promotion', '--data', TINY.data, '--model', 'mf', '--dim', '8', '--rounds', '2', '--clients-per-round', '20', '--lr', '0.05', '--modes', 'none', '--malicious', '0.2', '--boost', '50', '--out', out, '--json']);
    expect(j.attack).toBe('item-promotion');
    expect(typeof j.target).toBe('string');
    expect(Object.keys(j.modes)).toEqual(['none']);
    expect(j.modes.none.final_exposure).toBeGreaterThan(j.modes.none.baseline_exposure);
    const report = JSON.parse(readFileSync(join(out, 'attack.json'), 'utf8'));
    expect(report).toMatchObject({ target: j.target, malicious_clients: 24, clients: 120 });
    const csv = parseCsv(readFileSync(join(out, 'attack.csv'), 'utf8'));
    expect(csv.header).toEqual(['round', 'mode', 'exposure', 'baseline_exposure']);
    expect(csv.rows.map((row) => [row[0], row[1]])).toEqual([['1', 'none'], ['2', 'none']]);
    expect(Number(csv.rows[1][2])).toBeCloseTo(j.modes.none.final_exposure, 5);
    expect(readFileSync(join(out, 'exposure.svg'), 'utf8')).toMatch(/^<svg/);
    for (const d of ['none', 'none-honest']) expect(existsSync(join(out, d, 'summary.json')), d).toBe(true);
  });
});
