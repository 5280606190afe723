export { smokeWorkflow } from './smoke.js';
