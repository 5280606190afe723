import { describe, expect, it } from 'vitest';
import {
  cpuBetween,
  cpuPerWindow,
  groupProcesses,
  parseProcStat,
  parseStealTicks,
  snapshotOf,
  STEAL,
  type CpuInterval,
  type ProcStat,
} from '../../../bench/cpu-usage.js';

/** A /proc/<pid>/stat line with the fields the sampler reads set, the others zero. */
function statLine(
  pid: number,
  comm: string,
  ppid: number,
  utime: number,
  stime: number,
  start: number,
): string {
  const fields = new Array<string>(50).fill('0');
  fields[3] = String(ppid);
  fields[13] = String(utime);
  fields[14] = String(stime);
  fields[21] = String(start);
  return `${pid} (${comm}) S ${fields.slice(3).join(' ')}\n`;
}

const proc = (pid: number, comm: string, ppid: number, ticks = 0, startTime = 1): ProcStat => ({
  pid,
  ppid,
  comm,
  ticks,
  startTime,
});

describe("reading /proc's CPU times", () => {
  it('reads the parent, user + system ticks and start time of a process', () => {
    expect(parseProcStat(statLine(42, 'node', 7, 300, 25, 9_000))).toEqual({
      pid: 42,
      ppid: 7,
      comm: 'node',
      ticks: 325,
      startTime: 9_000,
    });
  });

  it('reads a command name that holds spaces and parentheses', () => {
    expect(parseProcStat(statLine(5, 'a (b) c', 1, 1, 2, 3))).toMatchObject({ comm: 'a (b) c', ticks: 3 });
  });

  it('refuses a line that is not a stat line', () => {
    expect(parseProcStat('')).toBeNull();
    expect(parseProcStat('12 (node) S x y')).toBeNull();
  });

  it("reads the host's steal from the cpu line of /proc/stat", () => {
    const text = 'cpu  100 2 30 4000 5 0 6 77 0 0\ncpu0 50 1 15 2000 2 0 3 40 0 0\n';
    expect(parseStealTicks(text)).toBe(77);
    expect(parseStealTicks('intr 1 2 3\n')).toBeNull();
  });
});

describe('grouping processes', () => {
  it('groups a known pid, its descendants, and the services by name', () => {
    const groups = groupProcesses(
      [
        proc(1, 'init', 0),
        proc(10, 'node', 1),
        proc(11, 'python3', 10),
        proc(20, 'postgres', 1),
        proc(21, 'postgres', 20),
        proc(30, 'ferretdb', 1),
        proc(40, 'temporal', 1),
        proc(50, 'bash', 1),
      ],
      new Map([[10, 'workers']]),
    );
    expect(Object.fromEntries(groups)).toEqual({
      1: 'other',
      10: 'workers',
      11: 'workers',
      20: 'PostgreSQL',
      21: 'PostgreSQL',
      30: 'FerretDB',
      40: 'Temporal',
      50: 'other',
    });
  });

  it('names a service by its own name even when a known process started it', () => {
    const groups = groupProcesses(
      [proc(10, 'node', 1), proc(20, 'postgres', 10)],
      new Map([[10, 'benchmark']]),
    );
    expect(groups.get(20)).toBe('PostgreSQL');
  });
});

describe('CPU between two readings', () => {
  const known = new Map([[10, 'engine double']]);

  it("sums each group's ticks since the first reading, and the host's steal", () => {
    const from = snapshotOf(1_000, [proc(10, 'node', 1, 100), proc(20, 'postgres', 1, 50)], known, 7);
    const to = snapshotOf(2_000, [proc(10, 'node', 1, 180), proc(20, 'postgres', 1, 60)], known, 12);
    expect(cpuBetween(from, to, 100)).toEqual({
      fromMs: 1_000,
      toMs: 2_000,
      seconds: { 'engine double': 0.8, PostgreSQL: 0.1, [STEAL]: 0.05 },
    });
  });

  it('counts all of a process started since, and a reused pid as a new process', () => {
    const from = snapshotOf(0, [proc(20, 'postgres', 1, 500, 1)], known, null);
    const to = snapshotOf(
      1_000,
      [proc(20, 'postgres', 1, 30, 2), proc(21, 'postgres', 1, 20, 3)],
      known,
      null,
    );
    expect(cpuBetween(from, to, 100).seconds).toEqual({ PostgreSQL: 0.5 });
  });
});

describe("each step's share of the CPU", () => {
  it('shares an interval among the windows it overlaps, in proportion', () => {
    const intervals: CpuInterval[] = [
      { fromMs: 0, toMs: 1_000, seconds: { workers: 1 } },
      { fromMs: 1_000, toMs: 2_000, seconds: { workers: 2, FerretDB: 1 } },
      { fromMs: 2_000, toMs: 3_000, seconds: { workers: 4 } },
    ];
    const windows = [
      { startMs: 500, endMs: 1_500 },
      { startMs: 1_500, endMs: 3_000 },
    ];
    expect(cpuPerWindow(intervals, windows)).toEqual({ workers: [1.5, 5], FerretDB: [0.5, 0.5] });
  });

  it('gives nothing to a window no interval overlaps', () => {
    const intervals = [{ fromMs: 0, toMs: 1_000, seconds: { workers: 1 } }];
    expect(cpuPerWindow(intervals, [{ startMs: 5_000, endMs: 6_000 }])).toEqual({});
  });
});
