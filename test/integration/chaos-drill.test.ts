/**
 * The chaos drill's short form (`npm run chaos -- --short`) on the real stack: 3 steps on the engine double in a
 * process of its own, the GPU worker process killed with SIGKILL inside a policy update, and Temporal, FerretDB
 * and the double each killed and restarted once; then every check of the drill passes. The full drill (6 steps on
 * SkyRL, more kills) is run by hand: README, "Chaos drill".
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLines, runDrill } from '../../chaos/drill.js';
import { parseDrillArgs, type DrillSettings } from '../../chaos/options.js';
import { drillRunConfig } from '../../chaos/run-config.js';
import { loadEnv, REPO_ROOT } from '../../common/env.js';
import { createLogger } from '../../common/logger.js';
import { loadRunConfig } from '../../mel/node.js';
import { Stack } from '../../stack/stack.js';

describe('chaos drill (short form)', () => {
  it(
    'completes the run with every guarantee through worker kills and restarts of Temporal, FerretDB and the engine',
    // About 2 minutes on an idle 2-core machine; the bound is for a loaded one (the suite's other runs beside it).
    { timeout: 600_000 },
    async () => {
      const log = createLogger('chaos');
      const env = loadEnv();
      const stack = await Stack.prepare(log, env);
      const argv = ['--short', '--seed', '20261202', '--timeout-min', '8'];
      const settings = parseDrillArgs(argv) as DrillSettings;
      const template = await loadRunConfig(path.join(REPO_ROOT, 'configs', 'demo.json'));
      const config = drillRunConfig(template, settings);
      const summary = await runDrill(settings, { stack, env, log, config, command: argv.join(' ') });
      console.log(checkLines(summary).join('\n'));
      expect(summary.error).toBeUndefined();
      expect(summary.faults.map((record) => record.injected)).toEqual([true, true, true, true]);
      expect(summary.checks.filter((check) => !check.ok)).toEqual([]);
      expect(summary.checks).toHaveLength(10);
    },
  );
});
