export { smokeWorkflow } from './smoke.js';
export { melRunWorkflow } from './run.js';
export { melStepWorkflow } from './step.js';
export { melReplayStepWorkflow } from './replay.js';
export { melEvalWorkflow } from './eval.js';
