/**
 * Starts, checks and stops the local stack (Temporal dev server, PostgreSQL, FerretDB, SkyRL engine) on loopback.
 * Pids live in MEL_STACK_DIR/state.json, so `up` in one process and `down` in another see the same stack.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadEnv, resolveEndpoints, type Env } from '../common/env.js';
import type { Logger } from '../common/logger.js';
import { withSpinner } from '../common/progress.js';
import { installStack, type InstalledStack } from './install.js';
import { requireFreePort } from './prereqs.js';
import { isAlive, logExcerpt, spawnService, stopProcessGroup } from './process.js';
import { serviceSpecs, stateDir, type ServiceName, type ServiceSpec } from './services.js';
import { checkWarmModel } from './warm-model.js';

interface ServiceState {
  pid: number;
  log: string;
  startedAt: string;
}

type StackState = Partial<Record<ServiceName, ServiceState>>;

export class ServiceStartError extends Error {
  override name = 'ServiceStartError';
}

export class Stack {
  private constructor(
    readonly env: Env,
    private readonly specs: ServiceSpec[],
    private readonly installed: InstalledStack,
    private readonly log: Logger,
  ) {}

  /** Installs what is missing (cached) and describes the services; starts nothing. */
  static async prepare(log: Logger, env: Env = loadEnv()): Promise<Stack> {
    const installed = await installStack(env, log);
    return Stack.fromInstalled(env, installed, log);
  }

  static fromInstalled(env: Env, installed: InstalledStack, log: Logger): Stack {
    return new Stack(env, serviceSpecs(env, resolveEndpoints(env), installed), installed, log);
  }

  get endpoints() {
    return resolveEndpoints(this.env);
  }

  /**
   * Starts every service the project runs itself (or those of `only`) and waits for them; returns those it
   * started.
   */
  async up(only?: readonly ServiceName[]): Promise<ServiceName[]> {
    const specs = only ? this.specs.filter((spec) => only.includes(spec.name)) : this.specs;
    if (specs.some((spec) => spec.name === 'engine')) await checkWarmModel(this.env, this.log);
    const started: ServiceName[] = [];
    for (const spec of specs) {
      if (spec.after) await this.waitUntilReady(this.spec(spec.after));
      if (await this.startIfNeeded(spec)) started.push(spec.name);
    }
    await this.waitForAll(specs, async (spec) => {
      try {
        await this.waitUntilReady(spec);
      } catch (error) {
        // A service of ours left running with other settings (say, the engine serving another model): restart it.
        if (!spec.launch || started.includes(spec.name) || error instanceof ServiceStartError) throw error;
        this.log.warn(
          { service: spec.name, reason: (error as Error).message },
          'restarting with the current settings',
        );
        await this.down([spec.name]);
        await this.startIfNeeded(spec);
        started.push(spec.name);
        await this.waitUntilReady(spec);
      }
    });
    return started;
  }

  /** Runs `wait` for every spec at once under one spinner that shows which of them answer already. */
  private async waitForAll(specs: ServiceSpec[], wait: (spec: ServiceSpec) => Promise<void>): Promise<void> {
    const ready = new Set<ServiceName>();
    const title = `waiting for ${specs.map((spec) => spec.name).join(', ')} to answer`;
    const options = { plain: (line: string) => this.log.info(line), heartbeatMs: 15_000 };
    await withSpinner(title, options, async (detail) => {
      const show = () =>
        detail(specs.map((spec) => `${spec.name} ${ready.has(spec.name) ? 'ready' : '…'}`).join(' · '));
      show();
      await Promise.all(
        specs.map(async (spec) => {
          await wait(spec);
          ready.add(spec.name);
          show();
        }),
      );
    });
  }

  async down(only?: ServiceName[]): Promise<void> {
    const state = await this.readState();
    for (const spec of [...this.specs].reverse()) {
      const entry = state[spec.name];
      if (!entry || (only && !only.includes(spec.name))) continue;
      if (isAlive(entry.pid)) {
        this.log.info({ service: spec.name, pid: entry.pid }, 'stopping');
        await stopProcessGroup(entry.pid);
      }
      delete state[spec.name];
    }
    await this.writeState(state);
  }

  /**
   * Kills a service (SIGKILL, no clean shutdown), leaves it down for `downtimeMs`, and starts it again on the same
   * state: a crash and recovery. Returns once it answers again (bounded by MEL_STACK_START_TIMEOUT_S).
   */
  async crashAndRestart(name: ServiceName, downtimeMs = 0): Promise<void> {
    const state = await this.readState();
    const entry = state[name];
    if (!entry) throw new Error(`${name} was not started by this stack`);
    await stopProcessGroup(entry.pid, 0, 'SIGKILL');
    delete state[name];
    await this.writeState(state);
    if (downtimeMs > 0) await sleep(downtimeMs);
    const spec = this.spec(name);
    await this.startIfNeeded(spec);
    await this.waitForAll([spec], (it) => this.waitUntilReady(it));
  }

  async status(): Promise<
    { name: ServiceName; describe: string; managed: boolean; pid?: number; ready: boolean }[]
  > {
    const state = await this.readState();
    return Promise.all(
      this.specs.map(async (spec) => {
        const pid = state[spec.name]?.pid;
        return {
          name: spec.name,
          describe: spec.describe,
          managed: Boolean(spec.launch),
          pid: pid && isAlive(pid) ? pid : undefined,
          ready: await spec.ready(),
        };
      }),
    );
  }

  logFile(name: ServiceName): string {
    return path.join(stateDir(this.env, name), `${name}.log`);
  }

  private spec(name: ServiceName): ServiceSpec {
    const spec = this.specs.find((candidate) => candidate.name === name);
    if (!spec) throw new Error(`unknown service ${name}`);
    return spec;
  }

  private async startIfNeeded(spec: ServiceSpec): Promise<boolean> {
    if (!spec.launch) return false;
    const state = await this.readState();
    const running = state[spec.name];
    if (running && isAlive(running.pid)) {
      this.log.info({ service: spec.name, pid: running.pid }, 'already running');
      return false;
    }
    for (const { port, envVar } of spec.launch.ports) await requireFreePort(port, spec.name, envVar);
    await mkdir(stateDir(this.env, spec.name), { recursive: true });
    await spec.launch.prepare?.(this.log);
    const log = this.logFile(spec.name);
    const { command, args, env, runAs } = spec.launch;
    const pid = spawnService(command, args, log, env, runAs);
    this.log.info({ service: spec.name, pid, log }, `starting ${spec.describe}`);
    state[spec.name] = { pid, log, startedAt: new Date().toISOString() };
    await this.writeState(state);
    return true;
  }

  private async waitUntilReady(spec: ServiceSpec): Promise<void> {
    const timeoutMs = this.env.MEL_STACK_START_TIMEOUT_S * 1000;
    const started = Date.now();
    while (!(await spec.ready())) {
      const pid = (await this.readState())[spec.name]?.pid;
      if (spec.launch && pid && !isAlive(pid)) {
        throw new ServiceStartError(await this.failure(spec, 'exited during start-up'));
      }
      if (Date.now() - started > timeoutMs) {
        const reason = `did not become ready within ${this.env.MEL_STACK_START_TIMEOUT_S} s (MEL_STACK_START_TIMEOUT_S)`;
        throw new ServiceStartError(await this.failure(spec, reason));
      }
      await sleep(250);
    }
    await spec.verify?.();
    this.log.info({ service: spec.name, seconds: (Date.now() - started) / 1000 }, `ready: ${spec.describe}`);
  }

  private async failure(spec: ServiceSpec, reason: string): Promise<string> {
    if (!spec.launch) return `${spec.describe} ${reason}; check that it is running and reachable`;
    return `${spec.name} ${reason}.\n${await logExcerpt(this.logFile(spec.name))}`;
  }

  private statePath(): string {
    return path.join(this.env.MEL_STACK_DIR, 'state.json');
  }

  private async readState(): Promise<StackState> {
    const file = this.statePath();
    return existsSync(file) ? (JSON.parse(await readFile(file, 'utf8')) as StackState) : {};
  }

  private async writeState(state: StackState): Promise<void> {
    await mkdir(this.env.MEL_STACK_DIR, { recursive: true });
    await writeFile(this.statePath(), `${JSON.stringify(state, null, 2)}\n`);
  }
}
