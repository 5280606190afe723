/**
 * The drill's faults: a seeded random schedule over one run, so `--seed` replays the same drill. Pure.
 *
 * A fault fires at a moment of the run: once the run has reached (or passed) a stage of a step, after a delay. A
 * worker kill sends SIGKILL to worker processes and starts them again after a downtime; a kill during the policy
 * update waits until a policyUpdate activity is running and kills the process that runs it. A service restart
 * kills a service of the stack, leaves it down for the downtime, and starts it again on the same state.
 */
import { pickOne, randomInt, seededRandom, type Random } from '../mel/random.js';
import { STAGES, type StageName } from '../temporal/contracts/run.js';

/** The drill runs its workers as two processes: the CPU queue (workflows too), and both GPU queues. */
export const WORKER_GROUPS = {
  cpu: ['cpu'],
  gpu: ['gpuInference', 'gpuTraining'],
} as const;
export type WorkerGroup = keyof typeof WORKER_GROUPS;

export const SERVICES = ['temporal', 'mongodb', 'engine'] as const;
export type ChaosService = (typeof SERVICES)[number];

export interface Moment {
  step: number;
  stage: StageName;
  /** How long after the run reached `stage` of `step` (or was found past it) the fault fires. */
  afterMs: number;
}

interface FaultBase {
  /** `f1`, `f2`, … in the order the faults fire. */
  id: string;
  at: Moment;
  /** How long the killed processes stay down before they are started again. */
  downtimeMs: number;
}

export type Fault =
  | (FaultBase & {
      kind: 'kill-workers';
      targets: WorkerGroup[];
      /** Fire only while a policyUpdate activity runs (at `at.step` or, if that one is missed, a later step). */
      duringPolicyUpdate: boolean;
    })
  | (FaultBase & { kind: 'restart'; service: ChaosService });

/** A fault before it has its id. */
type Unnamed = Fault extends infer F ? (F extends Fault ? Omit<F, 'id'> : never) : never;

export interface ScheduleOptions {
  seed: number;
  steps: number;
  /** Worker kills at random moments, besides the ones during a policy update. */
  randomKills: number;
  /** Worker kills while a policyUpdate activity runs (at least one). */
  policyUpdateKills: number;
  /** Each restarted once. */
  services: readonly ChaosService[];
  /** Faults fire in steps 0..lastStep; later steps recover undisturbed. */
  lastStep: number;
  /** Delay of a random fault after its stage is reached: 0..maxAfterMs. */
  maxAfterMs: number;
  /** Delay of a policy-update kill after the activity is seen running: 0..this. */
  maxPolicyUpdateAfterMs: number;
  downtimeMs: { min: number; max: number };
}

export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

/** The position of a moment in the run: comparable across steps. */
export function position(step: number, stage: StageName): number {
  return step * STAGES.length + STAGES.indexOf(stage);
}

export function planFaults(options: ScheduleOptions): Fault[] {
  const { steps, lastStep, policyUpdateKills, randomKills, services } = options;
  if (!Number.isInteger(steps) || steps < 1) throw new ScheduleError(`steps must be ≥ 1, got ${steps}`);
  if (lastStep < 0 || lastStep >= steps) {
    throw new ScheduleError(`faults must fire in steps 0..${steps - 1}, got lastStep ${lastStep}`);
  }
  if (policyUpdateKills < 1) throw new ScheduleError('at least one kill must hit a policy update');
  if (new Set(services).size !== services.length) throw new ScheduleError('each service is restarted once');
  const random = seededRandom(options.seed);
  const downtime = () => randomInt(random, options.downtimeMs.min, options.downtimeMs.max);
  const anyMoment = (): Moment => ({
    step: randomInt(random, 0, lastStep),
    stage: pickOne(random, STAGES),
    afterMs: randomInt(random, 0, options.maxAfterMs),
  });

  const unordered: Unnamed[] = [];
  for (let i = 0; i < policyUpdateKills; i++) {
    unordered.push({
      kind: 'kill-workers',
      // The GPU process runs policyUpdate; sometimes the CPU one (and the workflows) goes down with it.
      targets: random() < 0.5 ? ['gpu'] : ['cpu', 'gpu'],
      duringPolicyUpdate: true,
      at: {
        step: randomInt(random, 0, lastStep),
        stage: 'policy-update',
        afterMs: randomInt(random, 0, options.maxPolicyUpdateAfterMs),
      },
      downtimeMs: downtime(),
    });
  }
  for (let i = 0; i < randomKills; i++) {
    unordered.push({
      kind: 'kill-workers',
      targets: pickOne<WorkerGroup[]>(random, [['cpu'], ['gpu'], ['cpu', 'gpu']]),
      duringPolicyUpdate: false,
      at: anyMoment(),
      downtimeMs: downtime(),
    });
  }
  for (const service of services) {
    unordered.push({ kind: 'restart', service, at: anyMoment(), downtimeMs: downtime() });
  }
  return unordered
    .map((fault, index) => ({ fault, index }))
    .sort(
      (a, b) =>
        position(a.fault.at.step, a.fault.at.stage) - position(b.fault.at.step, b.fault.at.stage) ||
        a.fault.at.afterMs - b.fault.at.afterMs ||
        a.index - b.index,
    )
    .map(({ fault }, i) => ({ ...fault, id: `f${i + 1}` }) as Fault);
}

/** One line per fault, for logs and the README. */
export function describeFault(fault: Fault): string {
  const when = `step ${fault.at.step} ${fault.at.stage} +${(fault.at.afterMs / 1000).toFixed(1)} s`;
  const down = `down ${(fault.downtimeMs / 1000).toFixed(1)} s`;
  if (fault.kind === 'restart') return `${fault.id}: restart ${fault.service} at ${when}, ${down}`;
  const what = `SIGKILL worker process(es) ${fault.targets.join('+')}`;
  return `${fault.id}: ${what} ${fault.duringPolicyUpdate ? 'during policyUpdate' : 'at'} ${when}, ${down}`;
}

/** A fresh seed for a drill that was given none (printed, so the drill can be replayed). */
export function freshSeed(random: Random = Math.random): number {
  return Math.floor(random() * 2 ** 31);
}
