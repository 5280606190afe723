/**
 * The differences between run configurations, field by field: what `mel compare` lists. Pure.
 *
 * Objects are walked down to their leaves, each named by its dotted path (`mel.loss.nllCoefficient`); an array, a
 * primitive, null or an empty object is a leaf, compared as a value (arrays element by element, key order of the
 * objects inside them ignored). A path present in some configurations only differs too.
 */

/** One configuration's value at a path: `present: false` when the path is not in that configuration. */
export type DiffValue = { present: true; value: unknown } | { present: false };

export interface ConfigDifference {
  /** Dotted path of the field. */
  path: string;
  /** One per configuration, in the order given. */
  values: DiffValue[];
}

/** Top-level fields never compared: every run has its own id. */
const EXCLUDED = new Set(['runId']);

/** The fields whose value is not the same in every configuration, in the order they first appear. */
export function diffConfigs(configs: readonly unknown[]): ConfigDifference[] {
  const leaves = configs.map((config) => flatten(config));
  const paths: string[] = [];
  const seen = new Set<string>();
  for (const leaf of leaves) {
    for (const key of leaf.keys()) {
      if (!seen.has(key) && !EXCLUDED.has(key)) {
        seen.add(key);
        paths.push(key);
      }
    }
  }
  return paths.flatMap((path) => {
    const values: DiffValue[] = leaves.map((leaf) =>
      leaf.has(path) ? { present: true, value: leaf.get(path) } : { present: false },
    );
    const keys = values.map((v) => (v.present ? canonicalJson(v.value) : undefined));
    return keys.every((key) => key !== undefined && key === keys[0]) ? [] : [{ path, values }];
  });
}

/** `path → value` for every leaf of `value` (a configuration that is not an object has none). */
function flatten(value: unknown, prefix = '', into = new Map<string, unknown>()): Map<string, unknown> {
  if (isPlainObject(value) && Object.keys(value).length > 0) {
    for (const [key, inner] of Object.entries(value)) {
      if (inner === undefined) continue;
      flatten(inner, prefix ? `${prefix}.${key}` : key, into);
    }
  } else if (prefix !== '') {
    into.set(prefix, value);
  }
  return into;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** JSON with object keys sorted, so that two equal values give the same text whatever their key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    isPlainObject(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}
