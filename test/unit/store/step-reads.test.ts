/**
 * What a chunk of a fanned-out stage reads: only its own documents. MongoDB is replaced by the in-memory operations
 * of the activities' tests, with every filter sent to the meta-experiences recorded.
 */
import type { Db } from 'mongodb';
import { expect, it } from 'vitest';
import { COLLECTIONS } from '../../../store/mongo.js';
import { stepReads } from '../../../store/step-reads.js';
import { inMemoryDb, type Doc } from '../activities/in-memory-db.js';

const runId = 'reads';
const stepDoc = (_id: string) => ({ _id, runId, step: 0 });
// In id order, `…/pair-s0-s1` sorts before `…/pair-s0-s10`, as it does with `/me` appended.
const PAIRS = ['p0/pair-s0-s1', 'p0/pair-s0-s10', 'p0/pair-s2-s3', 'p1/pair-s0-s1'].map(
  (pair) => `${runId}/step-0/${pair}`,
);

function world() {
  const contents: Record<string, Doc[]> = {
    [COLLECTIONS.pairs]: [...PAIRS].reverse().map(stepDoc),
    // The third pair's candidate is missing; another step's candidate shares nothing.
    [COLLECTIONS.metaExperiences]: [
      ...[0, 1, 3].map((i) => stepDoc(`${PAIRS[i]}/me`)),
      { _id: `${runId}/step-1/p0/pair-s0-s1/me`, runId, step: 1 },
    ],
  };
  const db = inMemoryDb(contents);
  const filters: unknown[] = [];
  const recording = {
    collection: (name: string) => {
      const collection = db.collection(name);
      if (name !== COLLECTIONS.metaExperiences) return collection;
      return new Proxy(collection, {
        get: (target, key) =>
          key === 'find'
            ? (filter: unknown) => {
                filters.push(filter);
                return target.find(filter as Record<string, never>);
              }
            : Reflect.get(target, key),
      });
    },
  } as unknown as Db;
  return { reads: stepReads(recording), filters };
}

it("a validate chunk reads only its own candidates, by id, in the order of the step's pairs", async () => {
  const { reads, filters } = world();
  const chunk = await reads.candidatesOf(runId, 0, { start: 1, end: 4 });
  expect(chunk.map((doc) => doc._id)).toEqual([`${PAIRS[1]}/me`, `${PAIRS[3]}/me`]);
  expect(filters).toEqual([{ _id: { $in: [1, 2, 3].map((i) => `${PAIRS[i]}/me`) } }]);
});

it('without a chunk, the whole step in id order', async () => {
  const { reads } = world();
  expect((await reads.candidatesOf(runId, 0)).map((doc) => doc._id)).toEqual(
    [0, 1, 3].map((i) => `${PAIRS[i]}/me`),
  );
});
