/**
 * Filters on `_id` on the stack's store (FerretDB v1 on PostgreSQL, built with stack/ferretdb-fix.ts): they return
 * exactly what MongoDB returns, by MongoDB's byte order of strings, with ids of other types mixed in; and
 * PostgreSQL answers an id, an id range and `$in` from the `_id` index instead of reading the whole collection, and
 * filters `$nin` itself.
 */
import { type Collection, type Filter, ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idsUnder } from '../../store/documents.js';
import { connectMongo, type MongoHandle } from '../../store/mongo.js';
import { endpoints, uniqueId } from './support.js';

type Id = string | number | ObjectId;
interface Doc {
  _id: Id;
  group: string;
}

// Strings whose byte order differs from a natural-language collation's (case, punctuation, accents, astral
// characters), around the prefixes the stages ask for.
const NAMED: string[] = [
  'run-a/step-1',
  'run-a/step-1/p0',
  'run-a/step-1/p0/s0',
  'run-a/step-1/p0/s1',
  'run-a/step-1/P0',
  'run-a/step-1/p10',
  'run-a/step-1/é',
  'run-a/step-1/z',
  'run-a/step-1/\u{1F600}',
  'run-a/step-1/\uFFFD',
  'run-a/step-1-x',
  'run-a/step-10',
  'run-a/step-10/p0',
  'run-a/step-2/p0',
  'Run-a/step-1/p0',
  'run-a',
  '',
];
const OTHER_TYPES: Id[] = [1, 2.5, -3, new ObjectId('0123456789abcdef01234567')];
// Enough documents that reading them all costs more than an index lookup in PostgreSQL's planner.
const FILLER = Array.from({ length: 3000 }, (_, i) => `filler/${String(i).padStart(5, '0')}`);

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** What MongoDB matches for a string comparison on `_id`: strings only, in byte order. */
function stringsWhere(test: (id: string) => boolean): string[] {
  return [...NAMED, ...FILLER].filter(test).sort(byteCompare);
}

describe('filters on _id in the store', () => {
  let mongo: MongoHandle;
  let docs: Collection<Doc>;

  beforeAll(async () => {
    mongo = await connectMongo(endpoints);
    docs = mongo.db.collection<Doc>(uniqueId('id-pushdown'));
    const all: Id[] = [...NAMED, ...OTHER_TYPES, ...FILLER];
    await docs.insertMany(all.map((_id, i) => ({ _id, group: i % 2 ? 'odd' : 'even' })));
  });
  afterAll(async () => {
    await docs?.drop().catch(() => undefined);
    await mongo?.close();
  });

  async function idsOf(filter: Filter<Doc>): Promise<Id[]> {
    return (await docs.find(filter).toArray()).map((doc) => doc._id);
  }
  async function sortedStrings(filter: Filter<Doc>): Promise<string[]> {
    const found = await idsOf(filter);
    expect(found.every((id) => typeof id === 'string')).toBe(true);
    return (found as string[]).sort(byteCompare);
  }

  it('finds each document by its id, of every type', async () => {
    for (const id of [...NAMED, ...OTHER_TYPES]) {
      expect(await idsOf({ _id: id })).toEqual([id]);
      expect(await idsOf({ _id: { $eq: id } })).toEqual([id]);
    }
    expect(await idsOf({ _id: 'absent' })).toEqual([]);
  });

  it('finds exactly the ids under a parent, and no sibling that shares its first characters', async () => {
    for (const parent of ['run-a/step-1', 'run-a/step-10', 'run-a', 'filler']) {
      const prefix = `${parent}/`;
      expect(await sortedStrings({ _id: idsUnder(parent) })).toEqual(
        stringsWhere((id) => id.startsWith(prefix)),
      );
    }
    expect(await sortedStrings({ _id: idsUnder('run-a/step-1') })).not.toContain('run-a/step-10/p0');
  });

  it('answers every string range in byte order, with ids of other types left out', async () => {
    const bounds = [
      '',
      'Run-a',
      'run-a/step-1',
      'run-a/step-1/p0',
      'run-a/step-1/é',
      'run-a/step-10',
      'filler/02999',
    ];
    for (const low of bounds) {
      for (const high of bounds) {
        const range = await sortedStrings({ _id: { $gt: low, $lte: high } });
        expect(range).toEqual(stringsWhere((id) => byteCompare(id, low) > 0 && byteCompare(id, high) <= 0));
      }
      expect(await sortedStrings({ _id: { $gte: low } })).toEqual(
        stringsWhere((id) => byteCompare(id, low) >= 0),
      );
      expect(await sortedStrings({ _id: { $lt: low } })).toEqual(
        stringsWhere((id) => byteCompare(id, low) < 0),
      );
    }
  });

  it('answers $in of strings, of mixed types and together with other fields', async () => {
    const wanted = ['run-a/step-1/p0', 'run-a/step-1/\u{1F600}', 'absent', 'filler/00042'];
    expect(await sortedStrings({ _id: { $in: wanted } })).toEqual(stringsWhere((id) => wanted.includes(id)));
    expect((await idsOf({ _id: { $in: ['run-a', 1] } })).length).toBe(2);
    const odd = await sortedStrings({ group: 'odd', _id: idsUnder('run-a/step-1') });
    expect(odd.length).toBeGreaterThan(0);
    for (const id of odd) expect((await docs.findOne({ _id: id }))?.group).toBe('odd');
    expect(odd.length + (await idsOf({ group: 'even', _id: idsUnder('run-a/step-1') })).length).toBe(
      stringsWhere((id) => id.startsWith('run-a/step-1/')).length,
    );
  });

  it('answers $nin of strings, alone (ids of other types kept) and within a range', async () => {
    const unwanted = ['run-a/step-1/p0', 'filler/00042', 'absent'];
    const kept = await idsOf({ _id: { $nin: unwanted } });
    expect(kept).toHaveLength(NAMED.length + OTHER_TYPES.length + FILLER.length - 2);
    expect(kept).toEqual(expect.arrayContaining(OTHER_TYPES));
    expect(await sortedStrings({ _id: { ...idsUnder('run-a/step-1'), $nin: unwanted } })).toEqual(
      stringsWhere((id) => id.startsWith('run-a/step-1/') && !unwanted.includes(id)),
    );
    expect(await idsOf({ _id: { ...idsUnder('filler'), $nin: FILLER } })).toEqual([]);
  });

  it('has PostgreSQL filter $nin within a range, so deleting the others reads only them', async () => {
    // A range of 10 of the 3,000 fillers: over nearly all of them, PostgreSQL rightly scans the table once it has
    // statistics (autovacuum's analyze may have run), whatever FerretDB pushes down.
    const range = { $gte: 'filler/00040', $lt: 'filler/00050' };
    const plan = JSON.stringify(
      await docs.find({ _id: { ...range, $nin: ['filler/00041', 'filler/00042'] } }).explain(),
    );
    expect(plan).toMatch(/"Index Cond":"[^"]*'_id'/);
    expect(plan).toMatch(/<> ALL/);
  });

  it('has PostgreSQL answer an id, an id range and $in from the _id index', async () => {
    const filters: Filter<Doc>[] = [
      { _id: 'filler/00042' },
      { _id: idsUnder('run-a/step-1') },
      { group: 'odd', _id: idsUnder('run-a/step-1') },
      { _id: { $in: ['filler/00001', 'filler/00002'] } },
    ];
    for (const filter of filters) {
      const plan = JSON.stringify(await docs.find(filter).explain());
      expect(plan, JSON.stringify(filter)).toMatch(/Index (Only )?Scan|Bitmap Index Scan/);
      expect(plan, JSON.stringify(filter)).toMatch(/"Index Cond":"[^"]*'_id'/);
    }
  });
});
