/**
 * Records → documents: the text that is tokenized (messages rendered with the pinned ChatML
 * template of `activities/rollout/convert/to-text.ts`, with role spans for SFT masks), the object
 * written to the shards' JSONL, and the identity fields decontamination checks.
 */
import type { MixSourceFormat, TrajectoryMessage } from '../../contracts';
import { trajectoryToTrainingText, type TextSpan } from '../rollout/convert/to-text';

/** Identity fields a document may carry (mine samples: repo + pr_number; trajectories: instance_id). */
export interface DocIdentity {
  repo?: string;
  pr_number?: number;
  instance_id?: string;
  base_commit?: string;
  issue_numbers?: number[];
}

/** One document of a source. */
export interface MixDocument {
  id: string;
  /** The text that is tokenized. */
  text: string;
  /** Role spans of rendered messages; null for plain text. */
  spans: TextSpan[] | null;
  /** What the shard JSONL holds for it: `{text}` or `{messages}`. */
  out: { text: string } | { messages: TrajectoryMessage[] };
  identity: DocIdentity;
  /** Task of a trajectory (instance_id), for the per-task cap; null otherwise. */
  task: string | null;
}

const ROLES = new Set(['system', 'user', 'assistant', 'tool']);

/** Normalizes OpenAI-style messages to the trajectory message shape, or returns an error. */
export function toMessages(raw: unknown): TrajectoryMessage[] | string {
  if (!Array.isArray(raw)) return '"messages" is not an array';
  const out: TrajectoryMessage[] = [];
  for (const [i, m] of raw.entries()) {
    if (typeof m !== 'object' || m === null) return `messages[${i}] is not an object`;
    const r = m as Record<string, unknown>;
    const role = r.role;
    if (typeof role !== 'string' || !ROLES.has(role)) return `messages[${i}].role is not system/user/assistant/tool`;
    const content = r.content;
    if (role === 'assistant') {
      if (content !== null && content !== undefined && typeof content !== 'string')
        return `messages[${i}].content is not a string`;
      out.push({
        role: 'assistant',
        content: (content as string | null | undefined) ?? null,
        ...(Array.isArray(r.tool_calls) ? { tool_calls: r.tool_calls as never } : {}),
        ...(typeof r.reasoning_content === 'string' ? { reasoning_content: r.reasoning_content } : {}),
      });
    } else if (typeof content !== 'string') {
      return `messages[${i}].content is not a string`;
    } else if (role === 'tool') {
      out.push({ role: 'tool', content, tool_call_id: typeof r.tool_call_id === 'string' ? r.tool_call_id : '' });
    } else {
      out.push({ role: role as 'system' | 'user', content });
    }
  }
  return out;
}

function identityOf(r: Record<string, unknown>): DocIdentity {
  const id: DocIdentity = {};
  if (typeof r.repo === 'string') id.repo = r.repo;
  const pr = r.pr_number ?? r.pull_number;
  if (typeof pr === 'number') id.pr_number = pr;
  if (typeof r.instance_id === 'string') id.instance_id = r.instance_id;
  if (typeof r.base_commit === 'string') id.base_commit = r.base_commit;
  if (Array.isArray(r.issue_numbers))
    id.issue_numbers = r.issue_numbers.filter((n): n is number => typeof n === 'number');
  return id;
}

/** Which format a record has under `auto`. */
function detect(r: Record<string, unknown>): Exclude<MixSourceFormat, 'auto'> {
  if (Array.isArray(r.messages)) return typeof r.instance_id === 'string' ? 'trajectory' : 'messages';
  if (typeof r.repo === 'string' && typeof r.pr_number === 'number' && typeof r.text === 'string') return 'sample';
  return 'text';
}

/**
 * Converts one record of a source into a document, or returns why it cannot be used.
 * `fallbackId` names records without an `id`.
 */
export function toDocument(
  r: Record<string, unknown>,
  format: MixSourceFormat,
  textField: string,
  fallbackId: string
): MixDocument | string {
  const kind = format === 'auto' ? detect(r) : format;
  const id = typeof r.id === 'string' ? r.id : typeof r.id === 'number' ? String(r.id) : fallbackId;
  const identity = identityOf(r);
  if (kind === 'messages' || kind === 'trajectory') {
    const messages = toMessages(r.messages);
    if (typeof messages === 'string') return messages;
    const rendered = trajectoryToTrainingText(messages);
    // trajectories (and messages records that name their task) count toward the per-task cap
    return {
      id,
      text: rendered.text,
      spans: rendered.spans,
      out: { messages },
      identity,
      task: identity.instance_id ?? null,
    };
  }
  const field = kind === 'sample' ? 'text' : textField;
  const text = r[field];
  if (typeof text !== 'string') return `field "${field}" is not a string`;
  return { id, text, spans: null, out: { text }, identity, task: null };
}
