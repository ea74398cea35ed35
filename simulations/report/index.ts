// Report output for `fedrec simulate` / `fedrec sweep`: CSV and Markdown
// tables, SVG charts. Browser-safe; callers write the returned strings.
export { formatNumber, parseCsv, toCsv, toMarkdownTable } from './csv.ts';
export { lineChart, niceTicks, type ChartOptions, type Series } from './svg.ts';
