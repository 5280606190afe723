// The entry of a verifier worker thread. A worker does not always inherit the parent's TypeScript loader (under
// vitest it does not; under `tsx` it does), so it loads its TypeScript module through tsx's scoped loader itself.
import { tsImport } from 'tsx/esm/api';

await tsImport('./verifier-worker.ts', import.meta.url);
