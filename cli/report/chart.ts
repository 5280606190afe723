/** Line charts as standalone SVG (rendered to PNG by resvg): per-step curves of a run. Pure. */

export interface Series {
  name: string;
  /** One value per x; null leaves a gap (e.g. no loss at a step without datums). */
  values: (number | null)[];
  /** Why the series has no value, shown in the legend when it has none (default: "no data"). */
  absentNote?: string;
}

export interface LineChart {
  title: string;
  yLabel: string;
  /** The x of each value: the step numbers (or what `xLabel` names). */
  x: number[];
  /** Default: step. */
  xLabel?: string;
  series: Series[];
  /** Fixed y range, e.g. [0, 1] for rates; else fitted to the data. */
  yRange?: [number, number];
  /**
   * 'inside' (default): a compact legend in the plot's top right corner. 'below': one row per series under the
   * plot, the image growing by a row each, for long names such as run ids (one line per run).
   */
  legend?: 'inside' | 'below';
}

export const CHART_SIZE = { width: 640, height: 360 } as const;
/** The height a 'below' legend adds per series. */
export const LEGEND_ROW = 16;
const MARGIN = { left: 64, right: 24, top: 44, bottom: 48 };
const COLORS = ['#1f77b4', '#2ca02c', '#d62728', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const DASHES = ['8 5', '3 4', '12 4 3 4'];
const FONT = 'font-family="DejaVu Sans, Arial, sans-serif"';

/** The image size of a chart: CHART_SIZE, taller by a row per series when the legend is below the plot. */
export function chartSize(chart: LineChart): { width: number; height: number } {
  const below = chart.legend === 'below' ? chart.series.length * LEGEND_ROW + 10 : 0;
  return { width: CHART_SIZE.width, height: CHART_SIZE.height + below };
}

export function lineChartSvg(chart: LineChart): string {
  const { width, height } = chartSize(chart);
  const plotHeight = CHART_SIZE.height;
  const plot = {
    x0: MARGIN.left,
    x1: width - MARGIN.right,
    y0: plotHeight - MARGIN.bottom,
    y1: MARGIN.top,
  };
  const [yMin, yMax] = chart.yRange ?? fittedRange(chart.series.flatMap((s) => s.values));
  const xMin = Math.min(...chart.x, 0);
  const xMax = Math.max(...chart.x, xMin + 1);
  const px = (x: number) => plot.x0 + ((x - xMin) / (xMax - xMin)) * (plot.x1 - plot.x0);
  const py = (y: number) => plot.y0 - ((y - yMin) / (yMax - yMin || 1)) * (plot.y0 - plot.y1);

  const yTicks = ticks(yMin, yMax, 5).map(
    (y) =>
      `<line x1="${plot.x0}" x2="${plot.x1}" y1="${py(y)}" y2="${py(y)}" stroke="#e5e5e5"/>` +
      `<text x="${plot.x0 - 6}" y="${py(y) + 4}" text-anchor="end" font-size="11" ${FONT}>${formatTick(y)}</text>`,
  );
  const xTicks = stepTicks(chart.x).map(
    (x) => `<text x="${px(x)}" y="${plot.y0 + 16}" text-anchor="middle" font-size="11" ${FONT}>${x}</text>`,
  );
  const lines = chart.series.map((series, i) => seriesSvg(series, chart.x, px, py, i));
  const legend = chart.series.map((series, i) => {
    const [x, y] =
      chart.legend === 'below'
        ? [plot.x0, plotHeight + 10 + i * LEGEND_ROW]
        : [plot.x1 - 150, MARGIN.top + 4 + i * LEGEND_ROW];
    const color = COLORS[i % COLORS.length]!;
    const marker =
      chart.legend === 'below'
        ? `<line x1="${x}" x2="${x + 24}" y1="${y - 3}" y2="${y - 3}" ${strokeStyle(i)}/>`
        : `<rect x="${x}" y="${y - 8}" width="10" height="10" fill="${color}"/>`;
    const textX = chart.legend === 'below' ? x + 32 : x + 14;
    return (
      marker +
      `<text x="${textX}" y="${y + 1}" font-size="11" ${FONT}>${escapeXml(legendName(series))}</text>`
    );
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold" ${FONT}>${escapeXml(chart.title)}</text>`,
    ...yTicks,
    `<line x1="${plot.x0}" x2="${plot.x1}" y1="${plot.y0}" y2="${plot.y0}" stroke="#333"/>`,
    `<line x1="${plot.x0}" x2="${plot.x0}" y1="${plot.y0}" y2="${plot.y1}" stroke="#333"/>`,
    ...xTicks,
    `<text x="${(plot.x0 + plot.x1) / 2}" y="${plotHeight - 10}" text-anchor="middle" font-size="12" ${FONT}>${escapeXml(chart.xLabel ?? 'step')}</text>`,
    `<text transform="translate(16 ${(plot.y0 + plot.y1) / 2}) rotate(-90)" text-anchor="middle" font-size="12" ${FONT}>${escapeXml(chart.yLabel)}</text>`,
    ...lines,
    ...legend,
    '</svg>',
  ].join('\n');
}

/** Later series are thinner and dashed, so one that coincides with an earlier one (reward = pass rate) stays visible. */
function seriesSvg(
  series: Series,
  x: number[],
  px: (x: number) => number,
  py: (y: number) => number,
  index: number,
): string {
  const color = COLORS[index % COLORS.length]!;
  const points = series.values.flatMap((value, i) =>
    value === null ? [] : [[px(x[i]!), py(value)] as const],
  );
  // Gaps (null) split the polyline, so a missing value is never drawn as if interpolated.
  const runs: string[][] = [[]];
  series.values.forEach((value, i) => {
    if (value === null) runs.push([]);
    else runs.at(-1)!.push(`${px(x[i]!).toFixed(1)},${py(value).toFixed(1)}`);
  });
  const polylines = runs
    .filter((run) => run.length > 1)
    .map((run) => `<polyline points="${run.join(' ')}" fill="none" ${strokeStyle(index)}/>`);
  const dots = points.map(
    ([cx, cy]) => `<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="3" fill="${color}"/>`,
  );
  return [...polylines, ...dots].join('\n');
}

/** The line of series number `index`: its colour, later ones thinner and dashed. */
function strokeStyle(index: number): string {
  const color = COLORS[index % COLORS.length]!;
  const width = Math.max(1.5, 3.5 - index * 0.75);
  const dash = index === 0 ? '' : ` stroke-dasharray="${DASHES[(index - 1) % DASHES.length]}"`;
  return `stroke="${color}" stroke-width="${width}"${dash}`;
}

function legendName(series: Series): string {
  return series.values.some((value) => value !== null)
    ? series.name
    : `${series.name} (${series.absentNote ?? 'no data'})`;
}

export function fittedRange(values: (number | null)[]): [number, number] {
  const known = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (known.length === 0) return [0, 1];
  let min = Math.min(...known, 0);
  let max = Math.max(...known);
  if (max === min) max = min + 1;
  const pad = (max - min) * 0.05;
  if (min < 0) min -= pad;
  max += pad;
  return [min, max];
}

export function ticks(min: number, max: number, count: number): number[] {
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const first = Math.ceil(min / step) * step;
  const result: number[] = [];
  for (let v = first; v <= max + step * 1e-9; v += step) result.push(Number(v.toPrecision(12)));
  return result;
}

function stepTicks(x: number[]): number[] {
  const every = Math.max(1, Math.ceil(x.length / 12));
  return x.filter((_, i) => i % every === 0);
}

function formatTick(value: number): string {
  return Math.abs(value) >= 1000 || (Math.abs(value) < 0.01 && value !== 0)
    ? value.toExponential(1)
    : String(value);
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
