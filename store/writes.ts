import {
  MongoBulkWriteError,
  MongoServerError,
  type Collection,
  type Filter,
  type OptionalUnlessRequiredId,
  type UpdateFilter,
} from 'mongodb';
import { chunks } from '../common/chunks.js';
import type { GrpoBatchPart } from '../mel/grpo-batch.js';
import type { ItemRange } from '../mel/fan-out.js';
import {
  ids,
  idsUnder,
  promptIdsIn,
  stepScope,
  type DatumDoc,
  type DatumKind,
  type GrpoBatchDoc,
  type IdRange,
  type StepDoc,
  type WriteOnceDoc,
} from './documents.js';
import { storable } from './storable.js';

/**
 * Documents per write command. FerretDB on SQLite takes tens of milliseconds per 1k-token document, so a step's
 * worth in one command could run for minutes; in small commands each one answers within the store's deadline,
 * and each answer is progress of the activity attempt (store/mongo.ts).
 */
const DOCS_PER_COMMAND = 32;

/**
 * Writes each document under its business key, replacing what an earlier attempt wrote there. Idempotent. Inserts
 * first and replaces only the documents already stored: an insert is one statement where FerretDB's upsert is a
 * read and a write, and a first attempt (the common case) finds none stored.
 */
export async function upsertAll<T extends { _id: string }>(
  collection: Collection<T>,
  docs: T[],
): Promise<void> {
  const inserted = await insertAbsent(collection, docs);
  const stored = docs.filter((doc) => !inserted.has(doc._id));
  for (const chunk of chunks(stored, DOCS_PER_COMMAND)) {
    await collection.bulkWrite(
      chunk.map((doc) => ({
        replaceOne: {
          filter: { _id: doc._id } as Filter<T>,
          replacement: storable(doc) as OptionalUnlessRequiredId<T>,
          upsert: true,
        },
      })),
    );
  }
}

/**
 * Write-once: inserts each document whose id is free and leaves a stored one as it is, so that the late write of
 * an attempt that has since been retried changes nothing. Returns the ids it inserted.
 */
export async function insertAbsent<T extends { _id: string }>(
  collection: Collection<T>,
  docs: T[],
): Promise<Set<string>> {
  const inserted = new Set<string>();
  for (const chunk of chunks(docs, DOCS_PER_COMMAND)) {
    try {
      const result = await collection.insertMany(chunk.map(storable) as OptionalUnlessRequiredId<T>[], {
        ordered: false,
      });
      for (const id of Object.values(result.insertedIds)) inserted.add(String(id));
    } catch (error) {
      if (!onlyDuplicateKeys(error)) throw error;
      for (const id of Object.values(error.insertedIds)) inserted.add(String(id));
    }
  }
  return inserted;
}

/**
 * Write-once fields of existing documents: for each entry, the first `fields` ever written under `key` for that
 * document win, and are set on it; every later call (a retry's, or a stale attempt's however late) sets the
 * winner's fields again, so it changes nothing. Returns the winning fields of each entry.
 *
 * The first writer is decided by an insert into `write_once`, not by a conditional update such as `{ _id, field:
 * { $exists: false } }`: FerretDB v1 filters only an exact `_id` in SQLite and would scan the collection for that.
 */
export async function setOnce<T extends { _id: string }, F extends Record<string, unknown>>(
  fences: Collection<WriteOnceDoc>,
  target: Collection<T>,
  key: string,
  unsafeEntries: readonly { id: string; fields: F }[],
): Promise<F[]> {
  const entries = unsafeEntries.map(({ id, fields }) => ({ id, fields: storable(fields) }));
  const fenceId = (id: string) => `${target.collectionName}/${id}/${key}`;
  // Field paths such as 'origin.validate' are stored as values: stored field names keep no dots.
  const asSet = (fields: F) => Object.entries(fields).map(([path, value]) => ({ path, value }));
  const inserted = await insertAbsent(
    fences,
    entries.map(({ id, fields }) => ({ _id: fenceId(id), set: asSet(fields) })),
  );
  const winners = await Promise.all(
    entries.map(async ({ id, fields }) => {
      if (inserted.has(fenceId(id))) return fields;
      const fence = await fences.findOne({ _id: fenceId(id) });
      return Object.fromEntries(fence!.set.map(({ path, value }) => [path, value])) as F;
    }),
  );
  await setFields(
    target,
    entries.map(({ id }, i) => ({ id, fields: winners[i]! })),
  );
  return winners;
}

/**
 * Sets `fields` on each existing document `id`, a few dozen per write command and one command at a time: however
 * many entries, the store sees one update command in flight (FerretDB on PostgreSQL holds two pool connections per
 * update in flight, stack/postgres.ts). Idempotent.
 */
export async function setFields<T extends { _id: string }>(
  target: Collection<T>,
  entries: readonly { id: string; fields: Record<string, unknown> }[],
): Promise<void> {
  for (const chunk of chunks(
    entries.map(({ id, fields }) => ({ id, fields: storable(fields) })),
    DOCS_PER_COMMAND,
  )) {
    await target.bulkWrite(
      chunk.map(({ id, fields }) => ({
        updateOne: { filter: { _id: id } as Filter<T>, update: { $set: fields } as UpdateFilter<T> },
      })),
    );
  }
}

/**
 * Makes the documents of one scope in `collection` (a run's step, an eval) exactly `docs`: upserts each by its
 * business key and deletes any other document of that scope (left by an earlier attempt that computed something
 * else). Idempotent. The scope names its id range (`idsUnder`), which the store answers from the `_id` index.
 */
export async function replaceAll<T extends { _id: string }>(
  collection: Collection<T>,
  scope: { _id: IdRange } & Record<string, unknown>,
  docs: T[],
): Promise<void> {
  await upsertAll(collection, docs);
  await deleteOthers(
    collection,
    scope,
    docs.map((doc) => doc._id),
  );
}

/** Deletes the documents in `scope` whose ids are not `kept`. */
async function deleteOthers<T extends { _id: string }>(
  collection: Collection<T>,
  scope: { _id: IdRange } & Record<string, unknown>,
  kept: string[],
): Promise<void> {
  await collection.deleteMany({ ...scope, _id: { ...scope._id, $nin: kept } } as Filter<T>);
}

const DUPLICATE_KEY = 11000;

/**
 * Updates the document `id`, creating it when absent. Two upserts of a new id at once can both find nothing and
 * both insert: the second fails with a duplicate key (FerretDB does not retry it; MongoDB does only sometimes), and
 * is retried once, which finds the first one's document and updates it.
 */
export async function upsertOne<T extends { _id: string }>(
  collection: Collection<T>,
  id: string,
  update: UpdateFilter<T>,
): Promise<void> {
  const write = () => collection.updateOne({ _id: id } as Filter<T>, update, { upsert: true });
  try {
    await write();
  } catch (error) {
    if (!(error instanceof MongoServerError && error.code === DUPLICATE_KEY)) throw error;
    await write();
  }
}

/** Every document that was not inserted had its id taken (a bulk write that failed otherwise has other errors, or none). */
function onlyDuplicateKeys(error: unknown): error is MongoBulkWriteError {
  if (!(error instanceof MongoBulkWriteError)) return false;
  const writeErrors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
  return writeErrors.length > 0 && writeErrors.every((writeError) => writeError.code === DUPLICATE_KEY);
}

/**
 * The step's datums of one kind (`kind`), or of both, from `pages` written as they come, replacing what an earlier
 * attempt wrote; then their count on the step, which the policy update normalises by before it has read every datum
 * (store/step-reads.ts). Returns the counts.
 */
export async function writeStepDatums(
  collections: { datums: Collection<DatumDoc>; steps: Collection<StepDoc> },
  { runId, step, kind }: { runId: string; step: number; kind?: DatumKind },
  pages: AsyncIterable<DatumDoc[]>[],
): Promise<Record<DatumKind, number>> {
  const { written, counts } = await upsertPages(collections.datums, pages);
  await deleteOthers(
    collections.datums,
    kind ? { ...stepScope(runId, step), kind } : stepScope(runId, step),
    written,
  );
  const kinds = kind ? [kind] : (['grpo', 'nll'] as const);
  await upsertOne(collections.steps, ids.step(runId, step), {
    $set: { runId, step, ...Object.fromEntries(kinds.map((k) => [`datums.${k}`, counts[k]])) },
  });
  return counts;
}

/**
 * One prompt chunk's GRPO datums, replacing what an earlier attempt of the chunk wrote under its prompts; then the
 * chunk's batch statistics (`part` without the count, which this adds), replacing an earlier attempt's.
 */
export async function writeChunkDatums(
  collections: { datums: Collection<DatumDoc>; grpoBatches: Collection<GrpoBatchDoc> },
  { runId, step, items }: { runId: string; step: number; items: ItemRange },
  pages: AsyncIterable<DatumDoc[]>,
  part: Omit<GrpoBatchPart, 'datums'>,
): Promise<number> {
  const { written } = await upsertPages(collections.datums, [pages]);
  await Promise.all(
    promptIdsIn(runId, step, items).map((promptId) =>
      deleteOthers(collections.datums, { _id: idsUnder(ids.datum(runId, step, 'grpo', promptId)) }, written),
    ),
  );
  const _id = ids.grpoBatch(runId, step, items);
  await upsertAll(collections.grpoBatches, [{ _id, runId, step, items, ...part, datums: written.length }]);
  return written.length;
}

async function upsertPages(collection: Collection<DatumDoc>, sources: AsyncIterable<DatumDoc[]>[]) {
  const written: string[] = [];
  const counts: Record<DatumKind, number> = { grpo: 0, nll: 0 };
  for (const source of sources) {
    for await (const page of source) {
      await upsertAll(collection, page);
      for (const doc of page) {
        written.push(doc._id);
        counts[doc.kind]++;
      }
    }
  }
  return { written, counts };
}
