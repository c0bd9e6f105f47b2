import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { describeIssues } from './validation';

/** ApplicationFailure type of every input that fails validation (never retried). */
export const INVALID_SPEC = 'InvalidSpec';

/**
 * Parses an input at a workflow or activity boundary. A bad input becomes a non-retryable
 * `InvalidSpec` ApplicationFailure naming each problem's path. (In workflow code a ZodError would
 * fail the workflow *task* and retry forever.) Safe to call from workflows: it does no I/O.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const problems = describeIssues(r.error);
  throw ApplicationFailure.create({
    type: INVALID_SPEC,
    nonRetryable: true,
    message: `${what} is invalid:\n${problems.map((p) => `${p.path}: ${p.message}`).join('\n')}`,
    details: [problems],
  });
}
