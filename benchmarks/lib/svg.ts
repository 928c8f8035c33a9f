/**
 * Two tiny SVG charts for the benchmark figures (no dependency): a line chart (hit ratio against
 * cache size) and a horizontal bar chart (speed ratios against a goal). Plain SVG 1.1 text, so
 * GitHub renders it inline in Markdown and a diff shows what changed.
 */

const FONT = 'font-family="system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif"';
const COLORS = ['#d62728', '#1f77b4', '#7f7f7f', '#2ca02c', '#9467bd', '#ff7f0e'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const num = (x: number) => (Math.round(x * 10) / 10).toString();

export interface Series {
  name: string;
  /** One y per x of the chart. */
  values: readonly number[];
  dashed?: boolean;
}

/**
 * A line chart with a log-scaled x axis when the xs span more than a factor of 20 (cache sizes),
 * y from 0 to the next multiple of 10 above the largest value.
 */
export function lineChart(options: {
  title: string;
  xLabel: string;
  yLabel: string;
  xs: readonly number[];
  series: readonly Series[];
}): string {
  const { title, xLabel, yLabel, xs, series } = options;
  const W = 640;
  const H = 360;
  const left = 56;
  const right = 150;
  const top = 36;
  const bottom = 48;
  const pw = W - left - right;
  const ph = H - top - bottom;
  const log = xs[xs.length - 1]! / xs[0]! > 20;
  const fx = (x: number) => (log ? Math.log(x) : x);
  const x0 = fx(xs[0]!);
  const x1 = fx(xs[xs.length - 1]!);
  const px = (x: number) => left + (x1 === x0 ? pw / 2 : ((fx(x) - x0) / (x1 - x0)) * pw);
  const yMax = Math.max(10, Math.ceil(Math.max(...series.flatMap((s) => s.values)) / 10) * 10);
  const py = (y: number) => top + ph - (y / yMax) * ph;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT} font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${left}" y="22" font-size="14" font-weight="600">${esc(title)}</text>`,
  ];
  for (let y = 0; y <= yMax; y += yMax / 5) {
    out.push(
      `<line x1="${left}" x2="${left + pw}" y1="${num(py(y))}" y2="${num(py(y))}" stroke="#e5e5e5"/>`,
      `<text x="${left - 6}" y="${num(py(y) + 4)}" text-anchor="end" fill="#555">${num(y)}</text>`,
    );
  }
  for (const x of xs) {
    out.push(
      `<line x1="${num(px(x))}" x2="${num(px(x))}" y1="${top + ph}" y2="${top + ph + 4}" stroke="#555"/>`,
      `<text x="${num(px(x))}" y="${top + ph + 16}" text-anchor="middle" fill="#555">${x.toLocaleString('en')}</text>`,
    );
  }
  out.push(
    `<line x1="${left}" x2="${left + pw}" y1="${top + ph}" y2="${top + ph}" stroke="#555"/>`,
    `<text x="${left + pw / 2}" y="${H - 10}" text-anchor="middle">${esc(xLabel)}${log ? ' (log scale)' : ''}</text>`,
    `<text transform="translate(16 ${top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = s.values.map((v, j) => `${num(px(xs[j]!))},${num(py(v))}`).join(' ');
    const dash = s.dashed ? ' stroke-dasharray="5 4"' : '';
    out.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
    for (let j = 0; j < s.values.length; j++)
      out.push(`<circle cx="${num(px(xs[j]!))}" cy="${num(py(s.values[j]!))}" r="3" fill="${color}"/>`);
    const ly = top + 10 + i * 20;
    out.push(
      `<line x1="${left + pw + 16}" x2="${left + pw + 40}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`,
      `<text x="${left + pw + 46}" y="${ly + 4}">${esc(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

export interface Bar {
  label: string;
  value: number;
  /** Drawn as a vertical mark on the bar's row; the bar is green when value ≤ goal, red above, grey without. */
  goal?: number;
}

/** Horizontal bars (one row each) on a linear axis from 0, with an optional goal mark per row. */
export function barChart(options: { title: string; xLabel: string; bars: readonly Bar[] }): string {
  const { title, xLabel, bars } = options;
  const W = 640;
  const row = 26;
  const left = 250;
  const right = 60;
  const top = 36;
  const bottom = 44;
  const H = top + bottom + row * bars.length;
  const pw = W - left - right;
  const vMax = Math.max(...bars.flatMap((b) => [b.value, b.goal ?? 0])) * 1.05;
  const px = (v: number) => left + (v / vMax) * pw;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT} font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="12" y="22" font-size="14" font-weight="600">${esc(title)}</text>`,
  ];
  const step = vMax > 8 ? 2 : vMax > 4 ? 1 : 0.5;
  for (let v = 0; v <= vMax; v += step) {
    out.push(
      `<line x1="${num(px(v))}" x2="${num(px(v))}" y1="${top}" y2="${top + row * bars.length}" stroke="#e5e5e5"/>`,
      `<text x="${num(px(v))}" y="${top + row * bars.length + 14}" text-anchor="middle" fill="#555">${v}×</text>`,
    );
  }
  bars.forEach((b, i) => {
    const y = top + i * row;
    // Green: goal met, red: missed, grey: no goal (for reference).
    const fill = b.goal === undefined ? '#9e9e9e' : b.value <= b.goal ? '#2ca02c' : '#d62728';
    out.push(
      `<text x="${left - 8}" y="${y + row / 2 + 4}" text-anchor="end">${esc(b.label)}</text>`,
      `<rect x="${left}" y="${y + 5}" width="${num(px(b.value) - left)}" height="${row - 10}" fill="${fill}"/>`,
      `<text x="${num(px(b.value) + 4)}" y="${y + row / 2 + 4}">${b.value.toFixed(2)}×</text>`,
    );
    if (b.goal !== undefined)
      out.push(
        `<line x1="${num(px(b.goal))}" x2="${num(px(b.goal))}" y1="${y + 2}" y2="${y + row - 2}" stroke="#000" stroke-width="2"/>`,
      );
  });
  out.push(`<text x="${left + pw / 2}" y="${H - 10}" text-anchor="middle">${esc(xLabel)}</text>`, '</svg>');
  return `${out.join('\n')}\n`;
}
