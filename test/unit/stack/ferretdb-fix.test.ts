import { describe, expect, it } from 'vitest';
import { fixUpdateHandler } from '../../../stack/ferretdb-fix.js';

// The shape of FerretDB v1.24.2's update loop, reduced to the lines the fix reads.
const HANDLER = [
  '\tfor _, u := range params.Updates {',
  '\t\tcloser := iterator.NewMultiCloser()',
  '\t\tdefer closer.Close()',
  '',
  '\t\tresult, err := common.UpdateDocument(ctx, c, "update", iter, &u)',
  '\t\tif err != nil {',
  '\t\t\treturn 0, 0, nil, lazyerrors.Error(err)',
  '\t\t}',
  '\t}',
  '',
].join('\n');

describe('fixUpdateHandler', () => {
  it("closes each statement's iterator right after the statement, with the loop's indentation", () => {
    const lines = fixUpdateHandler(HANDLER).split('\n');
    const call = lines.findIndex((line) => line.includes('common.UpdateDocument'));
    expect(lines[call + 1]).toMatch(/^\t\tcloser\.Close\(\) \/\/ mel-temporal: /);
    expect(lines.filter((line) => line.includes('closer.Close()'))).toHaveLength(2);
  });

  it('applies once, and refuses a source it was not written for', () => {
    const fixed = fixUpdateHandler(HANDLER);
    expect(fixUpdateHandler(fixed)).toBe(fixed);
    expect(() => fixUpdateHandler(HANDLER.replace('defer closer.Close()', 'closer.Close()'))).toThrow(
      /no deferred closer/,
    );
    expect(() => fixUpdateHandler(HANDLER.replace('UpdateDocument', 'UpdateDocuments'))).toThrow(
      /no UpdateDocument call/,
    );
  });
});
