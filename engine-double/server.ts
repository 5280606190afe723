import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { loadEnv, resolveEndpoints, tinyModelDir } from '../common/env.js';
import type { Logger } from '../common/logger.js';
import { generateBuiltinDataset } from '../mel/builtin-dataset.js';
import { loadProblemsFile, loadTokenizer } from '../mel/node.js';
import type { Problem } from '../mel/types.js';
import { verifyTrustedSolution } from '../mel/verifier.js';
import { createAnswerBook } from './answers.js';
import { DoubleCore } from './core.js';
import { FaultInjector } from './faults.js';
import { createHttpDouble } from './http.js';
import type { TimelineReport } from './latency.js';
import { OptionsError, parseOptions, type EngineDoubleInput, type EngineDoubleOptions } from './options.js';

// The engine double: a real HTTP server that speaks the Tinker wire format the way SkyRL serves it, with a fake,
// deterministic model behind it. Start it in-process with startEngineDouble, or as a process with main.ts.

export interface EngineDoubleStats {
  requests: Record<string, number>;
  futures: { pending: number; settled: number };
  /** Milliseconds in which the latency model had the engine busy. */
  busyMs: number;
  /** The configured slot limit (0: none): slot utilisation = busy slot-seconds / (this × window). */
  maxConcurrentSequences: number;
  timeline: { intervals: number; dropped: number };
  optimizer: ReturnType<DoubleCore['models']['summary']>;
  checkpoints: number;
  samples: DoubleCore['counts'];
}

export interface EngineDouble {
  url: string;
  /** The options in effect, defaults filled in. */
  options: EngineDoubleOptions & { baseModel: string; tokenizerDir: string };
  stats(): EngineDoubleStats;
  /** Engine work intervals that ended at or after `sinceMs` (all when absent); see timeline.ts. */
  timeline(sinceMs?: number): TimelineReport;
  clearTimeline(): void;
  close(): Promise<void>;
}

export interface EngineDoubleExtras {
  /** Extra problems the double knows the answers to (in-process only). */
  problems?: readonly Problem[];
  logger?: Logger;
}

async function knownProblems(options: EngineDoubleOptions, extra: readonly Problem[]): Promise<Problem[]> {
  const { builtinSeed, builtinCount, file } = options.dataset;
  const fromFile = file ? (await loadProblemsFile(file)).problems : [];
  return [...generateBuiltinDataset({ seed: builtinSeed, count: builtinCount }), ...fromFile, ...extra];
}

function withDefaults(options: EngineDoubleOptions) {
  const env = loadEnv();
  return {
    ...options,
    baseModel: options.baseModel ?? resolveEndpoints(env).baseModel,
    tokenizerDir: options.tokenizerDir ?? tinyModelDir(env),
  };
}

export async function startEngineDouble(
  input: EngineDoubleInput = {},
  extras: EngineDoubleExtras = {},
): Promise<EngineDouble> {
  const options = withDefaults(parseOptions(input));
  if (!existsSync(path.join(options.tokenizerDir, 'tokenizer.json'))) {
    throw new OptionsError(
      `tokenizerDir: no tokenizer.json in ${options.tokenizerDir} (the stack builds the tiny model; or pass another model folder)`,
    );
  }
  const tokenizer = loadTokenizer(options.tokenizerDir);
  const core = new DoubleCore({
    options,
    baseModel: options.baseModel,
    codec: tokenizer,
    answers: createAnswerBook(await knownProblems(options, extras.problems ?? [])),
    // The double checks only answers it wrote itself: the in-process verifier needs no deadline.
    isCorrect: (text, answer) => verifyTrustedSolution(text, answer).correct,
  });
  const stats = (): EngineDoubleStats => ({
    requests: { ...http.requestCounts },
    futures: core.futures.counts(),
    busyMs: core.latency.busyMs(),
    maxConcurrentSequences: core.latency.options.maxConcurrentSequences,
    timeline: { intervals: core.latency.timeline.size, dropped: core.latency.timeline.dropped },
    optimizer: core.models.summary(),
    checkpoints: core.checkpoints.size,
    samples: { ...core.counts },
  });
  const http = createHttpDouble(core, {
    faults: new FaultInjector(options.faults),
    ...(extras.logger ? { logger: extras.logger } : {}),
    stats,
  });
  await new Promise<void>((resolve, reject) => {
    http.server.once('error', reject);
    http.server.listen(options.port, options.host, resolve);
  });
  const { port } = http.server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}`,
    options,
    stats,
    timeline: (sinceMs) => core.latency.timelineReport(sinceMs),
    clearTimeline: () => core.latency.timeline.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        http.server.closeAllConnections();
        http.server.close(() => resolve());
      }),
  };
}
