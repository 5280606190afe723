/** Data too large to hold at once, handed over a page at a time. */

/** A sequence of items in pages, in order; `count` is how many items there are in all. */
export interface Paged<T> {
  count: number;
  pages: AsyncIterable<T[]>;
}

/** `items` as one page, or as none when there are none. */
export async function* onePage<T>(items: T[]): AsyncIterable<T[]> {
  if (items.length > 0) yield items;
}

export async function* mapPages<T, U>(
  pages: AsyncIterable<T[]>,
  map: (page: T[]) => U[],
): AsyncIterable<U[]> {
  for await (const page of pages) yield map(page);
}

/**
 * The pages `reads` give, in order, each read while the one before it is in use. A read ahead that fails while the
 * caller stops early (its own failure) is dropped with the rest; one the caller reaches fails it.
 */
export async function* readAhead<T>(reads: (() => Promise<T[]>)[]): AsyncIterable<T[]> {
  const start = (i: number) => {
    const read = reads[i]?.();
    read?.catch(() => undefined);
    return read;
  };
  let next = start(0);
  for (let i = 0; next; i++) {
    const page = await next;
    next = start(i + 1);
    yield page;
  }
}
