import { MongoBulkWriteError, type Collection, type Filter, type OptionalUnlessRequiredId } from 'mongodb';

/**
 * Documents per write command. FerretDB on SQLite takes tens of milliseconds per 1k-token document, so a step's
 * worth in one command could run for minutes; in small commands each one answers within the store's deadline,
 * and each answer is progress of the activity attempt (store/mongo.ts).
 */
const DOCS_PER_COMMAND = 32;

/** Writes each document under its business key, replacing what an earlier attempt wrote there. Idempotent. */
export async function upsertAll<T extends { _id: string }>(
  collection: Collection<T>,
  docs: T[],
): Promise<void> {
  for (const chunk of commandChunks(docs)) {
    await collection.bulkWrite(
      chunk.map((doc) => ({
        replaceOne: {
          filter: { _id: doc._id } as Filter<T>,
          replacement: doc as OptionalUnlessRequiredId<T>,
          upsert: true,
        },
      })),
    );
  }
}

/**
 * Write-once: inserts each document whose id is free and leaves a stored one as it is, so that the late write of
 * an attempt that has since been retried changes nothing. Returns how many were inserted.
 */
export async function insertAbsent<T extends { _id: string }>(
  collection: Collection<T>,
  docs: T[],
): Promise<number> {
  let inserted = 0;
  for (const chunk of commandChunks(docs)) {
    try {
      const result = await collection.insertMany(chunk as OptionalUnlessRequiredId<T>[], { ordered: false });
      inserted += result.insertedCount;
    } catch (error) {
      if (!onlyDuplicateKeys(error)) throw error;
      inserted += error.insertedCount;
    }
  }
  return inserted;
}

/**
 * Makes the documents of one scope in `collection` (a run's step, an eval) exactly `docs`: upserts each by its
 * business key and deletes any other document of that scope (left by an earlier attempt that computed something
 * else). Idempotent.
 */
export async function replaceAll<T extends { _id: string }>(
  collection: Collection<T>,
  scope: Filter<T>,
  docs: T[],
): Promise<void> {
  await upsertAll(collection, docs);
  await collection.deleteMany({ ...scope, _id: { $nin: docs.map((doc) => doc._id) } } as Filter<T>);
}

const DUPLICATE_KEY = 11000;

/** Every document that was not inserted had its id taken (a bulk write that failed otherwise has other errors, or none). */
function onlyDuplicateKeys(error: unknown): error is MongoBulkWriteError {
  if (!(error instanceof MongoBulkWriteError)) return false;
  const writeErrors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
  return writeErrors.length > 0 && writeErrors.every((writeError) => writeError.code === DUPLICATE_KEY);
}

/** `items` in runs of at most DOCS_PER_COMMAND, one write command each. */
export function commandChunks<T>(items: T[]): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += DOCS_PER_COMMAND) chunks.push(items.slice(i, i + DOCS_PER_COMMAND));
  return chunks;
}
