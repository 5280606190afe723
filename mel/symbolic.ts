import { ComputeEngine } from '@cortex-js/compute-engine';

// The mathematics of the verifier: LaTeX parsing, exact rationals, radicals, symbolic equality, all left to the
// Compute Engine. Its parser backtracks exponentially on some truncated inputs, so on model output this runs in a
// worker thread under a deadline (mel/verifier-pool.ts), never on an activity's event loop.

/** Two answers, each in its candidate forms (a percentage also as a fraction), after the verifier's clean-up. */
export interface SymbolicComparison {
  predicted: readonly string[];
  truth: readonly string[];
  /** Relative tolerance when two answers are compared as floating-point numbers. */
  relativeTolerance: number;
}

// The package's own .d.ts re-exports do not resolve under NodeNext; take the type from parse().
type BoxedExpression = ReturnType<ComputeEngine['parse']>;

let engine: ComputeEngine | undefined;
function computeEngine(): ComputeEngine {
  if (engine === undefined) {
    engine = new ComputeEngine();
    // Enough digits that large integers (2^100 against its 31 digits) compare exactly.
    engine.precision = 100;
  }
  return engine;
}

function parse(latex: string): BoxedExpression | null {
  try {
    const expression = computeEngine().parse(latex);
    return expression.isValid ? expression : null;
  } catch {
    return null;
  }
}

/** A complex number, its imaginary part 0 for a real one. */
interface NumericValue {
  re: number;
  im: number;
}

function numericValue(expression: BoxedExpression): NumericValue | null {
  if (expression.freeVariables.length > 0) return null;
  const value = expression.N();
  const [re, im] = [value.re, value.im];
  return Number.isFinite(re) && Number.isFinite(im) ? { re, im } : null;
}

export function nearlyEqual(a: number, b: number, relativeTolerance: number): boolean {
  return Math.abs(a - b) <= relativeTolerance * Math.max(Math.abs(a), Math.abs(b), Number.MIN_VALUE);
}

/** |a − b| within the tolerance relative to the larger modulus: both parts count (6 + 5i is not 6 − 5i). */
function complexNearlyEqual(a: NumericValue, b: NumericValue, relativeTolerance: number): boolean {
  const distance = Math.hypot(a.re - b.re, a.im - b.im);
  return (
    distance <= relativeTolerance * Math.max(Math.hypot(a.re, a.im), Math.hypot(b.re, b.im), Number.MIN_VALUE)
  );
}

// Relations are predicates: the engine's isEqual evaluates both sides to a truth value, and two equations or
// memberships over free variables both evaluate to False, so it calls "5x + 4 = 0" equal to "5x + 4 = 1".
const RELATIONS = new Set([
  'Equal',
  'NotEqual',
  'Less',
  'LessEqual',
  'Greater',
  'GreaterEqual',
  'Element',
  'NotElement',
]);

function containsRelation(expression: BoxedExpression): boolean {
  const operands: readonly BoxedExpression[] = expression.ops ?? [];
  return RELATIONS.has(expression.operator) || operands.some(containsRelation);
}

// Ordered collections: equal when their elements are, each compared as an answer (the engine's isEqual compares
// "[\pi^2/8, 5\pi^2/4]" with its \frac form by structure and says no).
const SEQUENCES = new Set(['List', 'Tuple']);

function operandsEqual(left: BoxedExpression, right: BoxedExpression, relativeTolerance: number): boolean {
  const a: readonly BoxedExpression[] = left.ops ?? [];
  const b: readonly BoxedExpression[] = right.ops ?? [];
  return (
    left.operator === right.operator &&
    a.length === b.length &&
    a.every((operand, index) => mathematicallyEqual(operand, b[index]!, relativeTolerance))
  );
}

function mathematicallyEqual(
  left: BoxedExpression,
  right: BoxedExpression,
  relativeTolerance: number,
): boolean {
  // An expression holding a relation is compared part by part: same relation, each side equal.
  if (containsRelation(left) || containsRelation(right)) return operandsEqual(left, right, relativeTolerance);
  if (left.isEqual(right) === true) return true;
  if (SEQUENCES.has(left.operator)) return operandsEqual(left, right, relativeTolerance);
  // Two integers are either equal or not: no tolerance (2^100 differs from 2^100 + 1).
  if (left.evaluate().isInteger === true && right.evaluate().isInteger === true) return false;
  const x = numericValue(left);
  const y = numericValue(right);
  return x !== null && y !== null && complexNearlyEqual(x, y, relativeTolerance);
}

/**
 * Parsing declares the symbols it meets, with the type their use implies, in the engine's current scope: after
 * "x \in [-2,7]", x is a tuple and "2x + 3" no longer parses. Each comparison runs in a scope of its own, dropped
 * afterwards, so that no verdict depends on the answers the engine saw before.
 */
function latexEquivalent(a: string, b: string, relativeTolerance: number): boolean {
  const ce = computeEngine();
  ce.pushScope();
  try {
    const left = parse(a);
    const right = parse(b);
    if (left === null || right === null) return false;
    return mathematicallyEqual(left, right, relativeTolerance);
  } catch {
    return false; // the engine throws on some malformed inputs (e.g. odd tuples): not equivalent
  } finally {
    ce.popScope();
  }
}

/** Whether some form of the predicted answer equals some form of the truth. Unbounded in time: see above. */
export function symbolicallyEquivalent({ predicted, truth, relativeTolerance }: SymbolicComparison): boolean {
  return predicted.some((p) => truth.some((t) => latexEquivalent(p, t, relativeTolerance)));
}
