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

function numericValue(expression: BoxedExpression): number | null {
  if (expression.freeVariables.length > 0) return null;
  const value = expression.N().re;
  return Number.isFinite(value) ? value : null;
}

export function nearlyEqual(a: number, b: number, relativeTolerance: number): boolean {
  return Math.abs(a - b) <= relativeTolerance * Math.max(Math.abs(a), Math.abs(b), Number.MIN_VALUE);
}

function mathematicallyEqual(
  left: BoxedExpression,
  right: BoxedExpression,
  relativeTolerance: number,
): boolean {
  if (left.isEqual(right) === true) return true;
  // Two integers are either equal or not: no tolerance (2^100 differs from 2^100 + 1).
  if (left.evaluate().isInteger === true && right.evaluate().isInteger === true) return false;
  const x = numericValue(left);
  const y = numericValue(right);
  return x !== null && y !== null && nearlyEqual(x, y, relativeTolerance);
}

function latexEquivalent(a: string, b: string, relativeTolerance: number): boolean {
  const left = parse(a);
  const right = parse(b);
  if (left === null || right === null) return false;
  try {
    return mathematicallyEqual(left, right, relativeTolerance);
  } catch {
    return false; // the engine throws on some malformed inputs (e.g. odd tuples): not equivalent
  }
}

/** Whether some form of the predicted answer equals some form of the truth. Unbounded in time: see above. */
export function symbolicallyEquivalent({ predicted, truth, relativeTolerance }: SymbolicComparison): boolean {
  return predicted.some((p) => truth.some((t) => latexEquivalent(p, t, relativeTolerance)));
}
