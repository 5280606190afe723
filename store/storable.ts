/**
 * What every store accepts. FerretDB on PostgreSQL keeps documents as jsonb, which refuses the character U+0000
 * ("unsupported Unicode escape sequence"), and a sampled reply can contain it (the tokenizer decodes byte 0 like
 * any other). Each NUL in a string is written as U+FFFD, the replacement character, so that one odd sample cannot
 * fail the write of a whole step; the token ids stored beside the text keep what was sampled.
 */
const NUL = '\u0000';
const REPLACEMENT = '\uFFFD';

/** `value` with every NUL in its strings (keys included) replaced; unchanged values are returned as they are. */
export function storable<T>(value: T): T {
  return storableValue(value) as T;
}

function storableValue(value: unknown): unknown {
  if (typeof value === 'string') return value.includes(NUL) ? value.replaceAll(NUL, REPLACEMENT) : value;
  if (Array.isArray(value)) return mapIfChanged(value);
  if (isPlainObject(value)) {
    let changed = false;
    const entries = Object.entries(value).map(([key, field]) => {
      const entry = [storableValue(key) as string, storableValue(field)] as const;
      if (entry[0] !== key || entry[1] !== field) changed = true;
      return entry;
    });
    return changed ? Object.fromEntries(entries) : value;
  }
  // Binary, Date, ObjectId and the like are written as they are.
  return value;
}

function mapIfChanged(values: unknown[]): unknown[] {
  const mapped = values.map(storableValue);
  return mapped.some((item, i) => item !== values[i]) ? mapped : values;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
