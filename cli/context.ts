/** What every command needs: the endpoints, lazily opened connections, output in text or JSON, and errors. */
import type { Client } from '@temporalio/client';
import type { Db } from 'mongodb';
import { resolveEndpoints, type Endpoints } from '../common/env.js';
import { redactCredentials, redactedMessage } from '../common/redact.js';
import type { RunDoc } from '../store/documents.js';
import { ensureIndexes } from '../store/indexes.js';
import { findRun } from '../store/queries.js';
import { connectMongo, type MongoHandle } from '../store/mongo.js';
import { connectClient } from '../temporal/connection.js';
import { processTracing } from '../telemetry/tracing.js';

/** An error meant for the user: printed as one message, without a stack trace. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** `--step <n>`: a step number (from 0). */
export function parseStepOption(value: string): number {
  const step = Number(value);
  if (!Number.isInteger(step) || step < 0)
    throw new CliError(`--step expects a step number (0, 1, ...), got ${value}`);
  return step;
}

export interface OutputOptions {
  json?: boolean;
}

export class CliContext {
  readonly endpoints: Endpoints = resolveEndpoints();
  private temporal?: Promise<Client>;
  private mongo?: Promise<MongoHandle>;

  client(): Promise<Client> {
    this.temporal ??= connectClient(this.endpoints).catch((error: unknown) => {
      throw new CliError(
        `cannot reach Temporal at ${this.endpoints.temporalAddress}: ${redactedMessage(error)}`,
      );
    });
    return this.temporal;
  }

  async db(): Promise<Db> {
    this.mongo ??= connectMongo(this.endpoints).then(
      async (handle) => {
        await ensureIndexes(handle.db);
        return handle;
      },
      (error: unknown) => {
        throw new CliError(
          redactCredentials(`cannot reach MongoDB at ${this.endpoints.mongoUri}: ${String(error)}`),
        );
      },
    );
    return (await this.mongo).db;
  }

  /** The run's document, or the error a user sees for a name no run has. */
  async run(runId: string): Promise<RunDoc> {
    const run = await findRun(await this.db(), runId);
    if (!run) throw new CliError(`no run named ${runId}: see \`mel runs\``);
    return run;
  }

  async close(): Promise<void> {
    const [temporal, mongo] = await Promise.allSettled([this.temporal, this.mongo]);
    if (temporal.status === 'fulfilled') await temporal.value?.connection.close();
    if (mongo.status === 'fulfilled') await mongo.value?.close();
    await processTracing()?.flush();
  }
}

/** Prints `value` as JSON with --json, else the text `render` makes of it. */
export function emit<T>(options: OutputOptions, value: T, render: (value: T) => string): void {
  process.stdout.write(options.json ? `${JSON.stringify(value, null, 2)}\n` : `${render(value)}\n`);
}

/** Runs a command's body with a context that is closed afterwards, whatever happens. */
export function withContext<A extends unknown[]>(body: (context: CliContext, ...args: A) => Promise<void>) {
  return async (...args: A): Promise<void> => {
    const context = new CliContext();
    try {
      await body(context, ...args);
    } finally {
      await context.close();
    }
  };
}
