import { Binary } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { storable } from '../../../store/storable.js';

describe('storable', () => {
  it('replaces every NUL in strings, nested ones and keys included, with U+FFFD', () => {
    const doc = { _id: 'a', text: 'x\u0000y\u0000', turns: [{ text: '\u0000' }, 'ok'], 'k\u0000': 1 };
    expect(storable(doc)).toEqual({
      _id: 'a',
      text: 'x\uFFFDy\uFFFD',
      turns: [{ text: '\uFFFD' }, 'ok'],
      'k\uFFFD': 1,
    });
    expect(doc.text).toBe('x\u0000y\u0000');
  });

  it('returns a document without NUL as the same object, and leaves binary data and dates alone', () => {
    const tokens = new Binary(Buffer.from([0, 0, 0, 0]));
    const doc = { _id: 'b', tokens, at: new Date(0), nested: { list: [1, 'two', null] } };
    expect(storable(doc)).toBe(doc);
    const changed = storable({ ...doc, text: '\u0000' });
    expect(changed.tokens).toBe(tokens);
    expect(changed.at).toBe(doc.at);
  });
});
