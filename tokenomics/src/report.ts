// What a run leaves behind: the time series as CSV, line charts as SVG (drawn here: a chart is a
// few polylines and axes, and the report must open offline), and a one-page HTML report.
import type { EpochRow, RunResult } from './engine.ts';

type Column = { name: string; value: (r: EpochRow) => number | string | null };

function columns(series: readonly EpochRow[]): Column[] {
  const cohorts = Object.keys(series[0]?.byCohort ?? {});
  const plain: (keyof EpochRow)[] = [
    'epoch',
    'demandUsd',
    'servedUsd',
    'capacity',
    'utilization',
    'supply',
    'supplyUnits',
    'circulating',
    'staked',
    'price',
    'equilibriumPrice',
    'burned',
    'minted',
    'burnMintRatio',
    'marketCapUsd',
    'providers',
    'entered',
    'exited',
    'churn',
    'topTenShare',
    'undistributed',
  ];
  return [
    ...plain.map((k) => ({ name: k, value: (r: EpochRow) => r[k] as number | string | null })),
    ...cohorts.map((c) => ({ name: `providers.${c}`, value: (r: EpochRow) => r.byCohort[c] ?? 0 })),
    ...cohorts.map((c) => ({ name: `roi.${c}`, value: (r: EpochRow) => r.roi[c] ?? null })),
    ...cohorts.map((c) => ({ name: `paybackEpochs.${c}`, value: (r: EpochRow) => r.paybackEpochs[c] ?? null })),
  ];
}

/** The series, one row per epoch (an empty cell is a value that does not exist, e.g. a ratio with no mint). */
export function seriesCsv(result: RunResult): string {
  const cols = columns(result.series);
  const lines = [cols.map((c) => c.name).join(',')];
  for (const r of result.series) lines.push(cols.map((c) => cell(c.value(r))).join(','));
  return `${lines.join('\n')}\n`;
}

const cell = (v: number | string | null): string => (v === null ? '' : typeof v === 'number' ? String(v) : v);

export type Line = { name: string; values: readonly (number | null)[] };

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

/** A line chart: x is the epoch, one polyline per line (gaps where a value is null), y from 0 or log-scaled. */
export function lineChartSvg(title: string, lines: readonly Line[], o: { log?: boolean; width?: number; height?: number } = {}): string {
  const W = o.width ?? 640;
  const H = o.height ?? 260;
  const pad = { l: 64, r: 12, t: 28, b: 40 };
  const n = Math.max(0, ...lines.map((l) => l.values.length));
  const finite = lines.flatMap((l) => l.values.filter((v): v is number => v !== null && Number.isFinite(v) && (!o.log || v > 0)));
  let lo = o.log ? Math.min(...finite) : Math.min(0, ...finite);
  let hi = Math.max(...finite);
  if (!finite.length) [lo, hi] = [0, 1];
  if (hi === lo) hi = lo + (Math.abs(lo) || 1);
  // A log axis shows eight decades below the top: a price collapsing to nothing stays readable.
  if (o.log) lo = Math.max(lo, hi / 1e8);
  const f = (v: number) => (o.log ? Math.log10(v) : v);
  const x = (i: number) => pad.l + ((W - pad.l - pad.r) * i) / Math.max(1, n - 1);
  const y = (v: number) => H - pad.b - ((H - pad.t - pad.b) * (f(v) - f(lo))) / (f(hi) - f(lo));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${pad.l}" y="16" font-size="13" font-weight="bold">${escapeXml(title)}</text>`,
    `<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="#888"/>`,
    `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" stroke="#888"/>`,
  ];
  for (let k = 0; k <= 4; k++) {
    const v = o.log ? 10 ** (f(lo) + ((f(hi) - f(lo)) * k) / 4) : lo + ((hi - lo) * k) / 4;
    parts.push(
      `<line x1="${pad.l - 4}" y1="${y(v).toFixed(1)}" x2="${W - pad.r}" y2="${y(v).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${pad.l - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${formatTick(v)}</text>`,
    );
  }
  for (let k = 0; k <= 4; k++) {
    const i = Math.round(((n - 1) * k) / 4);
    parts.push(`<text x="${x(i).toFixed(1)}" y="${H - pad.b + 16}" text-anchor="middle">${i}</text>`);
  }
  parts.push(`<text x="${(W + pad.l) / 2}" y="${H - 6}" text-anchor="middle">epoch</text>`);
  for (const [j, line] of lines.entries()) {
    const color = PALETTE[j % PALETTE.length]!;
    let d = '';
    let pen = false;
    for (const [i, v] of line.values.entries()) {
      if (v === null || !Number.isFinite(v) || (o.log && v <= 0)) {
        pen = false; // a gap
        continue;
      }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)} ${y(Math.max(lo, Math.min(hi, v))).toFixed(1)}`;
      pen = true;
    }
    if (d) parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
    parts.push(
      `<rect x="${W - pad.r - 150}" y="${pad.t + 4 + 14 * j}" width="10" height="3" fill="${color}"/>`,
      `<text x="${W - pad.r - 136}" y="${pad.t + 9 + 14 * j}">${escapeXml(line.name)}</text>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n');
}

function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1e9) return `${(v / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e3) return `${(v / 1e3).toPrecision(3)}k`;
  return v.toPrecision(3);
}

const escapeXml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The report's charts, by file name. */
export function charts(result: RunResult): Record<string, string> {
  const s = result.series;
  const cohorts = Object.keys(s[0]?.byCohort ?? {});
  return {
    'price.svg': lineChartSvg(
      'Token price (USD) and the BME equilibrium D / M',
      [
        { name: 'price', values: s.map((r) => r.price) },
        { name: 'equilibrium D/M', values: s.map((r) => r.equilibriumPrice) },
      ],
      { log: true },
    ),
    'supply.svg': lineChartSvg('Supply and circulating (tokens)', [
      { name: 'supply', values: s.map((r) => r.supply) },
      { name: 'circulating', values: s.map((r) => r.circulating) },
    ]),
    'burn-mint.svg': lineChartSvg('Burned and minted per epoch (tokens)', [
      { name: 'burned', values: s.map((r) => r.burned) },
      { name: 'minted', values: s.map((r) => r.minted) },
    ]),
    'providers.svg': lineChartSvg('Providers by cohort', [
      { name: 'all', values: s.map((r) => r.providers) },
      ...cohorts.map((c) => ({ name: c, values: s.map((r) => r.byCohort[c] ?? 0) })),
    ]),
    'utilization.svg': lineChartSvg('Utilization, churn and the top-10 share of rewards', [
      { name: 'utilization', values: s.map((r) => r.utilization) },
      { name: 'churn', values: s.map((r) => r.churn) },
      { name: 'top-10 share', values: s.map((r) => r.topTenShare) },
    ]),
    'roi.svg': lineChartSvg(
      'Provider ROI by cohort (lifetime operating profit / capex)',
      cohorts.map((c) => ({ name: c, values: s.map((r) => r.roi[c] ?? null) })),
    ),
  };
}

/** A one-page HTML report: the verdict, the headline figures, and the charts inline. */
export function htmlReport(result: RunResult, extra: { title?: string; notes?: string[] } = {}): string {
  const s = result.series;
  const first = s[0];
  const last = s.at(-1);
  const figure = (label: string, v: string) => `<tr><th>${escapeXml(label)}</th><td>${escapeXml(v)}</td></tr>`;
  const tokens = (u: string) => (Number(BigInt(u) / 10n ** 12n) / 1e6).toLocaleString('en-US', { maximumFractionDigits: 0 });
  const rows = [
    figure(
      'verdict',
      `${result.verdict.kind}${result.verdict.epoch === null ? '' : ` (epoch ${result.verdict.epoch})`}: ${result.verdict.reason}`,
    ),
    figure('mechanism', result.mechanism),
    figure('seed', String(result.seed)),
    figure('epochs', String(s.length)),
    figure('supply', `${tokens(result.totals.initialSupplyUnits)} → ${tokens(result.totals.finalSupplyUnits)} tokens`),
    figure('minted / burned', `${tokens(result.totals.mintedUnits)} / ${tokens(result.totals.burnedUnits)} tokens`),
    figure('price', first && last ? `${first.price.toPrecision(4)} → ${last.price.toPrecision(4)} USD` : '-'),
    figure('providers', first && last ? `${first.providers} → ${last.providers}` : '-'),
  ];
  const svgs = Object.values(charts(result))
    .map((svg) => `<figure>${svg}</figure>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(extra.title ?? result.scenario)}</title>
<style>body{font-family:sans-serif;max-width:1340px;margin:1em auto;padding:0 1em}table{border-collapse:collapse}th,td{text-align:left;padding:2px 12px 2px 0;vertical-align:top}figure{display:inline-block;margin:6px}svg{max-width:100%;height:auto}</style>
</head><body>
<h1>${escapeXml(extra.title ?? result.scenario)}</h1>
<table>${rows.join('')}</table>
${(extra.notes ?? []).map((n) => `<p>${escapeXml(n)}</p>`).join('\n')}
${svgs}
</body></html>
`;
}
