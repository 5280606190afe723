/**
 * "Build B" of the Worker Versioning test: the project's workflows with a change that is not replay-compatible. A
 * 1 ms timer before every activity adds a command that histories written by build A do not have, so a workflow
 * started on A and continued on B would fail with a nondeterminism error; B's own histories show the timers.
 */
import { sleep, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [
    {
      async scheduleActivity(input, next) {
        await sleep(1);
        return next(input);
      },
    },
  ],
});
