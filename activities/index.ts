export { createSmokeActivities, type SmokeActivities, type SmokeDeps } from './smoke.js';
