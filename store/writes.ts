import type { Collection, Filter, OptionalUnlessRequiredId } from 'mongodb';

interface StepScoped {
  _id: string;
  runId: string;
  step: number;
}

/**
 * Makes a step's documents in `collection` exactly `docs`: upserts each by its business key and deletes any
 * other document of that step (left by an earlier attempt that computed something else). Idempotent.
 */
export async function replaceAll<T extends StepScoped>(
  collection: Collection<T>,
  scope: { runId: string; step: number },
  docs: T[],
): Promise<void> {
  if (docs.length > 0) {
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
  await collection.deleteMany({ ...scope, _id: { $nin: docs.map((doc) => doc._id) } } as Filter<T>);
}
