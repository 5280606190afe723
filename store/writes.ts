import type { Collection, Filter, OptionalUnlessRequiredId } from 'mongodb';

/** Writes each document under its business key, replacing what an earlier attempt wrote there. Idempotent. */
export async function upsertAll<T extends { _id: string }>(
  collection: Collection<T>,
  docs: T[],
): Promise<void> {
  if (docs.length === 0) return;
  await collection.bulkWrite(
    docs.map((doc) => ({
      replaceOne: {
        filter: { _id: doc._id } as Filter<T>,
        replacement: doc as OptionalUnlessRequiredId<T>,
        upsert: true,
      },
    })),
  );
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
