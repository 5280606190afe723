import type { Db } from 'mongodb';

// The few MongoDB operations the activities under test use, on plain arrays: equality filters, find (with sort by
// _id) / findOne, bulkWrite's replaceOne and updateOne's $set (dotted paths included).

export type Doc = { _id: string } & Record<string, unknown>;

const matches = (filter: Record<string, unknown>) => (doc: Doc) =>
  Object.entries(filter).every(([key, value]) => doc[key] === value);

function setPath(doc: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  const last = keys.pop()!;
  let target = doc;
  for (const key of keys) target = (target[key] ??= {}) as Record<string, unknown>;
  target[last] = value;
}

function replaceById(docs: Doc[], replacement: Doc): void {
  const index = docs.findIndex((doc) => doc._id === replacement._id);
  docs.splice(index < 0 ? docs.length : index, index < 0 ? 0 : 1, replacement);
}

export function inMemoryDb(contents: Record<string, Doc[]>): Db {
  const collection = (name: string) => {
    const docs = (contents[name] ??= []);
    const found = (filter: Record<string, unknown>) => docs.filter(matches(filter));
    return {
      findOne: async (filter: Record<string, unknown>) => docs.find(matches(filter)) ?? null,
      find: (filter: Record<string, unknown>) => ({
        toArray: async () => found(filter),
        sort: () => ({ toArray: async () => found(filter).sort((a, b) => (a._id < b._id ? -1 : 1)) }),
      }),
      bulkWrite: async (operations: { replaceOne: { replacement: Doc } }[]) => {
        for (const operation of operations) replaceById(docs, operation.replaceOne.replacement);
      },
      updateOne: async (filter: Record<string, unknown>, update: { $set: Record<string, unknown> }) => {
        const doc = docs.find(matches(filter));
        if (doc) for (const [path, value] of Object.entries(update.$set)) setPath(doc, path, value);
      },
    };
  };
  return { collection } as unknown as Db;
}
