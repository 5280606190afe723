import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, RetryState } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { failureChain } from '../../../temporal/errors.js';

describe('failureChain', () => {
  it('joins the messages of an error and its causes, outermost first', () => {
    const root = ApplicationFailure.nonRetryable('the engine refused the update', 'InvalidInput');
    const activity = new ActivityFailure(
      'Activity task failed',
      'policyUpdate',
      'a1',
      RetryState.NON_RETRYABLE_FAILURE,
      'w',
      root,
    );
    const child = new ChildWorkflowFailure(
      'default',
      { workflowId: 'r/step-1', runId: 'x' },
      'melStepWorkflow',
      RetryState.NON_RETRYABLE_FAILURE,
      activity,
    );
    expect(failureChain(child)).toBe(
      'Child Workflow execution failed: Activity task failed: the engine refused the update',
    );
  });

  it('stops at a cause that is not an Error, and stringifies what is not an Error', () => {
    expect(failureChain(new Error('outer', { cause: 'a string' }))).toBe('outer');
    expect(failureChain('plain')).toBe('plain');
    expect(failureChain(undefined)).toBe('undefined');
  });
});
