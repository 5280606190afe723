import type { Db } from 'mongodb';

// The few MongoDB operations the activities under test use, on plain arrays: filters of equalities and of the
// operators below (dotted paths included), find (with sort by _id, then skip and limit) / findOne, insertMany of
// absent ids (a taken id is left as it is, as insertAbsent does with MongoDB's duplicate-key errors), bulkWrite's
// replaceOne, updateOne's and updateMany's $set (dotted paths included), and deleteMany. Strings compare in UTF-16
// order, which is MongoDB's byte order for the ids the tests use.

export type Doc = { _id: string } & Record<string, unknown>;

const getPath = (doc: Record<string, unknown>, path: string): unknown =>
  path.split('.').reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], doc);

type Bound = string | number;
const OPERATORS: Record<string, (value: unknown, operand: unknown) => boolean> = {
  $in: (value, operand) => (operand as unknown[]).includes(value),
  $nin: (value, operand) => !(operand as unknown[]).includes(value),
  $gte: (value, operand) => typeof value === typeof operand && (value as Bound) >= (operand as Bound),
  $lt: (value, operand) => typeof value === typeof operand && (value as Bound) < (operand as Bound),
};

const isOperatorFilter = (value: unknown): value is Record<string, unknown> =>
  !!value && typeof value === 'object' && Object.keys(value).every((key) => key.startsWith('$'));

const matches = (filter: Record<string, unknown>) => (doc: Doc) =>
  Object.entries(filter).every(([path, condition]) => {
    const value = getPath(doc, path);
    if (!isOperatorFilter(condition)) return value === condition;
    return Object.entries(condition).every(([operator, operand]) => {
      const test = OPERATORS[operator];
      if (!test) throw new Error(`in-memory db: ${operator} is not supported`);
      return test(value, operand);
    });
  });

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

type SetUpdate = { filter: Record<string, unknown>; update: { $set: Record<string, unknown> } };
type BulkOperation = { replaceOne: { replacement: Doc } } | { updateOne: SetUpdate };

function setFields(doc: Doc | undefined, fields: Record<string, unknown>): void {
  if (doc) for (const [path, value] of Object.entries(fields)) setPath(doc, path, value);
}

/** A sorted find's cursor: skip and limit, then toArray. */
function sortedCursor(docs: Doc[]) {
  const cursor = {
    skip: (count: number) => sortedCursor(docs.slice(count)),
    limit: (count: number) => sortedCursor(docs.slice(0, count)),
    toArray: async () => docs,
  };
  return cursor;
}

export function inMemoryDb(contents: Record<string, Doc[]>): Db {
  const collection = (name: string) => {
    const docs = (contents[name] ??= []);
    const found = (filter: Record<string, unknown>) => docs.filter(matches(filter));
    return {
      collectionName: name,
      findOne: async (filter: Record<string, unknown>) => docs.find(matches(filter)) ?? null,
      find: (filter: Record<string, unknown>) => ({
        toArray: async () => found(filter),
        sort: () => sortedCursor(found(filter).sort((a, b) => (a._id < b._id ? -1 : 1))),
      }),
      insertMany: async (inserted: Doc[]) => {
        const absent = inserted.filter((doc) => !docs.some((stored) => stored._id === doc._id));
        docs.push(...absent);
        return { insertedIds: Object.fromEntries(absent.map((doc, i) => [i, doc._id])) };
      },
      bulkWrite: async (operations: BulkOperation[]) => {
        for (const operation of operations) {
          if ('replaceOne' in operation) replaceById(docs, operation.replaceOne.replacement);
          else setFields(docs.find(matches(operation.updateOne.filter)), operation.updateOne.update.$set);
        }
      },
      updateOne: async (filter: Record<string, unknown>, update: { $set: Record<string, unknown> }) =>
        setFields(docs.find(matches(filter)), update.$set),
      updateMany: async (filter: Record<string, unknown>, update: { $set: Record<string, unknown> }) => {
        for (const doc of found(filter)) setFields(doc, update.$set);
      },
      deleteMany: async (filter: Record<string, unknown>) => {
        const kept = docs.filter((doc) => !matches(filter)(doc));
        docs.splice(0, docs.length, ...kept);
      },
    };
  };
  return { collection } as unknown as Db;
}
