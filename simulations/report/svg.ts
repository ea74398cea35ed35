// Standalone SVG charts for `fedrec simulate` / `fedrec sweep`: metrics vs
// round, ε vs round, and the privacy–utility frontier (ε vs NDCG@10 as a
// scatter, with the non-private run as a horizontal ceiling line).
// Browser-safe: no Node imports; returns the document as a string.
import { formatNumber } from './csv.ts';

/** One named series; points with a non-finite x or y are skipped. */
export interface Series {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Pixels; default 640 x 400. Non-finite or non-positive values fall back to the default. */
  width?: number;
  height?: number;
  /** Horizontal reference lines, e.g. { y: 0.27, label: 'non-private' }. Non-finite y are skipped. */
  hlines?: ReadonlyArray<{ y: number; label: string }>;
  /** 'line' (default: points joined in x order, with markers) or 'scatter' (markers only, each point optionally labelled). */
  kind?: 'line' | 'scatter';
  /** scatter only: a text label per point, by series index then point index (the index in `points`, skipped points included). */
  pointLabels?: ReadonlyArray<ReadonlyArray<string>>;
}

/**
 * Up to ~5 evenly spaced "nice" ticks (step 1, 2 or 5 × 10^k) whose first
 * tick is <= min and last tick is >= max.
 *
 * The step is the smallest nice number >= (max − min) / count, so there are
 * between about count/2 and count + 2 intervals. Ticks are built from their
 * decimal form (`i·s e k`), so 0.6 is 0.6, not 0.6000000000000001, and −0
 * never appears. A zero (or relatively negligible, < 1e-12) range is padded
 * by 10% of its magnitude (±1 around 0), so (5, 5) gives 4.4 … 5.6. `min`
 * and `max` may come in either order. A range too large to represent
 * (max − min = Infinity) gives [min, max].
 *
 * @param count target number of intervals (default 5; clamped to 1..1000).
 * @throws RangeError if min or max is not finite.
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) throw new RangeError(`niceTicks: non-finite range [${min}, ${max}]`);
  let lo = Math.min(min, max);
  let hi = Math.max(min, max);
  if (hi - lo <= 1e-12 * Math.max(Math.abs(lo), Math.abs(hi))) {
    const mid = (lo + hi) / 2;
    const pad = mid === 0 ? 1 : Math.abs(mid) * 0.1;
    lo = mid - pad;
    hi = mid + pad;
  }
  if (!Number.isFinite(hi - lo)) return [lo, hi];
  const intervals = Number.isFinite(count) ? Math.min(1000, Math.max(1, Math.floor(count))) : 5;

  const raw = (hi - lo) / intervals;
  let exp = Math.floor(Math.log10(raw));
  let norm = raw / Math.pow(10, exp);
  while (norm >= 10) { norm /= 10; exp++; }
  while (norm < 1) { norm *= 10; exp--; }
  const tol = 1e-9;
  let s = norm <= 1 + tol ? 1 : norm <= 2 + tol ? 2 : norm <= 5 + tol ? 5 : 10;
  if (s === 10) { s = 1; exp++; }
  const step = Number(`${s}e${exp}`);

  const tick = (i: number): number => Number(`${i * s}e${exp}`) + 0; // + 0 turns −0 into 0
  let first = Math.floor(lo / step + tol);
  let last = Math.ceil(hi / step - tol);
  if (tick(first) > lo) first--;
  if (tick(last) < hi) last++;
  const ticks: number[] = [];
  for (let k = 0; k <= last - first && k <= 2000; k++) {
    const t = tick(first + k);
    if (ticks.length === 0 || t !== ticks[ticks.length - 1]) ticks.push(t);
  }
  return ticks;
}

/**
 * Okabe–Ito colour-blind-safe palette (yellow last: weakest on white).
 * Series i gets PALETTE[i % PALETTE.length].
 */
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'] as const;

/**
 * Plot-area margins in pixels. The plot area spans
 * x ∈ [left, width − right] and y ∈ [top, height − bottom]; for the default
 * 640 x 400 that is x ∈ [72, 480], y ∈ [40, 344]. The x axis runs from the
 * first to the last of niceTicks(min x, max x) and the y axis likewise over
 * the data and hlines, so a point at the last x tick lands on x = width − 160.
 * The legend sits in the right margin.
 */
const MARGIN = { top: 40, right: 160, bottom: 56, left: 72 } as const;
const DEFAULT_WIDTH = 640;
const DEFAULT_HEIGHT = 400;
const LEGEND_MAX_CHARS = 20;

/** XML-escapes text for element content and attribute values, dropping characters XML 1.0 forbids. */
function esc(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '')
    .replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;'));
}

/** Pixel coordinate with at most 2 decimals. */
function px(v: number): string {
  return String(Math.round(v * 100) / 100 + 0);
}

function dimension(v: number | undefined, fallback: number): number {
  return v !== undefined && Number.isFinite(v) && v > 0 ? v : fallback;
}

function svgOpen(width: number, height: number, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${px(width)}" height="${px(height)}" viewBox="0 0 ${px(width)} ${px(height)}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(title)}</title>`,
    `<rect x="0" y="0" width="${px(width)}" height="${px(height)}" fill="#ffffff"/>`,
    `<text class="chart-title" x="${px(width / 2)}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
}

interface Domain { ticks: number[]; lo: number; hi: number }

function domainOf(values: readonly number[]): Domain {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const ticks = niceTicks(min, max, 5);
  let lo = ticks[0];
  let hi = ticks[ticks.length - 1];
  if (!(hi > lo)) { lo -= 1; hi += 1; } // niceTicks pads, so this is only a last line of defence against dividing by zero
  return { ticks, lo, hi };
}

function truncate(name: string): string {
  const chars = Array.from(name);
  return chars.length <= LEGEND_MAX_CHARS ? name : chars.slice(0, LEGEND_MAX_CHARS - 1).join('') + '…';
}

/**
 * A standalone SVG document (no XML declaration; starts with `<svg`, xmlns,
 * viewBox and a `<title>`), with grid lines and ~5 nice ticks per axis
 * covering the data and the hlines, a legend in the right margin, one colour
 * per series from the Okabe–Ito palette, and all text XML-escaped.
 *
 * Elements carry classes for styling and tests: each line series with at
 * least one finite point is one `<polyline class="series">` (points sorted
 * by x, ties in input order); every finite point is one `<circle
 * class="marker">`; scatter labels are `<text class="point-label">`;
 * reference lines are `<line class="hline">` with `<text class="hline-label">`;
 * legend entries are `<g class="legend-entry">` (names longer than 20
 * characters are shortened with "…", the full name kept in a `<title>`).
 * With no finite point at all the document just says "no data".
 * See MARGIN for the geometry.
 */
export function lineChart(series: readonly Series[], opts: ChartOptions): string {
  const width = dimension(opts.width, DEFAULT_WIDTH);
  const height = dimension(opts.height, DEFAULT_HEIGHT);
  const kind = opts.kind ?? 'line';

  const cleaned = series.map((s) =>
    s.points
      .map(([x, y], index) => ({ x, y, index }))
      .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)),
  );
  const hlines = (opts.hlines ?? []).filter((h) => Number.isFinite(h.y));
  const xs = cleaned.flatMap((pts) => pts.map((p) => p.x));

  const out = svgOpen(width, height, opts.title);
  if (xs.length === 0) {
    out.push(`<text class="no-data" x="${px(width / 2)}" y="${px(height / 2)}" text-anchor="middle" fill="#555555">no data</text>`);
    out.push('</svg>');
    return out.join('\n') + '\n';
  }
  const ys = cleaned.flatMap((pts) => pts.map((p) => p.y)).concat(hlines.map((h) => h.y));
  const xd = domainOf(xs);
  const yd = domainOf(ys);

  const left = MARGIN.left;
  const top = MARGIN.top;
  const plotW = Math.max(1, width - MARGIN.left - MARGIN.right);
  const plotH = Math.max(1, height - MARGIN.top - MARGIN.bottom);
  const right = left + plotW;
  const bottom = top + plotH;
  const sx = (x: number): number => left + ((x - xd.lo) / (xd.hi - xd.lo)) * plotW;
  const sy = (y: number): number => bottom - ((y - yd.lo) / (yd.hi - yd.lo)) * plotH;

  // grid, ticks and tick labels
  out.push('<g class="grid" stroke="#e6e6e6" stroke-width="1">');
  for (const t of xd.ticks) out.push(`<line x1="${px(sx(t))}" y1="${px(top)}" x2="${px(sx(t))}" y2="${px(bottom)}"/>`);
  for (const t of yd.ticks) out.push(`<line x1="${px(left)}" y1="${px(sy(t))}" x2="${px(right)}" y2="${px(sy(t))}"/>`);
  out.push('</g>');
  out.push(`<rect class="plot-area" x="${px(left)}" y="${px(top)}" width="${px(plotW)}" height="${px(plotH)}" fill="none" stroke="#333333"/>`);
  out.push('<g class="x-ticks" text-anchor="middle" fill="#333333">');
  for (const t of xd.ticks) out.push(`<text x="${px(sx(t))}" y="${px(bottom + 16)}">${esc(formatNumber(t))}</text>`);
  out.push('</g>');
  out.push('<g class="y-ticks" text-anchor="end" fill="#333333">');
  for (const t of yd.ticks) out.push(`<text x="${px(left - 6)}" y="${px(sy(t))}" dy="0.32em">${esc(formatNumber(t))}</text>`);
  out.push('</g>');
  out.push(`<text class="x-label" x="${px(left + plotW / 2)}" y="${px(height - 12)}" text-anchor="middle">${esc(opts.xLabel)}</text>`);
  const yLabelY = px(top + plotH / 2);
  out.push(`<text class="y-label" x="18" y="${yLabelY}" text-anchor="middle" transform="rotate(-90 18 ${yLabelY})">${esc(opts.yLabel)}</text>`);

  // reference lines
  for (const h of hlines) {
    const y = px(sy(h.y));
    out.push(`<line class="hline" x1="${px(left)}" y1="${y}" x2="${px(right)}" y2="${y}" stroke="#555555" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    out.push(`<text class="hline-label" x="${px(right - 4)}" y="${px(sy(h.y) - 4)}" text-anchor="end" fill="#444444">${esc(h.label)}</text>`);
  }

  // data
  cleaned.forEach((pts, si) => {
    if (pts.length === 0) return;
    const colour = PALETTE[si % PALETTE.length];
    out.push(`<g class="series-group" fill="${colour}" stroke="${colour}">`);
    if (kind === 'line') {
      const sorted = pts.map((p, order) => ({ p, order })).sort((a, b) => a.p.x - b.p.x || a.order - b.order).map((e) => e.p);
      const coords = sorted.map((p) => `${px(sx(p.x))},${px(sy(p.y))}`).join(' ');
      out.push(`<polyline class="series" points="${coords}" fill="none" stroke-width="2" stroke-linejoin="round"/>`);
    }
    for (const p of pts) out.push(`<circle class="marker" cx="${px(sx(p.x))}" cy="${px(sy(p.y))}" r="3" stroke="none"/>`);
    if (kind === 'scatter') {
      const labels = opts.pointLabels?.[si];
      for (const p of pts) {
        const label = labels?.[p.index];
        if (label === undefined || label === '') continue;
        out.push(`<text class="point-label" x="${px(sx(p.x) + 5)}" y="${px(sy(p.y) - 5)}" font-size="10" stroke="none" fill="#333333">${esc(label)}</text>`);
      }
    }
    out.push('</g>');
  });

  // legend
  const lx = right + 16;
  out.push('<g class="legend">');
  series.forEach((s, si) => {
    const colour = PALETTE[si % PALETTE.length];
    const y = top + 8 + si * 18;
    const shown = truncate(s.name);
    out.push('<g class="legend-entry">');
    if (shown !== s.name) out.push(`<title>${esc(s.name)}</title>`);
    if (kind === 'line') out.push(`<line x1="${px(lx)}" y1="${px(y)}" x2="${px(lx + 20)}" y2="${px(y)}" stroke="${colour}" stroke-width="2"/>`);
    out.push(`<circle class="legend-marker" cx="${px(lx + 10)}" cy="${px(y)}" r="3" fill="${colour}"/>`);
    out.push(`<text x="${px(lx + 26)}" y="${px(y)}" dy="0.32em" fill="#222222">${esc(shown)}</text>`);
    out.push('</g>');
  });
  out.push('</g>');
  out.push('</svg>');
  return out.join('\n') + '\n';
}
