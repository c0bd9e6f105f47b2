import { ApplicationFailure } from '@temporalio/activity';
import type { z } from 'zod';
import { describeIssues } from '../contracts';

/**
 * Validates an activity's input at entry. A bad input fails the activity without retries
 * (ApplicationFailure type `InvalidSpec`), naming each problem's path.
 */
export function validateInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const problems = describeIssues(r.error);
  throw ApplicationFailure.create({
    type: 'InvalidSpec',
    nonRetryable: true,
    message: `${what} is invalid: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
    details: [problems],
  });
}
