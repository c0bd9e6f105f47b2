import { ApplicationFailure } from '@temporalio/common';
import { INVALID_SPEC } from '../../contracts';

/**
 * A mixture that cannot be built as specified (an upstream artifact missing, a source too small
 * for its ratio under its repetition cap...): a non-retryable `InvalidSpec` failure whose message
 * names the field and how to fix it.
 */
export function invalidMix(message: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: INVALID_SPEC,
    nonRetryable: true,
    message: `mix config is invalid:\n${message}`,
  });
}
