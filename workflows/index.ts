export { smokeWorkflow } from './smoke.js';
export { melRunWorkflow, type MelRunInput } from './run.js';
export { melStepWorkflow } from './step.js';
export { melReplayStepWorkflow, type ReplayStepInput } from './replay.js';
export { melEvalWorkflow } from './eval.js';
