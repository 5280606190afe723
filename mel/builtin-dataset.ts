import { pickOne, randomInt, seededRandom, type Random } from './random.js';
import type { Problem } from './types.js';

// A small data set the project generates itself (no download): integer arithmetic, fractions,
// percentages and linear equations with exact answers, each with a short worked solution in the
// rollout answer format (steps, then \boxed{answer}) for warm-starting a tiny model.

export const BUILTIN_KINDS = [
  'arithmetic',
  'precedence',
  'fraction-sum',
  'fraction-product',
  'percent',
  'linear',
] as const;
export type BuiltinKind = (typeof BUILTIN_KINDS)[number];

export interface BuiltinProblem extends Problem {
  kind: BuiltinKind;
  /** Worked solution ending with \boxed{answer}. */
  solution: string;
}

interface Generated {
  question: string;
  answer: string;
  steps: string[];
}

function gcd(a: number, b: number): number {
  return b === 0 ? Math.abs(a) : gcd(b, a % b);
}

/** Exact fraction n/d in lowest terms with a positive denominator. */
interface Fraction {
  n: number;
  d: number;
}

function reduce(n: number, d: number): Fraction {
  const divisor = gcd(n, d) * Math.sign(d);
  return { n: n / divisor, d: d / divisor };
}

function formatFraction(f: Fraction): string {
  return f.d === 1 ? String(f.n) : `${f.n}/${f.d}`;
}

function signed(value: number): string {
  return value < 0 ? `- ${-value}` : `+ ${value}`;
}

function randomProperFraction(random: Random): Fraction {
  const d = randomInt(random, 2, 12);
  return reduce(randomInt(random, 1, d - 1), d);
}

/** "n/d = m/D": the fraction rewritten over the common denominator D. */
function expandStep(f: Fraction, denominator: number): string {
  return `${f.n}/${f.d} = ${(f.n * denominator) / f.d}/${denominator}`;
}

function simplifyStep(n: number, d: number, result: Fraction): string[] {
  return result.n === n && result.d === d ? [] : [`Simplify: ${n}/${d} = ${formatFraction(result)}`];
}

const GENERATORS: Record<BuiltinKind, (random: Random) => Generated> = {
  arithmetic: (random) => {
    const a = randomInt(random, 10, 99);
    const b = randomInt(random, 10, 99);
    const c = randomInt(random, 1, 60);
    const sum = a + b;
    return {
      question: `Compute ${a} + ${b} - ${c}.`,
      answer: String(sum - c),
      steps: [`${a} + ${b} = ${sum}`, `${sum} - ${c} = ${sum - c}`],
    };
  },
  precedence: (random) => {
    const a = randomInt(random, 2, 40);
    const b = randomInt(random, 2, 12);
    const c = randomInt(random, 2, 12);
    return {
      question: `Compute ${a} + ${b} * ${c}.`,
      answer: String(a + b * c),
      steps: [`Multiply first: ${b} * ${c} = ${b * c}`, `Then add: ${a} + ${b * c} = ${a + b * c}`],
    };
  },
  'fraction-sum': (random) => {
    const x = randomProperFraction(random);
    const y = randomProperFraction(random);
    const lcd = (x.d * y.d) / gcd(x.d, y.d);
    const numerator = (x.n * lcd) / x.d + (y.n * lcd) / y.d;
    const result = reduce(numerator, lcd);
    return {
      question: `Compute ${x.n}/${x.d} + ${y.n}/${y.d}. Give the answer in lowest terms.`,
      answer: formatFraction(result),
      steps: [
        `Common denominator: ${lcd}`,
        `${expandStep(x, lcd)} and ${expandStep(y, lcd)}`,
        `Add: ${(x.n * lcd) / x.d}/${lcd} + ${(y.n * lcd) / y.d}/${lcd} = ${numerator}/${lcd}`,
        ...simplifyStep(numerator, lcd, result),
      ],
    };
  },
  'fraction-product': (random) => {
    const x = randomProperFraction(random);
    const y = randomProperFraction(random);
    const n = x.n * y.n;
    const d = x.d * y.d;
    const result = reduce(n, d);
    return {
      question: `Compute ${x.n}/${x.d} * ${y.n}/${y.d}. Give the answer in lowest terms.`,
      answer: formatFraction(result),
      steps: [
        `Multiply numerators and denominators: (${x.n} * ${y.n})/(${x.d} * ${y.d}) = ${n}/${d}`,
        ...simplifyStep(n, d, result),
      ],
    };
  },
  percent: (random) => {
    const percent = pickOne(random, [5, 10, 20, 25, 30, 40, 50, 60, 75, 80]);
    const base = 20 * randomInt(random, 1, 25);
    const answer = (base * percent) / 100;
    return {
      question: `What is ${percent}% of ${base}?`,
      answer: String(answer),
      steps: [
        `${percent}% of ${base} = ${base} * ${percent} / 100`,
        `${base} * ${percent} = ${base * percent}`,
        `${base * percent} / 100 = ${answer}`,
      ],
    };
  },
  linear: (random) => {
    const a = randomInt(random, 2, 9);
    const x = randomInt(random, -10, 20);
    const b = pickOne(random, [-1, 1]) * randomInt(random, 1, 30);
    const c = a * x + b;
    const moved = b > 0 ? `Subtract ${b} from both sides` : `Add ${-b} to both sides`;
    return {
      question: `Solve for x: ${a}x ${signed(b)} = ${c}.`,
      answer: String(x),
      steps: [`${moved}: ${a}x = ${c - b}`, `Divide both sides by ${a}: x = ${x}`],
    };
  },
};

export function formatWorkedSolution(steps: readonly string[], answer: string): string {
  return [...steps, `The answer is \\boxed{${answer}}.`].join('\n');
}

export interface BuiltinDatasetOptions {
  seed?: number;
  count?: number;
}

/** Deterministic for a given seed: kinds in rotation, no repeated question. */
export function generateBuiltinDataset({
  seed = 0,
  count = 300,
}: BuiltinDatasetOptions = {}): BuiltinProblem[] {
  const random = seededRandom(seed);
  const seen = new Set<string>();
  const problems: BuiltinProblem[] = [];
  for (let attempts = 0; problems.length < count; attempts++) {
    if (attempts > count * 50) throw new Error(`could not generate ${count} distinct problems`);
    const kind = BUILTIN_KINDS[problems.length % BUILTIN_KINDS.length] as BuiltinKind;
    const generated = GENERATORS[kind](random);
    if (seen.has(generated.question)) continue;
    seen.add(generated.question);
    problems.push({
      id: `builtin-${seed}-${String(problems.length).padStart(4, '0')}`,
      kind,
      question: generated.question,
      answer: generated.answer,
      solution: formatWorkedSolution(generated.steps, generated.answer),
    });
  }
  return problems;
}

/** The problems alone, as the rest of the system consumes them. */
export function builtinProblems(options: BuiltinDatasetOptions = {}): Problem[] {
  return generateBuiltinDataset(options).map(({ id, question, answer }) => ({ id, question, answer }));
}
