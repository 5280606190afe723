import { describe, expect, it } from 'vitest';
import {
  FERRETDB_FIXES,
  fixIdPushdown,
  fixUpdateHandler,
  MAX_PUSHED_IN,
} from '../../../stack/ferretdb-fix.js';

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

// The shape of FerretDB v1.24.2's prepareWhereClause, reduced to the lines the fix reads.
const QUERY_BUILDER = [
  'func prepareWhereClause(p *metadata.Placeholder, sqlFilters *types.Document) (string, []any, error) {',
  '\tfor {',
  '\t\trootKey, rootVal, err := iter.Next()',
  '\t\tif strings.HasPrefix(rootKey, "$") {',
  '\t\t\tcontinue',
  '\t\t}',
  '',
  '\t\tpath, err := types.NewPathFromString(rootKey)',
  '\t}',
  '}',
  '',
].join('\n');

describe('fixIdPushdown', () => {
  it('hands a filter on _id to the index before the containment pushdown, after the operator skip', () => {
    const fixed = fixIdPushdown(QUERY_BUILDER);
    const lines = fixed.split('\n');
    const skip = lines.indexOf('\t\t\tcontinue');
    const call = lines.findIndex((line) => line.includes('melIDFilter(p, rootKey, rootVal)'));
    const containment = lines.findIndex((line) => line.includes('types.NewPathFromString'));
    expect(skip).toBeLessThan(call);
    expect(call).toBeLessThan(containment);
    expect(lines[call]).toMatch(/^\t\tif f, a := melIDFilter/);
    expect(fixed).toContain('func melIDFilter(p *metadata.Placeholder, key string, v any) (string, []any) {');
    expect(fixed).toContain(`array.Len() > ${MAX_PUSHED_IN}`);
  });

  it('applies once, and refuses a source it was not written for', () => {
    const fixed = fixIdPushdown(QUERY_BUILDER);
    expect(fixIdPushdown(fixed)).toBe(fixed);
    expect(() => fixIdPushdown(QUERY_BUILDER.replace('prepareWhereClause', 'buildWhere'))).toThrow(
      /no prepareWhereClause/,
    );
    expect(() => fixIdPushdown(QUERY_BUILDER.replace('"$"', '"_"'))).toThrow(
      /does not skip top-level operators/,
    );
  });
});

describe('FERRETDB_FIXES', () => {
  it('edits each file once', () => {
    const files = FERRETDB_FIXES.map((fix) => fix.file);
    expect(new Set(files).size).toBe(files.length);
  });
});
