import { parentPort } from 'node:worker_threads';
import { symbolicallyEquivalent, type SymbolicComparison } from './symbolic.js';
import type { SymbolicOutcome } from './verifier.js';

// One thread of mel/verifier-pool.ts: compares answers with the Compute Engine, one at a time, for as long as the
// pool lets it (the pool terminates it when a comparison runs past its deadline).

const port = parentPort;
if (port === null)
  throw new Error('mel/verifier-worker.ts runs only as a worker thread (mel/verifier-pool.ts)');

// The first comparison pays the engine's set-up (a few hundred ms): pay it before reporting ready, so that no
// answer's deadline includes it.
symbolicallyEquivalent({ predicted: ['\\frac{1}{2}'], truth: ['0.5'], relativeTolerance: 0 });

port.on('message', (comparison: SymbolicComparison) => {
  const outcome: SymbolicOutcome = symbolicallyEquivalent(comparison) ? 'equivalent' : 'not-equivalent';
  port.postMessage(outcome);
});
port.postMessage('ready');
