/** What a workflow's history and its description say about its activities: attempts, failures, what runs now. */
import type { Client } from '@temporalio/client';

export interface ActivityAttempts {
  /** The attempt that completed. */
  attempt: number;
  /** Why the attempt before it failed. */
  lastFailure?: { message: string; type?: string };
}

/** Per activity type of a workflow: the attempt that completed and the failure of the one before. */
export async function activityAttempts(
  temporal: Client,
  workflowId: string,
): Promise<Map<string, ActivityAttempts>> {
  const { events } = await temporal.workflow.getHandle(workflowId).fetchHistory();
  const typeOf = new Map<string, string>();
  const attempts = new Map<string, ActivityAttempts>();
  for (const event of events ?? []) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) typeOf.set(String(event.eventId), scheduled.activityType?.name ?? '');
    const started = event.activityTaskStartedEventAttributes;
    if (!started) continue;
    const failure = started.lastFailure;
    attempts.set(typeOf.get(String(started.scheduledEventId)) ?? '', {
      attempt: started.attempt ?? 1,
      ...(failure
        ? {
            lastFailure: {
              message: failure.message ?? '',
              type: failure.applicationFailureInfo?.type ?? undefined,
            },
          }
        : {}),
    });
  }
  return attempts;
}

export interface RunningActivity {
  activityType: string;
  attempt: number;
  /** The worker that holds the attempt (`<pid>@<host>` by default). */
  workerIdentity: string;
}

// temporal.api.enums.v1.PendingActivityState
const PENDING_ACTIVITY_STARTED = 2;

/** The activities of a workflow that a worker has started and not yet finished (from its pending activities). */
export async function runningActivities(temporal: Client, workflowId: string): Promise<RunningActivity[]> {
  const { raw } = await temporal.workflow.getHandle(workflowId).describe();
  return (raw.pendingActivities ?? [])
    .filter((activity) => activity.state === PENDING_ACTIVITY_STARTED)
    .map((activity) => ({
      activityType: activity.activityType?.name ?? '',
      attempt: activity.attempt ?? 1,
      workerIdentity: activity.lastWorkerIdentity ?? '',
    }));
}
