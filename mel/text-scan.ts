// Single-pass scans for model output. A regex anchored only at the end (`/[.\s]+$/`) restarts at every
// position of a long run and is quadratic in the run's length; these helpers are linear.

export type CharTest = (char: string) => boolean;

export const isWhitespace: CharTest = (char) => /\s/.test(char);

export function oneOf(chars: string): CharTest {
  return (char) => chars.includes(char);
}

export function either(a: CharTest, b: CharTest): CharTest {
  return (char) => a(char) || b(char);
}

/** `text` without the trailing characters that pass `test`. */
export function trimEndWhile(text: string, test: CharTest): string {
  let end = text.length;
  while (end > 0 && test(text[end - 1]!)) end--;
  return text.slice(0, end);
}

/** The index of the first character in [from, to) that fails `test` (`to` when all pass). */
export function skipWhile(text: string, from: number, test: CharTest, to = text.length): number {
  let i = from;
  while (i < to && test(text[i]!)) i++;
  return i;
}

/** "1,000" -> "1000", "2.50" -> "2.5", "007" -> "7" (an unsigned decimal, possibly with thousands separators). */
export function canonicalNumber(token: string): string {
  const plain = token.replace(/,/g, '');
  const [whole = '', fraction] = plain.split('.');
  const integer = whole.replace(/^0+(?=\d)/, '');
  const decimals = trimEndWhile(fraction ?? '', oneOf('0'));
  return decimals === '' ? integer : `${integer}.${decimals}`;
}
