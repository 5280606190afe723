/**
 * What a chunk of a fanned-out stage reads: only its own documents. MongoDB is replaced by the in-memory operations
 * of the activities' tests, with every filter sent to the meta-experiences recorded.
 */
import type { Db } from 'mongodb';
import { describe, expect, it } from 'vitest';
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

describe("the policy update's read of the GRPO datums", () => {
  const promptId = (p: number) => `${runId}/step-0/p${p}`;
  // 10 prompts, stored out of order; prompt p has datums for samples 1 and 0, indexed within the step.
  const prompts = [3, 9, 0, 5, 1, 8, 2, 7, 4, 6].map((p) => ({ ...stepDoc(promptId(p)), promptIndex: p }));
  const datums = prompts.flatMap(({ promptIndex: p }) =>
    [1, 0].map((s) => ({
      ...stepDoc(`${runId}/step-0/grpo/step-0/p${p}/s${s}`),
      kind: 'grpo',
      index: 2 * p + s,
    })),
  );
  const nll = { ...stepDoc(`${runId}/step-0/nll/step-0/p0/pair-s0-s1/me`), kind: 'nll', index: 0 };
  const readPages = async (stepFields: object) => {
    const db = inMemoryDb({
      [COLLECTIONS.prompts]: prompts,
      [COLLECTIONS.datums]: [...datums, nll],
      [COLLECTIONS.steps]: [{ ...stepDoc(`${runId}/step-0`), ...stepFields }],
    });
    const { count, pages } = await stepReads(db).grpoDatumPages(runId, 0);
    const read: string[][] = [];
    for await (const page of pages) read.push(page.map((doc) => doc._id));
    return { count, read };
  };

  it('reads a few prompts at a time, in prompt order, each in datum order, with the count internalize recorded', async () => {
    const { count, read } = await readPages({ datums: { grpo: 20, nll: 1 } });
    expect(count).toBe(20);
    expect(read.map((page) => page.length)).toEqual([16, 4]);
    expect(read.flat()).toEqual([...datums].sort((a, b) => a.index - b.index).map((doc) => doc._id));
  });

  it('reads a step internalized before counts were recorded in one page, and counts it', async () => {
    const { count, read } = await readPages({});
    expect(count).toBe(20);
    expect(read).toHaveLength(1);
    expect(read[0]).toHaveLength(20);
  });
});
