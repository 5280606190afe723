/**
 * The write primitives on the stack's MongoDB (FerretDB v1 on PostgreSQL by default): the first write wins, and a
 * later one, a stale attempt's included, changes nothing and learns what is stored; text the store would refuse is
 * written in a form it accepts.
 */
import type { Collection } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idsUnder, type WriteOnceDoc } from '../../store/documents.js';
import { connectMongo, type MongoHandle } from '../../store/mongo.js';
import { insertAbsent, replaceAll, setOnce, upsertAll, upsertOne } from '../../store/writes.js';
import { endpoints, uniqueId } from './support.js';

interface Doc {
  _id: string;
  n: number;
  verdict?: string;
  text?: string;
  laterReplays?: { seed: number; tokens: number[]; correct: boolean }[];
  origin?: { summarize?: string; validate?: string };
}

describe('write-once documents and fields', () => {
  let mongo: MongoHandle;
  let docs: Collection<Doc>;
  let fences: Collection<WriteOnceDoc>;
  beforeAll(async () => {
    mongo = await connectMongo(endpoints);
    docs = mongo.db.collection<Doc>(uniqueId('write-once-docs'));
    fences = mongo.db.collection<WriteOnceDoc>(uniqueId('write-once-fences'));
  });
  afterAll(async () => {
    await docs?.drop().catch(() => undefined);
    await fences?.drop().catch(() => undefined);
    await mongo?.close();
  });

  it('inserts only documents whose id is free, in several commands, and says which', async () => {
    const first = Array.from({ length: 40 }, (_, i) => ({ _id: `d${i}`, n: 1 }));
    expect((await insertAbsent(docs, first)).size).toBe(40);
    const late = Array.from({ length: 70 }, (_, i) => ({ _id: `d${i}`, n: 2 }));
    const inserted = await insertAbsent(docs, late);
    expect([...inserted].sort()).toEqual(
      late
        .slice(40)
        .map((doc) => doc._id)
        .sort(),
    );
    expect(await docs.countDocuments({ n: 1 })).toBe(40);
    expect(await docs.countDocuments({ n: 2 })).toBe(30);
  });

  it('sets fields once: a later write, however late, sets the first fields again and returns them', async () => {
    const first = { verdict: 'accepted', 'origin.validate': 'attempt 2' };
    const late = { verdict: 'rejected', 'origin.validate': 'attempt 1' };
    await docs.updateOne({ _id: 'd0' }, { $set: { origin: { summarize: 'attempt 1' } } });
    expect(await setOnce(fences, docs, 'verdict', [{ id: 'd0', fields: first }])).toEqual([first]);
    expect(
      await setOnce(fences, docs, 'verdict', [
        { id: 'd0', fields: late },
        { id: 'd1', fields: late },
      ]),
    ).toEqual([first, late]);
    expect(await docs.findOne({ _id: 'd0' })).toEqual({
      _id: 'd0',
      n: 1,
      verdict: 'accepted',
      origin: { summarize: 'attempt 1', validate: 'attempt 2' },
    });
    expect((await docs.findOne({ _id: 'd1' }))!.verdict).toBe('rejected');
  });

  it('sets a list of replays, each with its tokens, once (mel.validation.replays > 1)', async () => {
    const replays = (correct: boolean) =>
      [11, 12].map((seed) => ({ seed, tokens: [seed, 5, 6, 151645], correct }));
    const first = { verdict: 'accepted', laterReplays: replays(true) };
    expect(await setOnce(fences, docs, 'verdict', [{ id: 'd2', fields: first }])).toEqual([first]);
    const late = { verdict: 'rejected', laterReplays: replays(false) };
    expect(await setOnce(fences, docs, 'verdict', [{ id: 'd2', fields: late }])).toEqual([first]);
    expect(await docs.findOne({ _id: 'd2' })).toMatchObject(first);
  });

  it("replaces a scope's documents with exactly the given ones, in more commands than one, and no other scope's", async () => {
    const doc = (parent: string, i: number, n: number) => ({ _id: `${parent}/d${i}`, n });
    await insertAbsent(docs, [
      ...Array.from({ length: 50 }, (_, i) => doc('scope-a', i, 1)),
      ...Array.from({ length: 3 }, (_, i) => doc('scope-a0', i, 1)),
      ...Array.from({ length: 3 }, (_, i) => doc('scope-b', i, 1)),
    ]);
    // Ids 40..89: 10 stored ones replaced, 40 new ones; 0..39 are no longer in the scope.
    const wanted = Array.from({ length: 50 }, (_, i) => doc('scope-a', 40 + i, 2));
    await replaceAll(docs, { _id: idsUnder('scope-a') }, wanted);
    const scope = await docs.find({ _id: idsUnder('scope-a') }).toArray();
    expect(scope.sort((a, b) => a._id.localeCompare(b._id))).toEqual(
      wanted.sort((a, b) => a._id.localeCompare(b._id)),
    );
    expect(await docs.countDocuments({ _id: idsUnder('scope-a0') })).toBe(3);
    expect(await docs.countDocuments({ _id: idsUnder('scope-b') })).toBe(3);
  });

  it('upserts: inserts the new documents and replaces the stored ones whole, in more commands than one', async () => {
    const doc = (i: number, n: number, verdict?: string) => ({
      _id: `upsert-all/d${i}`,
      n,
      ...(verdict && { verdict }),
    });
    await upsertAll(
      docs,
      Array.from({ length: 40 }, (_, i) => doc(i, 1, 'first attempt')),
    );
    // A retry: ids 20..79, 20 of them stored by the first attempt, written without the verdict.
    const retry = Array.from({ length: 60 }, (_, i) => doc(20 + i, 2));
    await upsertAll(docs, retry);
    const stored = await docs.find({ _id: idsUnder('upsert-all') }).toArray();
    const byId = new Map(stored.map((d) => [d._id, d]));
    expect(stored).toHaveLength(80);
    for (const wanted of retry) expect(byId.get(wanted._id)).toEqual(wanted);
    expect(byId.get('upsert-all/d0')).toEqual(doc(0, 1, 'first attempt'));
  });

  // Concurrent upserts of a new id race to insert it. (FerretDB v1 also applies concurrent updates of one document
  // as read-modify-writes, so one writer's $addToSet can be lost: the stages never rely on that.)
  it('upserts a new document from many writers at once without failing on the duplicate key', async () => {
    const writers = Array.from({ length: 16 }, (_, i) => i);
    const newIds = Array.from({ length: 10 }, (_, i) => `upsert-race-${i}`);
    // A field no other test counts by (the pool test counts documents by n).
    const verdict = (writer: number) => `writer ${writer}`;
    await Promise.all(
      newIds.flatMap((id) => writers.map((n) => upsertOne(docs, id, { $set: { verdict: verdict(n) } }))),
    );
    for (const id of newIds)
      expect(writers.map(verdict)).toContain((await docs.findOne({ _id: id }))?.verdict);
  });

  // FerretDB's PostgreSQL backend refuses U+0000 in jsonb; the tiny model samples it now and then.
  it('writes sampled text containing NUL characters with each NUL as U+FFFD, by every write primitive', async () => {
    const text = 'the answer\u0000 is \u0000\u00004';
    const written = 'the answer\uFFFD is \uFFFD\uFFFD4';
    await insertAbsent(docs, [{ _id: 'nul-insert', n: 1, text }]);
    await upsertAll(docs, [{ _id: 'nul-upsert', n: 1, text }]);
    expect(await setOnce(fences, docs, 'text', [{ id: 'nul-upsert', fields: { verdict: text } }])).toEqual([
      { verdict: written },
    ]);
    expect(await docs.findOne({ _id: 'nul-insert' })).toEqual({ _id: 'nul-insert', n: 1, text: written });
    expect(await docs.findOne({ _id: 'nul-upsert' })).toEqual({
      _id: 'nul-upsert',
      n: 1,
      text: written,
      verdict: written,
    });
  });

  // FerretDB v1.24.2 kept every update statement's PostgreSQL connection until its command ended, and deadlocked
  // for good once more statements than its pool (50) were in flight; the stack builds it fixed (stack/ferretdb-fix.ts).
  it(
    'replaces more stored documents at once than FerretDB has PostgreSQL connections',
    { timeout: 90_000 },
    async () => {
      const batches = (n: number) =>
        [0, 1, 2, 3].map((b) => Array.from({ length: 64 }, (_, i) => ({ _id: `many-${b}-${i}`, n })));
      await insertAbsent(docs, batches(10).flat());
      await Promise.all(batches(11).map((batch) => upsertAll(docs, batch)));
      expect(await docs.countDocuments({ n: 11 })).toBe(256);
    },
  );
});
