import { describe, expect, it } from 'vitest';
import { DrillAbort, DrillTimeout, waitFor, within } from '../../../chaos/wait.js';

describe('bounded waits', () => {
  it('returns the first value a check gives, trying again after a failed check', async () => {
    let calls = 0;
    const value = await waitFor(
      'three calls',
      1_000,
      async () => {
        calls++;
        if (calls === 1) throw new Error('restarting');
        return calls === 3 ? 'ready' : undefined;
      },
      1,
    );
    expect([value, calls]).toEqual(['ready', 3]);
  });

  it('gives up after its bound, naming what it waited for and the last error', async () => {
    const started = Date.now();
    await expect(
      waitFor(
        'the engine to answer',
        100,
        async () => {
          throw new Error('ECONNREFUSED');
        },
        10,
      ),
    ).rejects.toThrow(
      new DrillTimeout('gave up after 0 s waiting for the engine to answer (last error: ECONNREFUSED)'),
    );
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('bounds a check that never answers', async () => {
    await expect(waitFor('a hung call', 100, () => new Promise<undefined>(() => undefined))).rejects.toThrow(
      /gave up after 0 s waiting for a hung call/,
    );
  });

  it('ends at once on a DrillAbort', async () => {
    let calls = 0;
    await expect(
      waitFor('a run that paused', 10_000, async () => {
        calls++;
        throw new DrillAbort('the run paused');
      }),
    ).rejects.toThrow('the run paused');
    expect(calls).toBe(1);
  });

  it('bounds a promise', async () => {
    await expect(within('a promise', 1_000, Promise.resolve(7))).resolves.toBe(7);
    await expect(within('a slow promise', 20, new Promise(() => undefined))).rejects.toThrow(DrillTimeout);
  });
});
