import type { Db } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { melCollections } from '../../../store/collections.js';
import { COLLECTIONS } from '../../../store/mongo.js';

describe('melCollections', () => {
  it('opens every MEL collection under its stored name', () => {
    const db = { collection: (name: string) => ({ collectionName: name }) } as unknown as Db;
    const opened = Object.fromEntries(
      Object.entries(melCollections(db)).map(([key, collection]) => [key, collection.collectionName]),
    );
    const mel = Object.entries(COLLECTIONS).filter(([key]) => key !== 'smokeRuns');
    expect(opened).toEqual(Object.fromEntries(mel));
  });
});
