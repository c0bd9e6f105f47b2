/**
 * The paper's only filter on rollouts (§4): trajectories over 128k tokens (131,072, the released
 * utilities' `--max-tokens`) are dropped. Length is the token count of the rendered training text
 * (to-text.ts, ChatML) with the target tokenizer. Nothing else is filtered here.
 */
import type { Trajectory } from '../../../contracts/trajectory';
import { trajectoryToTrainingText, type ToTextOptions } from './to-text';

export const MAX_TRAJECTORY_TOKENS = 131_072;

export type GateDropReason = 'too_long';

export interface GateResult<T> {
  kept: { trajectory: T; tokens: number }[];
  dropped: { trajectory: T; tokens: number; reason: GateDropReason }[];
  /** Dropped count per reason. */
  droppedBy: Record<GateDropReason, number>;
}

/** Keeps trajectories whose rendered text is at most `maxTokens` tokens. */
export function gateTrajectories<T extends Pick<Trajectory, 'messages'>>(
  trajs: T[],
  tokenizer: { count(text: string): number },
  maxTokens = MAX_TRAJECTORY_TOKENS,
  opts: ToTextOptions = {}
): GateResult<T> {
  const out: GateResult<T> = { kept: [], dropped: [], droppedBy: { too_long: 0 } };
  for (const trajectory of trajs) {
    const tokens = tokenizer.count(trajectoryToTrainingText(trajectory.messages, opts).text);
    if (tokens > maxTokens) {
      out.dropped.push({ trajectory, tokens, reason: 'too_long' });
      out.droppedBy.too_long++;
    } else {
      out.kept.push({ trajectory, tokens });
    }
  }
  return out;
}
