import type { RunConfig } from '../mel/run-config.js';
import type { DrillSettings } from './options.js';

/** The drill's run: the demo's configuration (configs/demo.json) with the drill's steps and batch, under its own id. */
export function drillRunConfig(
  template: RunConfig,
  settings: Pick<DrillSettings, 'seed' | 'steps' | 'batchSize' | 'short'>,
  now: Date = new Date(),
): RunConfig {
  const stamp = now.toISOString().replace(/\D/g, '').slice(0, 14);
  return {
    ...template,
    runId: `chaos${settings.short ? '-short' : ''}-${settings.seed}-${stamp}`,
    steps: settings.steps,
    batchSize: settings.batchSize,
  };
}
