import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatNumber, lineChart, niceTicks, parseCsv, toCsv, toMarkdownTable, type Series } from '../../simulations/report/index.ts';

// ---------------------------------------------------------------- helpers

/**
 * A small XML well-formedness checker for what the charts emit: elements
 * with double-quoted attributes (no duplicates), balanced tags, one root,
 * `&` only in the five predefined or numeric entities, no raw `<` in text
 * or attributes, no characters XML 1.0 forbids. Throws with a position.
 */
function assertWellFormedXml(xml: string): void {
  const forbidden = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
  if (forbidden.test(xml)) throw new Error('forbidden character');
  const entityOk = (s: string): boolean => s.replace(/&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, '').indexOf('&') < 0;
  const tag = /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[A-Za-z_][\w.:-]*\s*=\s*"[^"<]*")*)\s*(\/?)>/y;
  const attr = /([A-Za-z_][\w.:-]*)\s*=\s*"([^"<]*)"/g;
  const stack: string[] = [];
  let roots = 0;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    if (!entityOk(text)) throw new Error(`bad & in text at ${i}`);
    if (stack.length === 0 && text.trim() !== '') throw new Error(`text outside the root at ${i}`);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(xml);
    if (!m) throw new Error(`malformed tag at ${lt}: ${xml.slice(lt, lt + 40)}`);
    const [whole, closing, name, attrs, selfClosing] = m;
    if (closing) {
      if (attrs.trim() !== '' || selfClosing) throw new Error(`malformed end tag at ${lt}`);
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}> at ${lt}`);
    } else {
      const seen = new Set<string>();
      for (const a of attrs.matchAll(attr)) {
        if (seen.has(a[1])) throw new Error(`duplicate attribute ${a[1]} at ${lt}`);
        seen.add(a[1]);
        if (!entityOk(a[2])) throw new Error(`bad & in attribute at ${lt}`);
      }
      if (stack.length === 0) roots++;
      if (!selfClosing) stack.push(name);
    }
    i = lt + whole.length;
  }
  if (stack.length !== 0) throw new Error(`unclosed <${stack.join('>, <')}>`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
}

const count = (s: string, re: RegExp): number => (s.match(re) ?? []).length;

/** The `points` attributes of all <polyline class="series"> elements, as [x, y] pixel pairs. */
function polylines(svg: string): number[][][] {
  return [...svg.matchAll(/<polyline class="series" points="([^"]*)"/g)].map((m) =>
    m[1].trim().split(/\s+/).map((pair) => pair.split(',').map(Number)),
  );
}

/** Centres of all <circle class="marker"> elements. */
function markers(svg: string): number[][] {
  return [...svg.matchAll(/<circle class="marker" cx="([^"]*)" cy="([^"]*)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

// Documented geometry (svg.ts MARGIN): plot area x ∈ [72, width − 160], y ∈ [40, height − 56].
// Default 640 x 400 → x ∈ [72, 480], y ∈ [40, 344].
const opts = { title: 'NDCG@10 vs round', xLabel: 'round', yLabel: 'NDCG@10' };

// ---------------------------------------------------------------- toCsv

describe('toCsv', () => {
  it('writes the header in column order, one line per row, each ending with \\n; missing keys are empty', () => {
    const csv = toCsv([{ b: 2, a: 1, c: 3 }, { a: 4 }], ['c', 'a', 'b']);
    expect(csv).toBe('c,a,b\n3,1,2\n,4,\n');
  });

  it('writes only the header for no rows', () => {
    expect(toCsv([], ['round', 'epsilon'])).toBe('round,epsilon\n');
  });

  it('quotes fields containing comma, double quote, CR or LF and doubles inner quotes', () => {
    const rows = [{ v: 'a,b' }, { v: 'say "hi"' }, { v: 'line1\nline2' }, { v: 'cr\rhere' }, { v: 'plain text' }, { v: '' }];
    expect(toCsv(rows, ['v'])).toBe('v\n"a,b"\n"say ""hi"""\n"line1\nline2"\n"cr\rhere"\nplain text\n\n');
  });

  it('applies the same quoting to header names', () => {
    expect(toCsv([{ 'a,b': 1, 'q"': 2 }], ['a,b', 'q"'])).toBe('"a,b","q"""\n1,2\n');
  });

  it('writes null, undefined and NaN as empty fields', () => {
    expect(toCsv([{ a: null, b: undefined, c: NaN, d: 0 }], ['a', 'b', 'c', 'd'])).toBe('a,b,c,d\n,,,0\n');
  });

  it('prints integers exactly and other numbers with at most 6 significant digits', () => {
    const row = { i: 123456789, n: -42, z: 0, nz: -0, third: 1 / 3, twoThirds: 2 / 3, sum: 0.1 + 0.2, half: -2.5, tiny: 1e-7 };
    const cols = Object.keys(row);
    const [, line] = toCsv([row], cols).split('\n');
    expect(line.split(',')).toEqual(['123456789', '-42', '0', '0', '0.333333', '0.666667', '0.3', '-2.5', '1e-7']);
  });

  it('writes booleans as true/false and strings verbatim', () => {
    expect(toCsv([{ ok: true, no: false, s: 'sasrec' }], ['ok', 'no', 's'])).toBe('ok,no,s\ntrue,false,sasrec\n');
  });
});

describe('formatNumber', () => {
  it('keeps small values round-trippable to 6 significant digits', () => {
    // 1.23456789e-7 to 6 significant digits is 1.23457e-7
    expect(Number(formatNumber(1.23456789e-7))).toBe(1.23457e-7);
    expect(Number(formatNumber(1e-7))).toBe(1e-7);
    expect(Number(formatNumber(2.5e-12))).toBe(2.5e-12);
    expect(formatNumber(Infinity)).toBe('Infinity');
    expect(formatNumber(-Infinity)).toBe('-Infinity');
    expect(formatNumber(NaN)).toBe('');
  });

  it('property: non-integers parse back within half a unit of the 6th significant digit, with <= 6 digits', () => {
    let seed = 12345;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let k = 0; k < 2000; k++) {
      const v = (rand() - 0.5) * Math.pow(10, Math.floor(rand() * 30) - 15);
      if (Number.isInteger(v)) continue;
      const s = formatNumber(v);
      const back = Number(s);
      expect(Number.isFinite(back)).toBe(true);
      expect(Math.abs(back - v)).toBeLessThanOrEqual(Math.abs(v) * 5e-6 * (1 + 1e-12));
      const mantissa = s.replace(/^-/, '').split('e')[0].replace('.', '').replace(/^0+/, '');
      expect(mantissa.length).toBeLessThanOrEqual(6);
    }
  });
});

// ---------------------------------------------------------------- parseCsv

describe('parseCsv', () => {
  it('gives back the strings that toCsv wrote', () => {
    const rows = [
      { name: 'a,b', note: 'he said "no"', n: 7 },
      { name: 'multi\nline', note: '', n: null },
      { name: '  spaces  ', note: 'x\r\ny', n: 0.5 },
    ];
    const parsed = parseCsv(toCsv(rows, ['name', 'note', 'n']));
    expect(parsed.header).toEqual(['name', 'note', 'n']);
    expect(parsed.rows).toEqual([
      ['a,b', 'he said "no"', '7'],
      ['multi\nline', '', ''],
      ['  spaces  ', 'x\r\ny', '0.5'],
    ]);
  });

  it('reads hand-written RFC 4180 text with CRLF, quoted line breaks, doubled quotes and empty fields', () => {
    const text = 'id,comment,score\r\n1,"first line\r\nsecond line",0.5\r\n2,"with ""quotes"" and, comma",\r\n3,,"x"';
    expect(parseCsv(text)).toEqual({
      header: ['id', 'comment', 'score'],
      rows: [
        ['1', 'first line\r\nsecond line', '0.5'],
        ['2', 'with "quotes" and, comma', ''],
        ['3', '', 'x'],
      ],
    });
  });

  it('treats a final line break as a terminator, but a blank line elsewhere as a one-field record', () => {
    expect(parseCsv('a\n\nb\n')).toEqual({ header: ['a'], rows: [[''], ['b']] });
    expect(parseCsv('a\nb')).toEqual({ header: ['a'], rows: [['b']] });
  });

  it('round-trips a single column of empty values', () => {
    expect(parseCsv(toCsv([{ a: null }, { a: '' }], ['a']))).toEqual({ header: ['a'], rows: [[''], ['']] });
  });

  it('handles a trailing comma, lone CR line ends, a BOM and empty input', () => {
    expect(parseCsv('x,y\r1,\r')).toEqual({ header: ['x', 'y'], rows: [['1', '']] });
    expect(parseCsv('\uFEFFa,b\n1,2\n')).toEqual({ header: ['a', 'b'], rows: [['1', '2']] });
    expect(parseCsv('')).toEqual({ header: [], rows: [] });
  });

  it('throws on an unterminated quoted field', () => {
    expect(() => parseCsv('a\n"never closed\n')).toThrow(/unterminated/);
  });
});

// ---------------------------------------------------------------- toMarkdownTable

describe('toMarkdownTable', () => {
  it('writes a header line, a separator line and one line per row', () => {
    const md = toMarkdownTable([{ eps: 1, ndcg: 1 / 3 }, { eps: null, ndcg: 0.25 }], ['eps', 'ndcg']);
    expect(md).toBe('| eps | ndcg |\n| --- | --- |\n| 1 | 0.333333 |\n|  | 0.25 |\n');
  });

  it('escapes pipes in header and cells, and writes line breaks as <br>', () => {
    const md = toMarkdownTable([{ 'a|b': 'x|y', c: 'one\ntwo' }], ['a|b', 'c']);
    const lines = md.split('\n');
    expect(lines[0]).toBe('| a\\|b | c |');
    expect(lines[1]).toBe('| --- | --- |');
    expect(lines[2]).toBe('| x\\|y | one<br>two |');
    expect(lines).toHaveLength(4); // 3 lines + the empty string after the final \n
  });
});

// ---------------------------------------------------------------- niceTicks

/** True when `step` is 1, 2 or 5 × 10^k (to a relative 1e-9). */
function isNiceStep(step: number): boolean {
  const k = Math.floor(Math.log10(step));
  return [1, 2, 5, 10].some((m) => Math.abs(step / (m * Math.pow(10, k)) - 1) < 1e-9);
}

describe('niceTicks', () => {
  it('(0, 1) → 0, 0.2, …, 1 exactly', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });

  it('(0.013, 0.087) covers the range in steps of 0.01 or 0.02', () => {
    const t = niceTicks(0.013, 0.087);
    expect(t[0]).toBeLessThanOrEqual(0.013);
    expect(t[t.length - 1]).toBeGreaterThanOrEqual(0.087);
    const step = t[1] - t[0];
    expect([0.01, 0.02].some((s) => Math.abs(step - s) < 1e-12)).toBe(true);
    for (let i = 1; i < t.length; i++) expect(t[i] - t[i - 1]).toBeCloseTo(step, 12);
  });

  it('(0, 10) → 0, 2, …, 10 (range 10 / 5 = 2, already nice)', () => {
    expect(niceTicks(0, 10)).toEqual([0, 2, 4, 6, 8, 10]);
  });

  it('(5, 5) does not throw and returns at least 2 increasing ticks around 5', () => {
    const t = niceTicks(5, 5);
    expect(t.length).toBeGreaterThanOrEqual(2);
    expect(t[0]).toBeLessThan(5);
    expect(t[t.length - 1]).toBeGreaterThan(5);
    for (let i = 1; i < t.length; i++) expect(t[i]).toBeGreaterThan(t[i - 1]);
    const z = niceTicks(0, 0);
    expect(z.length).toBeGreaterThanOrEqual(2);
    expect(z[0]).toBeLessThan(0);
    expect(z[z.length - 1]).toBeGreaterThan(0);
  });

  it('negative ranges: (−1, −0.2) → −1, −0.8, …, −0.2 and (−3, 7) → −4, −2, …, 8 with a plain 0', () => {
    // range 0.8 / 5 = 0.16 → step 0.2; range 10 / 5 = 2 → step 2, −3 floors to −4, 7 ceils to 8
    expect(niceTicks(-1, -0.2)).toEqual([-1, -0.8, -0.6, -0.4, -0.2]);
    const t = niceTicks(-3, 7);
    expect(t).toEqual([-4, -2, 0, 2, 4, 6, 8]);
    expect(t.some((v) => Object.is(v, -0))).toBe(false);
  });

  it('accepts the bounds in either order', () => {
    expect(niceTicks(1, 0)).toEqual(niceTicks(0, 1));
  });

  it('throws RangeError for non-finite bounds', () => {
    expect(() => niceTicks(0, Infinity)).toThrow(RangeError);
    expect(() => niceTicks(NaN, 1)).toThrow(RangeError);
  });

  it('property: covers random ranges with 3–8 evenly spaced ticks on a 1/2/5 × 10^k step', () => {
    let seed = 99;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let k = 0; k < 500; k++) {
      const scale = Math.pow(10, Math.floor(rand() * 16) - 8);
      const a = (rand() - 0.5) * 10 * scale;
      const b = a + rand() * 10 * scale + scale * 1e-3;
      const t = niceTicks(a, b);
      expect(t[0]).toBeLessThanOrEqual(a);
      expect(t[t.length - 1]).toBeGreaterThanOrEqual(b);
      // step ≥ range/5 and < 2.5·range/5, so 2..7 intervals (floor/ceil add at most 2)
      expect(t.length).toBeGreaterThanOrEqual(3);
      expect(t.length).toBeLessThanOrEqual(8);
      const step = (t[t.length - 1] - t[0]) / (t.length - 1);
      expect(isNiceStep(step)).toBe(true);
      for (let i = 1; i < t.length; i++) expect(Math.abs(t[i] - t[i - 1] - step)).toBeLessThan(step * 1e-9);
    }
  });
});

// ---------------------------------------------------------------- lineChart

describe('lineChart', () => {
  const twoSeries: Series[] = [
    { name: 'ε=1', points: [[0, 0], [5, 0.5], [10, 1]] },
    { name: 'ε=8', points: [[0, 0.2], [2, NaN], [4, 0.4], [Infinity, 0.3], [8, 0.6]] },
  ];

  it('is a well-formed standalone SVG document with xmlns, viewBox and an escaped <title>', () => {
    const svg = lineChart(twoSeries, { ...opts, title: '<a&b>' });
    assertWellFormedXml(svg);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(svg).toContain('viewBox="0 0 640 400"');
    expect(svg).toMatch(/<title>&lt;a&amp;b&gt;<\/title>/);
    expect(svg).not.toContain('<a&b>');
  });

  it('has one polyline per line series with one vertex per finite point, and one marker per finite point', () => {
    const svg = lineChart(twoSeries, opts);
    const lines = polylines(svg);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toHaveLength(3);
    expect(lines[1]).toHaveLength(3); // NaN y and Infinity x skipped
    expect(markers(svg)).toHaveLength(6);
    expect(svg).not.toMatch(/NaN|Infinity/);
  });

  it('joins points in x order', () => {
    const svg = lineChart([{ name: 's', points: [[3, 1], [1, 2], [2, 3]] }], opts);
    const xs = polylines(svg)[0].map((p) => p[0]);
    expect(xs).toEqual([...xs].sort((a, b) => a - b));
  });

  it('maps data to the documented plot area (x: 72..480, y: 344..40 for 640 x 400)', () => {
    // x ticks of (0, 10) are 0..10 and y ticks of (0, 1) are 0..1, so the axes span exactly the data
    const svg = lineChart([twoSeries[0]], opts);
    const [line] = polylines(svg);
    expect(line[0]).toEqual([72, 344]); // (0, 0): bottom-left corner
    expect(line[1]).toEqual([276, 192]); // (5, 0.5): 72 + 408/2, 344 − 304/2
    expect(line[2]).toEqual([480, 40]); // (10, 1): max x on the right edge, max y on the top edge
  });

  it('uses the given size: max x lands on width − 160', () => {
    const svg = lineChart([twoSeries[0]], { ...opts, width: 800, height: 500 });
    expect(svg).toContain('viewBox="0 0 800 500"');
    const [line] = polylines(svg);
    expect(line[2]).toEqual([640, 40]); // 800 − 160
    expect(line[0]).toEqual([72, 444]); // 500 − 56
  });

  it('lists every series name (escaped) in the legend with distinct colours', () => {
    const svg = lineChart([{ name: 'dp<on>', points: [[0, 1]] }, { name: 'no "dp"', points: [[1, 2]] }], opts);
    assertWellFormedXml(svg);
    expect(svg).toContain('dp&lt;on&gt;');
    expect(svg).toContain('no &quot;dp&quot;');
    expect(count(svg, /class="legend-entry"/g)).toBe(2);
    const colours = [...svg.matchAll(/class="series-group" fill="(#[0-9A-Fa-f]{6})"/g)].map((m) => m[1]);
    expect(colours).toHaveLength(2);
    expect(colours[0]).not.toBe(colours[1]);
  });

  it('draws hlines with their labels and extends the y axis to include them', () => {
    // data y ∈ [0, 0.2]; ceiling at 0.9 must still be inside the plot area
    const svg = lineChart([{ name: 'dp', points: [[0, 0], [10, 0.2]] }], { ...opts, hlines: [{ y: 0.9, label: 'non-private & co' }] });
    assertWellFormedXml(svg);
    expect(svg).toContain('non-private &amp; co');
    const m = svg.match(/<line class="hline" x1="([^"]*)" y1="([^"]*)" x2="([^"]*)" y2="([^"]*)"/);
    expect(m).not.toBeNull();
    const [x1, y1, x2, y2] = m!.slice(1).map(Number);
    expect([x1, x2]).toEqual([72, 480]);
    expect(y1).toBe(y2);
    expect(y1).toBeGreaterThanOrEqual(40);
    expect(y1).toBeLessThanOrEqual(344);
    // y ticks (0, 0.9): range 0.9/5 = 0.18 → step 0.2 → 0..1, so 0.9 sits at 344 − 0.9·304 = 70.4
    expect(y1).toBeCloseTo(70.4, 6);
  });

  it('scatter: markers only, with the point labels (skipped points lose their label)', () => {
    const frontier: Series[] = [{ name: 'DP runs', points: [[1, 0.1], [4, 0.2], [NaN, 0.25], [8, 0.24]] }];
    const svg = lineChart(frontier, {
      title: 'privacy–utility frontier', xLabel: 'ε', yLabel: 'NDCG@10', kind: 'scatter',
      hlines: [{ y: 0.27, label: 'non-private' }],
      pointLabels: [['σ=2', 'σ=1 <b>', 'σ=lost', 'σ=0.5']],
    });
    assertWellFormedXml(svg);
    expect(polylines(svg)).toHaveLength(0);
    expect(markers(svg)).toHaveLength(3);
    expect(count(svg, /class="point-label"/g)).toBe(3);
    expect(svg).toContain('>σ=2<');
    expect(svg).toContain('>σ=1 &lt;b&gt;<');
    expect(svg).toContain('>σ=0.5<');
    expect(svg).not.toContain('σ=lost');
    expect(svg).toContain('non-private');
  });

  it('says "no data" for no series, empty series, or only non-finite points, and stays well-formed', () => {
    for (const s of [[], [{ name: 'a', points: [] }], [{ name: 'a', points: [[NaN, 1], [1, Infinity]] as [number, number][] }]]) {
      const svg = lineChart(s, opts);
      assertWellFormedXml(svg);
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg).toContain('no data');
      expect(markers(svg)).toHaveLength(0);
    }
  });

  it('a single point (zero-range axes) does not divide by zero and lands inside the plot area', () => {
    const svg = lineChart([{ name: 'one', points: [[3, 0.25]] }], opts);
    assertWellFormedXml(svg);
    expect(svg).not.toMatch(/NaN|Infinity/);
    const ms = markers(svg);
    expect(ms).toHaveLength(1);
    const [[x, y]] = ms;
    expect(x).toBeGreaterThan(72);
    expect(x).toBeLessThan(480);
    expect(y).toBeGreaterThan(40);
    expect(y).toBeLessThan(344);
  });

  it('strips characters XML forbids instead of emitting an ill-formed document', () => {
    const svg = lineChart([{ name: 'bell\u0007', points: [[0, 1], [1, 2]] }], { ...opts, xLabel: 'x\u0000' });
    assertWellFormedXml(svg);
    expect(svg).toContain('>bell<');
  });

  it('the well-formedness checker itself rejects broken markup', () => {
    expect(() => assertWellFormedXml('<svg><g></svg>')).toThrow();
    expect(() => assertWellFormedXml('<svg>a & b</svg>')).toThrow();
    expect(() => assertWellFormedXml('<svg x="1" x="2"/>')).toThrow();
    expect(() => assertWellFormedXml('<svg/><svg/>')).toThrow();
    expect(() => assertWellFormedXml('<svg><text>&lt;ok&gt;</text></svg>')).not.toThrow();
  });
});

describe('browser safety', () => {
  it('the report modules import nothing from Node', () => {
    for (const f of ['csv.ts', 'svg.ts', 'index.ts']) {
      const src = readFileSync(new URL(`../../simulations/report/${f}`, import.meta.url), 'utf8');
      expect(src).not.toMatch(/from\s+['"](node:|fs|path|os|process)/);
      expect(src).not.toMatch(/\brequire\(|\bprocess\.|\bBuffer\b/);
    }
  });
});
