/**
 * CPU time of each process group (the engine double, the workers, the stack's services) while a configuration
 * runs, read from /proc every second, and each step's share of it. On a shared VM the machine itself can slow down
 * in the middle of a run; the engine double does the same work every step and holds no state from step to step, so
 * its CPU time per step, and the host's steal time, show such a drift beside the groups that could grow with the
 * run. The parsing and the attribution to steps are pure; `startCpuSampler` does the reading.
 */
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

/** Processes grouped by pid (the benchmark's own children; their descendants follow them unless named below). */
export type KnownProcesses = ReadonlyMap<number, string>;

/** A stack service, by its command name (`comm`). */
const SERVICES: readonly [RegExp, string][] = [
  [/^postgres/, 'PostgreSQL'],
  [/ferret/i, 'FerretDB'],
  [/^temporal/, 'Temporal'],
];

export const STEAL = 'steal (host)';

export interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime, in clock ticks. */
  ticks: number;
  /** Ticks after boot when the process started: with the pid, a key that survives pid reuse. */
  startTime: number;
}

/** One /proc/<pid>/stat line; null for one that does not parse. `comm` may hold spaces and parentheses. */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const rest = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  // Fields after the command, counted from field 3 (state): ppid 4, utime 14, stime 15, starttime 22.
  const field = (n: number) => Number(rest[n - 3]);
  const stat = {
    pid: Number(text.slice(0, open).trim()),
    ppid: field(4),
    comm: text.slice(open + 1, close),
    ticks: field(14) + field(15),
    startTime: field(22),
  };
  return Object.values(stat).every((v) => typeof v === 'string' || Number.isFinite(v)) ? stat : null;
}

/** The host's steal time over all CPUs, in ticks, from /proc/stat's `cpu` line; null without one. */
export function parseStealTicks(text: string): number | null {
  const line = /^cpu\s+(.*)$/m.exec(text)?.[1];
  const steal = line?.trim().split(/\s+/)[7];
  return steal === undefined ? null : Number(steal);
}

/**
 * Each process's group: a known pid's, else the service its name says, else its nearest grouped ancestor's, else
 * 'other'.
 */
export function groupProcesses(stats: readonly ProcStat[], known: KnownProcesses): Map<number, string> {
  const byPid = new Map(stats.map((stat) => [stat.pid, stat]));
  const resolved = new Map<number, string | null>();
  const resolve = (pid: number, depth: number): string | null => {
    const cached = resolved.get(pid);
    if (cached !== undefined) return cached;
    const stat = byPid.get(pid);
    if (!stat || depth > 64) return null;
    const group =
      known.get(pid) ??
      SERVICES.find(([name]) => name.test(stat.comm))?.[1] ??
      (stat.ppid === pid ? null : resolve(stat.ppid, depth + 1));
    resolved.set(pid, group);
    return group;
  };
  return new Map(stats.map((stat) => [stat.pid, resolve(stat.pid, 0) ?? 'other']));
}

/** What one reading of /proc found: CPU ticks by process (keyed by pid and start time) and the host's steal. */
export interface CpuSnapshot {
  atMs: number;
  byProcess: Map<string, { group: string; ticks: number }>;
  stealTicks: number | null;
}

export function snapshotOf(
  atMs: number,
  stats: readonly ProcStat[],
  known: KnownProcesses,
  stealTicks: number | null,
): CpuSnapshot {
  const groups = groupProcesses(stats, known);
  const byProcess = new Map<string, { group: string; ticks: number }>();
  for (const stat of stats) {
    byProcess.set(`${stat.pid}:${stat.startTime}`, { group: groups.get(stat.pid)!, ticks: stat.ticks });
  }
  return { atMs, byProcess, stealTicks };
}

/** The CPU seconds each group (and the host's steal) used between two readings. */
export interface CpuInterval {
  fromMs: number;
  toMs: number;
  seconds: Record<string, number>;
}

/**
 * Between two readings: each process's ticks since the first (all of them for one started since), by group. A
 * process that ended in between is lost with what it used since the first reading.
 */
export function cpuBetween(from: CpuSnapshot, to: CpuSnapshot, ticksPerSecond: number): CpuInterval {
  const seconds: Record<string, number> = {};
  const add = (group: string, ticks: number) => {
    if (ticks > 0) seconds[group] = (seconds[group] ?? 0) + ticks / ticksPerSecond;
  };
  for (const [key, { group, ticks }] of to.byProcess)
    add(group, ticks - (from.byProcess.get(key)?.ticks ?? 0));
  if (from.stealTicks !== null && to.stealTicks !== null) add(STEAL, to.stealTicks - from.stealTicks);
  return { fromMs: from.atMs, toMs: to.atMs, seconds };
}

/**
 * Each window's CPU seconds by group: an interval's seconds are shared among the windows it overlaps in
 * proportion to the overlap (as if used evenly over the interval). Groups seen in no window are absent.
 */
export function cpuPerWindow(
  intervals: readonly CpuInterval[],
  windows: readonly { startMs: number; endMs: number }[],
): Record<string, number[]> {
  const perGroup: Record<string, number[]> = {};
  windows.forEach(({ startMs, endMs }, index) => {
    for (const interval of intervals) {
      const overlap = Math.min(endMs, interval.toMs) - Math.max(startMs, interval.fromMs);
      const length = interval.toMs - interval.fromMs;
      if (overlap <= 0 || length <= 0) continue;
      for (const [group, seconds] of Object.entries(interval.seconds)) {
        perGroup[group] ??= new Array<number>(windows.length).fill(0);
        perGroup[group][index]! += (seconds * overlap) / length;
      }
    }
  });
  return perGroup;
}

export interface CpuSampler {
  /** Stops reading (once; a later call answers the same): the intervals read. */
  stop(): Promise<CpuInterval[]>;
}

/**
 * Reads /proc every `everyMs` until stopped. Where /proc cannot be read (not Linux), it records nothing. A
 * reading takes a few milliseconds for the few hundred processes of the stack.
 */
export function startCpuSampler(known: KnownProcesses, everyMs = 1_000): CpuSampler {
  const ticksPerSecond = clockTicksPerSecond();
  const intervals: CpuInterval[] = [];
  let last: CpuSnapshot | null = null;
  let reading: Promise<void> = Promise.resolve();
  const read = async () => {
    const next = await readSnapshot(known).catch(() => null);
    if (last && next) intervals.push(cpuBetween(last, next, ticksPerSecond));
    last = next ?? last;
  };
  reading = read();
  const timer = setInterval(() => {
    reading = reading.then(read);
  }, everyMs);
  let stopped: Promise<CpuInterval[]> | undefined;
  return {
    stop: () =>
      (stopped ??= (async () => {
        clearInterval(timer);
        await reading.then(read);
        return intervals;
      })()),
  };
}

async function readSnapshot(known: KnownProcesses): Promise<CpuSnapshot> {
  const atMs = Date.now();
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name));
  const stats = await Promise.all(
    pids.map((pid) => readFile(`/proc/${pid}/stat`, 'utf8').then(parseProcStat, () => null)),
  );
  const steal = await readFile('/proc/stat', 'utf8').then(parseStealTicks, () => null);
  return snapshotOf(
    atMs,
    stats.filter((stat): stat is ProcStat => stat !== null),
    known,
    steal,
  );
}

/** USER_HZ, the unit of /proc's CPU times: 100 on nearly every Linux, asked of `getconf` where it answers. */
function clockTicksPerSecond(): number {
  try {
    const hz = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(hz) && hz > 0 ? hz : 100;
  } catch {
    return 100;
  }
}
