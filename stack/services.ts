/** The services of the local stack: how each is started and how we know it is ready. */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { MongoClient, type Document } from 'mongodb';
import type { Endpoints, Env } from '../common/env.js';
import { REPO_ROOT } from '../common/env.js';
import { redactCredentials } from '../common/redact.js';
import { TinkerClient } from '../engine/tinker.js';
import { temporalConnectionOptions } from '../temporal/connection.js';
import { SEARCH_ATTRIBUTES } from '../temporal/contracts/common.js';
import { childEnvironment } from '../common/child-env.js';
import type { Logger } from '../common/logger.js';
import { OFFLINE_ENV } from '../common/python-script.js';
import type { InstalledStack } from './install.js';
import {
  POSTGRES_MAX_CONNECTIONS,
  postgresAccepts,
  postgresLayout,
  postgresUrl,
  preparePostgres,
} from './postgres.js';
import { PrerequisiteError } from './prereqs.js';

/** What the SkyRL engine's runtime reads: JAX and XLA, CUDA, Python, Hugging Face's offline switches, libraries. */
const ENGINE_ENV = {
  names: ['LD_LIBRARY_PATH', 'CUDA_VISIBLE_DEVICES', 'PYTHONPATH', 'VIRTUAL_ENV', 'OMP_NUM_THREADS'],
  prefixes: ['JAX_', 'XLA_', 'CUDA_', 'NVIDIA_', 'HF_', 'TRANSFORMERS_', 'TOKENIZERS_', 'SKYRL_'],
};

export type ServiceName = 'temporal' | 'postgres' | 'mongodb' | 'engine';

export interface ServiceSpec {
  name: ServiceName;
  /** Set when the project starts the service itself; unset when the user points at their own. */
  launch?: {
    command: string;
    args: string[];
    env: NodeJS.ProcessEnv;
    ports: { port: number; envVar: string }[];
    /** Set as root for a service that refuses to run as root. */
    runAs?: { uid: number; gid: number };
    /** Runs before every start: one-time set-up, checks of the state it will run on. */
    prepare?(log: Logger): void | Promise<void>;
  };
  /** A service of the stack that must answer before this one starts. */
  after?: ServiceName;
  /** Resolves true once the service answers real requests. */
  ready(): Promise<boolean>;
  /** Once ready: throws if the service is not the one the configuration expects. */
  verify?(): Promise<void>;
  describe: string;
}

const SEARCH_ATTRIBUTE_TYPE_NAMES: Record<string, string> = {
  KEYWORD: 'Keyword',
  INT: 'Int',
  TEXT: 'Text',
  BOOL: 'Bool',
  DOUBLE: 'Double',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

export function temporalSearchAttributeArgs(): string[] {
  return SEARCH_ATTRIBUTES.flatMap((key) => [
    '--search-attribute',
    `${key.name}=${SEARCH_ATTRIBUTE_TYPE_NAMES[key.type] ?? key.type}`,
  ]);
}

export function stateDir(env: Env, service: ServiceName): string {
  return path.join(env.MEL_STACK_DIR, service);
}

type Launch = NonNullable<ServiceSpec['launch']>;

/** How the stack starts a service it installed; none when the user points at their own (`external` is set). */
function launchUnlessExternal(
  command: string | undefined,
  external: string | undefined,
  launch: Omit<Launch, 'command'>,
): Launch | undefined {
  return command && !external ? { command, ...launch } : undefined;
}

export function serviceSpecs(env: Env, endpoints: Endpoints, installed: InstalledStack): ServiceSpec[] {
  return [
    temporalSpec(env, endpoints, installed),
    ...(installed.postgres && !env.MONGODB_URI ? [postgresSpec(env, installed.postgres)] : []),
    mongoSpec(env, endpoints, installed),
    engineSpec(env, endpoints, installed),
  ];
}

function temporalSpec(env: Env, endpoints: Endpoints, installed: InstalledStack): ServiceSpec {
  const launch = launchUnlessExternal(installed.temporalCli, env.temporal.address, {
    args: [
      'server',
      'start-dev',
      '--db-filename',
      path.join(stateDir(env, 'temporal'), 'temporal.db'),
      '--ip',
      '127.0.0.1',
      '--port',
      String(env.MEL_TEMPORAL_PORT),
      '--ui-port',
      String(env.MEL_TEMPORAL_UI_PORT),
      '--log-level',
      'warn',
      ...temporalSearchAttributeArgs(),
    ],
    env: childEnvironment(process.env, { prefixes: ['TEMPORAL_'] }),
    ports: [
      { port: env.MEL_TEMPORAL_PORT, envVar: 'MEL_TEMPORAL_PORT' },
      { port: env.MEL_TEMPORAL_UI_PORT, envVar: 'MEL_TEMPORAL_UI_PORT' },
    ],
  });
  return {
    name: 'temporal',
    launch,
    describe: `Temporal at ${endpoints.temporalAddress} (namespace ${endpoints.temporalNamespace})`,
    ready: () => temporalReady(endpoints),
  };
}

function temporalReady(endpoints: Endpoints): Promise<boolean> {
  return answers(
    () => Connection.connect({ ...temporalConnectionOptions(endpoints), connectTimeout: 2_000 }),
    (connection) => connection.workflowService.describeNamespace({ namespace: endpoints.temporalNamespace }),
    (connection) => connection.close(),
  );
}

/** Whether a service answers `check` on a fresh client; the client is closed either way. */
async function answers<Client>(
  open: () => Client | Promise<Client>,
  check: (client: Client) => Promise<unknown>,
  close: (client: Client) => Promise<unknown>,
): Promise<boolean> {
  let client: Client | undefined;
  try {
    client = await open();
    await check(client);
    return true;
  } catch {
    return false;
  } finally {
    if (client !== undefined) await close(client).catch(() => undefined);
  }
}

function postgresSpec(env: Env, binaries: NonNullable<InstalledStack['postgres']>): ServiceSpec {
  const home = stateDir(env, 'postgres');
  const layout = postgresLayout(home, binaries);
  return {
    name: 'postgres',
    launch: {
      command: path.join(layout.bin, 'postgres'),
      args: [
        '-D',
        layout.data,
        '-p',
        String(env.MEL_POSTGRES_PORT),
        '-h',
        '127.0.0.1',
        '-c',
        'unix_socket_directories=',
        '-c',
        `max_connections=${POSTGRES_MAX_CONNECTIONS}`,
      ],
      env: childEnvironment(process.env, { names: ['PGTZ'] }),
      ports: [{ port: env.MEL_POSTGRES_PORT, envVar: 'MEL_POSTGRES_PORT' }],
      runAs: layout.runAs,
      prepare: (log) => preparePostgres(home, layout, binaries, log),
    },
    describe: `PostgreSQL ${binaries.version.split('-')[0]} at 127.0.0.1:${env.MEL_POSTGRES_PORT} (FerretDB's backend; data in ${layout.data})`,
    ready: () => Promise.resolve(postgresAccepts(layout.data)),
  };
}

function mongoSpec(env: Env, endpoints: Endpoints, installed: InstalledStack): ServiceSpec {
  const sqliteDir = path.join(stateDir(env, 'mongodb'), 'data');
  const onPostgres = Boolean(installed.postgres);
  const backendArgs = onPostgres
    ? ['--handler', 'postgresql', '--postgresql-url', postgresUrl(env)]
    : ['--handler', 'sqlite', '--sqlite-dir', sqliteDir];
  const launch = launchUnlessExternal(installed.ferretdb, env.MONGODB_URI, {
    args: ['--listen-addr', `127.0.0.1:${env.MEL_FERRETDB_PORT}`, ...backendArgs, '--log-level', 'error'],
    env: childEnvironment(process.env, { prefixes: ['FERRETDB_'] }),
    ports: [{ port: env.MEL_FERRETDB_PORT, envVar: 'MEL_FERRETDB_PORT' }],
    prepare: onPostgres ? () => refuseSqliteStore(sqliteDir) : undefined,
  });
  const backend = onPostgres ? 'PostgreSQL' : 'SQLite';
  return {
    name: 'mongodb',
    launch,
    after: onPostgres ? 'postgres' : undefined,
    describe: `MongoDB protocol at ${redactCredentials(endpoints.mongoUri)}${launch ? ` (FerretDB, ${backend})` : ''}`,
    ready: () => mongoReady(endpoints.mongoUri, launch ? { listDatabases: 1, nameOnly: true } : { ping: 1 }),
  };
}

/** A stack directory from before the PostgreSQL backend holds its data in SQLite files, which it would not see. */
export function refuseSqliteStore(sqliteDir: string): void {
  const files = safeList(sqliteDir).filter((name) => name.endsWith('.sqlite'));
  if (files.length === 0) return;
  throw new PrerequisiteError(
    `${sqliteDir} holds a store of an earlier version on SQLite (${files.join(', ')}); the local store is now ` +
      'FerretDB on PostgreSQL, which would start empty beside it.',
    `keep using it with MEL_FERRETDB_BACKEND=sqlite (every query but by _id scans its collection), or move it ` +
      `away (mv ${sqliteDir} ${sqliteDir}.old) to start on PostgreSQL with an empty store`,
  );
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Ready once it answers `command`: our FerretDB lists databases (it answers a ping before its backend does). */
function mongoReady(uri: string, command: Document): Promise<boolean> {
  return answers(
    () => new MongoClient(uri, { serverSelectionTimeoutMS: 2_000, connectTimeoutMS: 2_000 }),
    async (client) => (await client.connect()).db('admin').command(command),
    (client) => client.close(),
  );
}

/** JAX settings for the tiny model on a CPU; MEL_ENGINE_BACKEND_CONFIG (JSON) overrides them. */
const DEFAULT_BACKEND_CONFIG = {
  max_lora_adapters: 16,
  max_lora_rank: 16,
  train_micro_batch_size: 8,
  sample_max_num_sequences: 16,
};

function engineSpec(env: Env, endpoints: Endpoints, installed: InstalledStack): ServiceSpec {
  const dir = stateDir(env, 'engine');
  const backendConfig = {
    ...DEFAULT_BACKEND_CONFIG,
    ...JSON.parse(process.env.MEL_ENGINE_BACKEND_CONFIG ?? '{}'),
  };
  const launch = launchUnlessExternal(installed.python, env.MEL_ENGINE_URL, {
    args: [
      path.join(REPO_ROOT, 'engine', 'python', 'serve.py'),
      '--base-model',
      endpoints.baseModel,
      '--backend',
      'jax',
      '--backend-config',
      JSON.stringify(backendConfig),
      '--database-url',
      `sqlite:///${path.join(dir, 'tinker.db')}`,
      '--checkpoints-base',
      path.join(dir, 'checkpoints'),
      '--session-cleanup-interval-sec',
      '-1',
      '--host',
      '127.0.0.1',
      '--port',
      String(env.MEL_ENGINE_PORT),
    ],
    env: childEnvironment(process.env, ENGINE_ENV, {
      ...OFFLINE_ENV,
      JAX_PLATFORMS: process.env.JAX_PLATFORMS ?? 'cpu',
    }),
    ports: [{ port: env.MEL_ENGINE_PORT, envVar: 'MEL_ENGINE_PORT' }],
  });
  const client = new TinkerClient({ baseUrl: endpoints.engineUrl, requestTimeoutMs: 5_000, maxRetries: 0 });
  return {
    name: 'engine',
    launch,
    describe: `Tinker engine at ${redactCredentials(endpoints.engineUrl)} serving ${endpoints.baseModel}`,
    ready: () => client.healthy(),
    verify: async () => {
      const models = await client.supportedModels();
      if (models.length > 0 && !models.includes(endpoints.baseModel)) {
        throw new Error(
          `the engine at ${endpoints.engineUrl} serves ${models.join(', ')}, not ${endpoints.baseModel}; ` +
            'set MEL_BASE_MODEL to one of those, or point MEL_ENGINE_URL at an engine that serves it',
        );
      }
    },
  };
}
