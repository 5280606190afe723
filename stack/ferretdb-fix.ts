/**
 * A fix applied to FerretDB v1.24.2 when the stack builds it (stack/install.ts builds a copy of the module with
 * this edit, through `go build -modfile`), written here as an edit of the module's own file rather than a copy of it.
 *
 * The bug: `update` runs its statements in a loop whose per-statement query iterator is closed by a `defer`, that
 * is only when the whole command returns. On PostgreSQL each open iterator holds one connection of FerretDB's pool
 * (50), and the update itself needs one more, so statements in flight beyond the pool — one bulk write of 60
 * updateOne, or two of 32 at once — wait for each other for ever, and FerretDB stops answering every command,
 * `ping` included. The fix closes each statement's iterator as soon as the statement is done (closing twice is
 * harmless: the iterators and the closer are idempotent).
 */

/** The file the fix edits, relative to the FerretDB module's root. */
export const UPDATE_HANDLER_FILE = 'internal/handler/msg_update.go';

const STATEMENT_DONE = /^([ \t]*)result, err := common\.UpdateDocument\(ctx, c, "update", iter, &u\)\n/m;
const FIX_MARK = '// mel-temporal: release this statement';

/** The handler's source with the fix; throws when the source is not the one the fix was written for. */
export function fixUpdateHandler(source: string): string {
  if (source.includes(FIX_MARK)) return source;
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
  const fix = `${indent}closer.Close() ${FIX_MARK}'s PostgreSQL connection before the next statement\n`;
  return source.slice(0, match.index + match[0].length) + fix + source.slice(match.index + match[0].length);
}
