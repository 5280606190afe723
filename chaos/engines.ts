/**
 * The engine a drill trains on, with what the drill does to it: restart it, and read the optimizer's own step
 * counter from a saved training state. The stack's SkyRL engine, or the engine double in a process of its own.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT, type Env } from '../common/env.js';
import type { Logger } from '../common/logger.js';
import { CheckpointStore, parseTinkerPath } from '../engine-double/checkpoints.js';
import type { EngineDoubleInput } from '../engine-double/options.js';
import { TinkerClient } from '../engine/tinker.js';
import { optimizerStepsIn } from '../stack/engine-checkpoints.js';
import { freePort, isAlive, spawnService, stopProcessGroup, tailOf } from '../stack/process.js';
import type { Stack } from '../stack/stack.js';
import { DrillAbort, waitFor } from './wait.js';

export interface DrillEngine {
  kind: 'skyrl' | 'double';
  url: string;
  describe: string;
  /** SIGKILL, down for `downtimeMs`, started again on the same saved state; returns once it answers. */
  restart(downtimeMs: number): Promise<void>;
  optimizerSteps(statePath: string): Promise<number>;
  /** Stops what the drill started (nothing for the stack's engine). */
  close(): Promise<void>;
}

/** The stack's own engine (SkyRL on the CPU), restarted through the stack. */
export function stackEngine(stack: Stack, env: Env): DrillEngine {
  return {
    kind: 'skyrl',
    url: stack.endpoints.engineUrl,
    describe: `the stack's SkyRL engine at ${stack.endpoints.engineUrl}`,
    restart: (downtimeMs) => stack.crashAndRestart('engine', downtimeMs),
    optimizerSteps: (statePath) => optimizerStepsIn(statePath, env),
    close: async () => undefined,
  };
}

export interface DoubleProcessOptions {
  /** Where its log, its options and its saved checkpoints go. */
  dir: string;
  options: Omit<EngineDoubleInput, 'port' | 'checkpointDir'>;
  startTimeoutMs: number;
  log: Logger;
}

/**
 * The engine double as a process of its own on a fixed port, keeping its checkpoints on disk so that a restarted
 * double can load the states saved before; everything else it held (models, futures) is lost, as with SkyRL.
 */
export async function doubleProcessEngine({
  dir,
  options,
  startTimeoutMs,
  log,
}: DoubleProcessOptions): Promise<DrillEngine> {
  const port = await freePort();
  const checkpointDir = path.join(dir, 'double-checkpoints');
  const config = path.join(dir, 'double-options.json');
  await writeFile(config, JSON.stringify({ ...options, port, checkpointDir }, null, 2));
  const logFile = path.join(dir, 'engine-double.log');
  const url = `http://127.0.0.1:${port}`;
  const client = new TinkerClient({ baseUrl: url, requestTimeoutMs: 2_000, maxRetries: 0 });
  const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
  const script = path.join(REPO_ROOT, 'engine-double', 'main.ts');
  let pid = 0;

  const start = async () => {
    pid = spawnService(tsx, [script, '--config', config], logFile, {
      ...process.env,
      MEL_LOG_FORMAT: 'json',
    });
    const started = pid;
    try {
      await waitFor(`the engine double at ${url} to answer`, startTimeoutMs, async () => {
        if (!isAlive(started)) throw new DrillAbort('the engine double exited during start-up');
        return (await client.healthy()) || undefined;
      });
    } catch (error) {
      const why = (error as Error).message;
      throw new Error(`${why}; last lines of ${logFile}:\n${await tailOf(logFile)}`, { cause: error });
    }
    log.info({ engine: 'double', url, pid, log: logFile }, 'engine double answers');
  };

  await start();
  return {
    kind: 'double',
    url,
    describe: `the engine double at ${url} (a process of its own, checkpoints in ${checkpointDir})`,
    restart: async (downtimeMs) => {
      await stopProcessGroup(pid, 0, 'SIGKILL');
      await sleep(downtimeMs);
      await start();
    },
    optimizerSteps: async (statePath) => {
      const parsed = parseTinkerPath(statePath);
      if (!parsed || parsed.kind !== 'weights') throw new Error(`not a training-state path: ${statePath}`);
      const saved = new CheckpointStore(checkpointDir).find('training', parsed.modelId, parsed.name);
      if (!saved)
        throw new Error(`the engine double saved no training state ${statePath} in ${checkpointDir}`);
      return saved.optimizerSteps;
    },
    close: () => stopProcessGroup(pid),
  };
}
