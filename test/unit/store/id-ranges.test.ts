import { describe, expect, it } from 'vitest';
import { ids, idsUnder, stepScope } from '../../../store/documents.js';

const inRange = (id: string, { $gte, $lt }: { $gte: string; $lt: string }) =>
  Buffer.compare(Buffer.from(id), Buffer.from($gte)) >= 0 &&
  Buffer.compare(Buffer.from(id), Buffer.from($lt)) < 0;

describe('idsUnder', () => {
  it("holds every id of a step's documents and none of a neighbouring step's or run's", () => {
    const prompt = ids.prompt('run', 1, 3);
    const trajectory = ids.trajectory(prompt, 7);
    const pair = ids.pair(prompt, 0, 1);
    const under = [
      prompt,
      trajectory,
      pair,
      ids.metaExperience(pair),
      ids.datum('run', 1, 'grpo', trajectory),
      ids.datum('run', 1, 'nll', ids.metaExperience(pair)),
    ];
    const range = idsUnder(ids.step('run', 1));
    for (const id of under) expect(inRange(id, range), id).toBe(true);
    const outside = [
      ids.step('run', 1),
      ids.prompt('run', 10, 0),
      ids.prompt('run', 11, 0),
      ids.prompt('run', 2, 0),
      ids.prompt('run-1', 1, 0),
      ids.prompt('run', 0, 0),
      `${ids.step('run', 1)}-x/p0`,
    ];
    for (const id of outside) expect(inRange(id, range), id).toBe(false);
  });

  it('holds the ids under a prompt, not those of a prompt whose index starts the same', () => {
    const range = idsUnder(ids.prompt('run', 0, 1));
    expect(inRange(ids.trajectory(ids.prompt('run', 0, 1), 0), range)).toBe(true);
    expect(inRange(ids.trajectory(ids.prompt('run', 0, 12), 0), range)).toBe(false);
  });
});

describe('stepScope', () => {
  it('keeps the run and step equalities beside the id range', () => {
    expect(stepScope('run', 4)).toEqual({ runId: 'run', step: 4, _id: idsUnder('run/step-4') });
  });
});
