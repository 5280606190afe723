import { afterEach, describe, expect, it, vi } from 'vitest';
import { TrainOutput } from '../../../cli/run-commands.js';
import type { RunStatus, StageName } from '../../../temporal/contracts/run.js';

const base: RunStatus = {
  runId: 'r',
  totalSteps: 2,
  phase: 'running',
  nextStep: 0,
  paused: false,
  stopRequested: false,
};

const lastStep = (step: number) =>
  ({
    step,
    verify: { passRate: 0.5, mixedGroups: 2 },
    validate: { accepted: 1, rejected: 3 },
    update: { grpoLoss: 0.001, nllLoss: 0.03 },
  }) as unknown as RunStatus['lastStep'];

function captureStdout(): string[] {
  const chunks: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  return chunks;
}

afterEach(() => vi.restoreAllMocks());

describe('TrainOutput off a terminal', () => {
  it('prints a line per stage change, each finished step once, and the metrics at the end', () => {
    const chunks = captureStdout();
    const out = new TrainOutput({});
    const at = (step: number, stage: StageName | undefined, extra: Partial<RunStatus> = {}) =>
      out.progress({ status: { ...base, currentStep: step, nextStep: step, ...extra }, stage });
    at(0, 'rollout');
    at(0, 'rollout');
    at(0, undefined);
    at(0, 'verify');
    at(1, 'rollout', { lastStep: lastStep(0) });
    at(1, 'verify', { lastStep: lastStep(0) });
    out.finished({ ...base, phase: 'completed', nextStep: 2, lastStep: lastStep(1) }, []);
    out.stop();
    expect(chunks.join('').split('\n')).toEqual([
      'step 0 (1/2) [░░░░░░░░░░░░░░░░░░░░░░░░]   0%  rollout (1/7)',
      'step 0 (1/2) [██░░░░░░░░░░░░░░░░░░░░░░]   7%  verify (2/7)',
      expect.stringMatching(
        /^step 0 \(1\/2\) done: pass rate 50.0%, mixed groups 2, .*accepted 1 \/ rejected 3/,
      ),
      'step 1 (2/2) [████████████░░░░░░░░░░░░]  50%  rollout (1/7)',
      'step 1 (2/2) [██████████████░░░░░░░░░░]  57%  verify (2/7)',
      expect.stringMatching(/^step 1 \(2\/2\) done: /),
      'run:   r: completed',
      'steps: 2/2',
      '',
      'no step recorded yet',
      '',
    ]);
  });

  it('writes NDJSON events with --json', () => {
    const chunks = captureStdout();
    const out = new TrainOutput({ json: true });
    out.progress({ status: { ...base, currentStep: 0 }, stage: 'rollout' });
    out.stop();
    expect(JSON.parse(chunks.join(''))).toMatchObject({ event: 'progress', step: 0, stage: 'rollout' });
  });

  it('says a failed start is the start, not a step, and how to go on', () => {
    const chunks = captureStdout();
    const out = new TrainOutput({});
    const lastError = { step: 0, message: 'Activity task failed: no engine', starting: true as const };
    out.progress({ status: { ...base, phase: 'paused', paused: true, lastError }, stage: undefined });
    out.stop();
    expect(chunks.join('').split('\n').slice(0, 2)).toEqual([
      'the start of the run failed after its retries: Activity task failed: no engine',
      'the run is paused; fix the cause, then: mel resume r',
    ]);
  });
});
