/** A line chart rendered to PNG (resvg, system fonts). */
import { Resvg } from '@resvg/resvg-js';
import { lineChartSvg, type LineChart } from './chart.js';

export function lineChartPng(chart: LineChart): { png: Buffer; width: number; height: number } {
  const rendered = new Resvg(lineChartSvg(chart), { font: { loadSystemFonts: true } }).render();
  return { png: rendered.asPng(), width: rendered.width, height: rendered.height };
}
