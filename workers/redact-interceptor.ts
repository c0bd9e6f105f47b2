import type {
  ActivityExecuteInput,
  ActivityInboundCallsInterceptor,
  ActivityInterceptorsFactory,
} from '@temporalio/worker';
import { redactDeep, redactError, registerSecretsNamedIn } from '../activities/secrets';

/**
 * Keeps secrets out of what an activity hands back to Temporal. Before the activity runs, the
 * secrets its input names (`token_env`, `api_key_env`, ... read from the worker's `env`) are
 * registered; when it throws, the error's message, stack, `details` and cause chain are redacted
 * in place, so the failure written to the workflow's history (and, through it, to the parent
 * workflows, the Temporal database and the CLI) and the SDK's own "Activity failed" log line carry
 * `[redacted:ENV_NAME]` instead of the value. Results are redacted too (they are small references).
 *
 * This runs inside the SDK's logging and failure conversion, so no failure converter is needed: a
 * workflow's own failures are built from these already redacted ones, and workflow code reads no
 * secret.
 */
export class RedactingActivityInbound implements ActivityInboundCallsInterceptor {
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  async execute(
    input: ActivityExecuteInput,
    next: (input: ActivityExecuteInput) => Promise<unknown>
  ): Promise<unknown> {
    registerSecretsNamedIn(input.args, this.env);
    try {
      return redactDeep(await next(input));
    } catch (e) {
      throw redactError(e);
    }
  }
}

/** The worker option `interceptors.activity` entry that installs {@link RedactingActivityInbound}. */
export function redactingActivityInterceptors(env: NodeJS.ProcessEnv): ActivityInterceptorsFactory {
  const inbound = new RedactingActivityInbound(env);
  return () => ({ inbound });
}
