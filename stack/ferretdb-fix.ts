/**
 * The fixes applied to FerretDB v1.24.2 when the stack builds it (stack/install.ts builds a copy of the module with
 * these edits, through `go build -modfile`), each written here as an edit of one of the module's own files rather
 * than a copy of it. Each edit applies once and refuses a source that is not the one it was written for.
 */

export interface FerretDbFix {
  /** The file the fix edits, relative to the FerretDB module's root. */
  file: string;
  apply: (source: string) => string;
}

/**
 * The bug: `update` runs its statements in a loop whose per-statement query iterator is closed by a `defer`, that
 * is only when the whole command returns. On PostgreSQL each open iterator holds one connection of FerretDB's pool
 * (50), and the update itself needs one more, so statements in flight beyond the pool — one bulk write of 60
 * updateOne, or two of 32 at once — wait for each other for ever, and FerretDB stops answering every command,
 * `ping` included. The fix closes each statement's iterator as soon as the statement is done (closing twice is
 * harmless: the iterators and the closer are idempotent).
 */
export const UPDATE_HANDLER_FILE = 'internal/handler/msg_update.go';

const STATEMENT_DONE = /^([ \t]*)result, err := common\.UpdateDocument\(ctx, c, "update", iter, &u\)\n/m;
const UPDATE_FIX_MARK = '// mel-temporal: release this statement';

/** The handler's source with the fix; throws when the source is not the one the fix was written for. */
export function fixUpdateHandler(source: string): string {
  if (source.includes(UPDATE_FIX_MARK)) return source;
  if (!source.includes('defer closer.Close()')) {
    throw new Error(
      `${UPDATE_HANDLER_FILE} has no deferred closer: not the FerretDB v1.24.2 this fix is for`,
    );
  }
  const match = STATEMENT_DONE.exec(source);
  if (!match) {
    throw new Error(
      `${UPDATE_HANDLER_FILE} has no UpdateDocument call to fix: not the FerretDB v1.24.2 it is for`,
    );
  }
  const indent = match[1]!;
  const fix = `${indent}closer.Close() ${UPDATE_FIX_MARK}'s PostgreSQL connection before the next statement\n`;
  return insertAfter(source, match, fix);
}

/**
 * The cost: on PostgreSQL, FerretDB pushes a filter down as jsonb containment (`_jsonb->'_id' @> '"x"'`) for every
 * field, `_id` included, which no btree index serves, and does not push ranges or `$in` down at all. So every
 * query, a lookup by `_id` too (and each statement of an update or upsert starts with one), is a sequential scan of
 * the collection, and the cost of a step grows with the run. The fix pushes a filter on `_id` down as comparisons
 * that the collection's unique index on `_jsonb->'_id'` serves: a string equality (MongoDB's `_id` is never an
 * array, so `=` matches what containment did), `$in` of strings, and string ranges (`$gt`, `$gte`, `$lt`, `$lte`);
 * and `$nin` of strings beside them, so that replacing a step's documents (upsert them, then delete the others in
 * the step's range) reads only the others, not the step's documents again.
 * jsonb orders strings by the database's collation, which is byte order in the stack's cluster (initdb
 * `--no-locale`), as MongoDB's is. FerretDB filters every document PostgreSQL returns again, so the SQL only has to
 * keep every match, and a filter it does not understand (another type, another operator) is left to that.
 */
export const QUERY_FILE = 'internal/backends/postgresql/query.go';

const OPERATOR_SKIP = /^([ \t]*)if strings\.HasPrefix\(rootKey, "\$"\) \{\n\1\tcontinue\n\1\}\n/m;
const QUERY_FIX_MARK = '// mel-temporal: _id through its index';
/** Above this many values a `$in` or `$nin` is left to FerretDB's own filter rather than sent as one placeholder each. */
export const MAX_PUSHED_IN = 10_000;

const ID_FILTER_CALL = (indent: string) =>
  [
    `${indent}${QUERY_FIX_MARK}`,
    `${indent}if f, a := melIDFilter(p, rootKey, rootVal); f != "" {`,
    `${indent}\tfilters = append(filters, f)`,
    `${indent}\targs = append(args, a...)`,
    '',
    `${indent}\tcontinue`,
    `${indent}}`,
    '',
  ].join('\n');

const ID_FILTER_FUNCTIONS = `
${QUERY_FIX_MARK} (see mel-temporal's stack/ferretdb-fix.ts).

// melIDFilter returns the SQL filter for a filter on _id that the _id index serves, or "" for FerretDB's own.
func melIDFilter(p *metadata.Placeholder, key string, v any) (string, []any) {
	if key != "_id" {
		return "", nil
	}

	switch v := v.(type) {
	case string:
		return metadata.IDColumn + " = " + p.Next(), []any{melJSONString(v)}
	case *types.Document:
		return melIDOperators(p, v)
	default:
		return "", nil
	}
}

var melIDComparisons = map[string]string{"$eq": "=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}

// $nin: an _id of another type is never equal to a string, so NOT IN keeps it, as MongoDB's $nin does.
var melIDMemberships = map[string]string{"$in": "IN", "$nin": "NOT IN"}

// melIDOperators returns the SQL filter for the operators of an _id filter that have string operands.
func melIDOperators(p *metadata.Placeholder, doc *types.Document) (string, []any) {
	var filters []string
	var args []any

	iter := doc.Iterator()
	defer iter.Close()

	for {
		op, operand, err := iter.Next()
		if err != nil {
			break
		}

		switch operand := operand.(type) {
		case string:
			if comparison, ok := melIDComparisons[op]; ok {
				filters = append(filters, metadata.IDColumn+" "+comparison+" "+p.Next())
				args = append(args, melJSONString(operand))
			}
		case *types.Array:
			membership, ok := melIDMemberships[op]
			if !ok {
				continue
			}

			if values, ok := melStrings(operand); ok {
				placeholders := make([]string, len(values))
				for i, value := range values {
					placeholders[i] = p.Next()
					args = append(args, melJSONString(value))
				}

				filters = append(filters, metadata.IDColumn+" "+membership+" ("+strings.Join(placeholders, ", ")+")")
			}
		}
	}

	return strings.Join(filters, " AND "), args
}

// melStrings returns the array's values when it holds between 1 and ${MAX_PUSHED_IN} strings and nothing else.
func melStrings(array *types.Array) ([]string, bool) {
	if array.Len() == 0 || array.Len() > ${MAX_PUSHED_IN} {
		return nil, false
	}

	values := make([]string, array.Len())
	for i := range values {
		value, ok := must.NotFail(array.Get(i)).(string)
		if !ok {
			return nil, false
		}

		values[i] = value
	}

	return values, true
}

func melJSONString(v string) string {
	return string(must.NotFail(sjson.MarshalSingleValue(v)))
}
`;

/** The query builder's source with the fix; throws when the source is not the one the fix was written for. */
export function fixIdPushdown(source: string): string {
  if (source.includes(QUERY_FIX_MARK)) return source;
  if (!source.includes('func prepareWhereClause(p *metadata.Placeholder, sqlFilters *types.Document)')) {
    throw new Error(`${QUERY_FILE} has no prepareWhereClause: not the FerretDB v1.24.2 this fix is for`);
  }
  const match = OPERATOR_SKIP.exec(source);
  if (!match) {
    throw new Error(
      `${QUERY_FILE} does not skip top-level operators: not the FerretDB v1.24.2 this fix is for`,
    );
  }
  return insertAfter(source, match, `\n${ID_FILTER_CALL(match[1]!)}`) + ID_FILTER_FUNCTIONS;
}

export const FERRETDB_FIXES: readonly FerretDbFix[] = [
  { file: UPDATE_HANDLER_FILE, apply: fixUpdateHandler },
  { file: QUERY_FILE, apply: fixIdPushdown },
];

function insertAfter(source: string, match: RegExpExecArray, text: string): string {
  const end = match.index + match[0].length;
  return source.slice(0, end) + text + source.slice(end);
}
