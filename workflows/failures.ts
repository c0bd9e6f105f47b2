import { ApplicationFailure } from '@temporalio/workflow';
import type { z } from 'zod';
import { describeIssues } from '../contracts/validation';

/**
 * Parses a workflow input. A ZodError thrown in workflow code would fail the workflow *task*
 * and retry forever, so a bad input becomes a non-retryable `InvalidSpec` failure instead.
 */
export function parseWorkflowInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const problems = describeIssues(r.error);
  throw ApplicationFailure.create({
    type: 'InvalidSpec',
    nonRetryable: true,
    message: `${what} is invalid:\n${problems.map((p) => `${p.path}: ${p.message}`).join('\n')}`,
    details: [problems],
  });
}
