import { z } from 'zod';
import { atMost } from './limits';
import { ArtifactRef } from './artifact';

/**
 * The mix stage: cleans every source (length gates, decontamination, exact and near dedup, a cap
 * on trajectories per task), then weights, tokenizes and packs them into the training shards of
 * each training stage (`docs/shards.md`).
 */

/** Upstream artifacts a mix source can name in `from`. */
export const MIX_UPSTREAM = ['mine.general', 'mine.python', 'rollout.pass', 'rollout.fail'] as const;
export const MixUpstream = z.enum(MIX_UPSTREAM);
export type MixUpstream = z.infer<typeof MixUpstream>;

/**
 * Record format of a source. `auto` guesses per record: `messages` (OpenAI chat, rendered with the
 * pinned ChatML template), a Trajectory or a mine sample (by their fields), else `text_field`.
 */
export const MixSourceFormat = z.enum(['auto', 'text', 'messages', 'sample', 'trajectory']);
export type MixSourceFormat = z.infer<typeof MixSourceFormat>;

const SourceName = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,63}$/, 'expected a lower-case name like "python_prs" (a-z, 0-9, _)');

/** One input of the mixture: an upstream artifact (`from`) or a file (`path`). */
export const MixSource = z
  .strictObject({
    name: SourceName,
    /** An upstream stage's artifact. Exactly one of `from` and `path`. */
    from: MixUpstream.optional(),
    /**
     * A local path, `file://` or `s3://` URI; `.jsonl` or `.parquet`. `bottega run` resolves a relative path
     * against the spec file; a spec started elsewhere (the Web UI) against the worker's working directory.
     */
    path: z.string().min(1).optional(),
    format: MixSourceFormat.default('auto'),
    /** Field holding the text of `text` records. */
    text_field: z.string().min(1).default('text'),
    /** Length gate in tokens of the rendered document (inclusive bounds). */
    min_tokens: z.number().int().nonnegative().check(atMost('doc_tokens')).default(0),
    max_tokens: z.number().int().positive().check(atMost('doc_tokens')).default(131_072),
  })
  .superRefine((s, ctx) => {
    if ((s.from === undefined) === (s.path === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['from'],
        message: `give exactly one of "from" (${MIX_UPSTREAM.join(', ')}) or "path" (a .jsonl/.parquet file)`,
      });
    if (s.min_tokens > s.max_tokens)
      ctx.addIssue({ code: 'custom', path: ['min_tokens'], message: 'min_tokens must be at most max_tokens' });
  });
export type MixSource = z.infer<typeof MixSource>;

/**
 * A source's weight in one training stage. Exactly one of `ratio`, `tokens` and `repeat` (none =
 * `repeat: 1`). Fractional repetition = whole repeats plus a seeded subset of the documents.
 */
export const MixStageSource = z.strictObject({
  source: SourceName,
  /** Share of the stage's `requested_tokens` (content tokens); all of a stage's ratios sum to 1. */
  ratio: z.number().gt(0).max(1).optional(),
  /** Content-token budget. */
  tokens: z.number().int().positive().check(atMost('token_budget')).optional(),
  /** Repetition factor (the paper's ×3). */
  repeat: z.number().gt(0).check(atMost('repeat')).optional(),
  /** Largest repetition a ratio or budget may imply (OLMo-core's `max_repetition_ratio`). */
  max_repetition: z.number().gt(0).check(atMost('repeat')).default(4),
  /** Largest share of the stage's content tokens this source may take. */
  max_fraction: z.number().gt(0).max(1).default(1),
});
export type MixStageSource = z.infer<typeof MixStageSource>;

/** One training stage (mid-training stage 1, 2, SFT...): one directory of shards and a manifest. */
export const MixStage = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'expected a lower-case stage name like "mt1"'),
  /** Content tokens wanted (sources weighted by `ratio`), or `all`: each source's weight applied once. */
  requested_tokens: z
    .union([z.number().int().positive().check(atMost('token_budget')), z.literal('all')])
    .default('all'),
  seq_len: z.number().int().min(16).check(atMost('seq_len')).default(32_768),
  /** Pack documents into fixed-length sequences, or one sequence per document. */
  pack: z.boolean().default(true),
  /** `none`: every token counts (mid-training); `sft`: only assistant content. */
  loss_mask: z.enum(['none', 'sft']).default('none'),
  sources: z.array(MixStageSource).min(1),
});
export type MixStage = z.infer<typeof MixStage>;

/** A benchmark to decontaminate against. */
export const MixBenchmark = z.strictObject({
  name: z.string().min(1),
  /** Local path, `file://` or `s3://` URI of a JSONL (or JSON array) file. */
  path: z.string().min(1),
  /**
   * `swebench`: instance_id, repo, base_commit, problem_statement, patch (PR number from the
   * instance id); `humaneval`: task_id, prompt, canonical_solution; `jsonl`: `id` and `text`.
   */
  format: z.enum(['swebench', 'humaneval', 'jsonl']).default('swebench'),
});
export type MixBenchmark = z.infer<typeof MixBenchmark>;

/**
 * Hugging Face-style files written next to each shard's token files, with the same documents:
 * `shard-NNNNN.jsonl` and `shard-NNNNN.parquet` (docs/shards.md).
 */
export const MixOutputs = z.strictObject({
  jsonl: z.boolean().default(true),
  parquet: z.boolean().default(false),
});
export type MixOutputs = z.infer<typeof MixOutputs>;

/** The mix stage's configuration (`mix:` in the experiment spec). */
export const MixConfig = z
  .strictObject({
    tokenizer: z.enum(['qwen2.5', 'qwen3']).default('qwen2.5'),
    /** Seed of every shuffle and subset choice: the same spec gives byte-identical shards. */
    seed: z.number().int().nonnegative().default(1234),
    /** Target tokens per shard. */
    shard_tokens: z
      .number()
      .int()
      .positive()
      .check(atMost('shard_tokens'))
      .default(64 * 1024 * 1024),
    /** Shard writers running at once. */
    concurrency: z.number().int().positive().max(64).default(4),
    sources: z.array(MixSource).min(1),
    dedup: z
      .strictObject({
        /** Drop documents whose normalized text (NFC, whitespace collapsed) was seen before. */
        exact: z.boolean().default(true),
        /**
         * MinHash LSH over word shingles. The defaults (16 bands × 8 rows) make pairs above an
         * approximate Jaccard similarity of (1/16)^(1/8) ≈ 0.71 candidates (they share a band); a
         * candidate is removed only when its estimated Jaccard similarity to the kept document
         * reaches `threshold`.
         */
        near: z
          .strictObject({
            enabled: z.boolean().default(true),
            shingle_size: z.number().int().positive().check(atMost('ngram')).default(5),
            num_perm: z.number().int().positive().check(atMost('num_perm')).default(128),
            bands: z.number().int().positive().default(16),
            rows: z.number().int().positive().default(8),
            /**
             * Estimated Jaccard similarity (fraction of equal signature values) that confirms a
             * candidate; default (1/bands)^(1/rows), the LSH threshold. 0 removes every candidate.
             */
            threshold: z.number().min(0).max(1).optional(),
          })
          .prefault({})
          .refine((n) => n.bands * n.rows === n.num_perm, {
            message: 'bands × rows must equal num_perm (e.g. 16 × 8 = 128)',
            path: ['bands'],
          }),
        /** Trajectories kept per task (instance_id), across all sources; the paper keeps ≤ 4. */
        max_trajectories_per_task: z.number().int().positive().check(atMost('per_task')).default(4),
      })
      .prefault({}),
    decontaminate: z
      .strictObject({
        benchmarks: z.array(MixBenchmark).default([]),
        /** Word n-gram size. */
        ngram: z.number().int().positive().check(atMost('ngram')).default(13),
        /** Remove a document when it holds this share of any benchmark text's n-grams. */
        threshold: z.number().gt(0).max(1).default(0.5),
      })
      .prefault({}),
    stages: z.array(MixStage).min(1),
    /** Which Hugging Face-style files each shard gets next to its token files (docs/shards.md). */
    outputs: MixOutputs.prefault({}),
  })
  .superRefine((c, ctx) => {
    const names = new Set<string>();
    c.sources.forEach((s, i) => {
      if (names.has(s.name))
        ctx.addIssue({ code: 'custom', path: ['sources', i, 'name'], message: `duplicate source name "${s.name}"` });
      names.add(s.name);
    });
    const stageNames = new Set<string>();
    c.stages.forEach((st, i) => {
      if (stageNames.has(st.name))
        ctx.addIssue({ code: 'custom', path: ['stages', i, 'name'], message: `duplicate stage name "${st.name}"` });
      stageNames.add(st.name);
      checkStage(st, [...names], (path, message) =>
        ctx.addIssue({ code: 'custom', path: ['stages', i, ...path], message })
      );
    });
  });
export type MixConfig = z.infer<typeof MixConfig>;
export type MixConfigInput = z.input<typeof MixConfig>;

/** Static checks of one stage's weights (data-dependent ones happen at planning time). */
function checkStage(st: MixStage, sources: string[], issue: (path: (string | number)[], message: string) => void) {
  const used = new Set<string>();
  let ratioSum = 0;
  let ratios = 0;
  st.sources.forEach((s, j) => {
    const p = (k: string) => ['sources', j, k];
    if (!sources.includes(s.source))
      issue(
        p('source'),
        `unknown source "${s.source}"; mix.sources defines ${sources.map((n) => `"${n}"`).join(', ')}`
      );
    if (used.has(s.source)) issue(p('source'), `source "${s.source}" listed twice in this stage; merge the entries`);
    used.add(s.source);
    const given = (['ratio', 'tokens', 'repeat'] as const).filter((k) => s[k] !== undefined);
    if (given.length > 1) issue(p(given[1]!), `give only one of ratio, tokens and repeat (got ${given.join(' and ')})`);
    if (s.ratio !== undefined) {
      ratios++;
      ratioSum += s.ratio;
      if (st.requested_tokens === 'all')
        issue(p('ratio'), 'a ratio needs an integer requested_tokens on the stage; use repeat or tokens with "all"');
      if (s.ratio > s.max_fraction)
        issue(
          p('ratio'),
          `ratio ${s.ratio} exceeds max_fraction ${s.max_fraction}; lower the ratio or raise max_fraction`
        );
    }
    if (s.repeat !== undefined && s.repeat > s.max_repetition)
      issue(
        p('repeat'),
        `repeat ${s.repeat} exceeds max_repetition ${s.max_repetition}; raise max_repetition to allow it`
      );
  });
  if (ratios > 0 && ratios < st.sources.length)
    issue(['sources'], 'mix ratio with tokens/repeat in one stage: give every source a ratio, or none');
  if (ratios > 0 && Math.abs(ratioSum - 1) > 1e-6)
    issue(['sources'], `ratios sum to ${+ratioSum.toFixed(6)}, not 1; adjust them so they add up to 1`);
  if (st.requested_tokens !== 'all' && ratios === 0)
    issue(['requested_tokens'], 'an integer requested_tokens needs a ratio on every source; or use "all"');
}

/** Documents and tokens of one count. */
export const MixCount = z.strictObject({
  documents: z.number().int().nonnegative(),
  tokens: z.number().int().nonnegative(),
});
export type MixCount = z.infer<typeof MixCount>;

/** Why a document was removed while cleaning. */
export const MIX_REMOVAL_REASONS = [
  'invalid',
  'empty',
  'too_short',
  'too_long',
  'contaminated_identity',
  'contaminated_ngram',
  'duplicate_exact',
  'duplicate_near',
  'task_cap',
] as const;
export const MixRemovalReason = z.enum(MIX_REMOVAL_REASONS);
export type MixRemovalReason = z.infer<typeof MixRemovalReason>;

/** One source in one training stage's manifest (docs/shards.md). */
export const MixSourceManifest = z.strictObject({
  documents_in: z.number().int().nonnegative(),
  tokens_in: z.number().int().nonnegative(),
  removed: z.record(z.string(), MixCount),
  documents_out: z.number().int().nonnegative(),
  tokens_out: z.number().int().nonnegative(),
  /** tokens_out / tokens kept after cleaning. */
  repetition: z.number().nonnegative(),
  /** tokens_out / the stage's content tokens. */
  share: z.number().min(0).max(1),
});
export type MixSourceManifest = z.infer<typeof MixSourceManifest>;

/** One file of a shard. */
export const MixShardFile = z.strictObject({
  uri: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
});
export type MixShardFile = z.infer<typeof MixShardFile>;

/** The files every shard has: token ids, loss mask and document bounds, each `.bin` + `.idx`. */
export const MIX_TOKEN_FILES = ['bin', 'idx', 'mask.bin', 'mask.idx', 'bounds.bin', 'bounds.idx'] as const;
/** Hugging Face-style files, present when enabled in `mix.outputs`. */
export const MIX_DOCUMENT_FILES = ['jsonl', 'parquet'] as const;
/** Every file a shard may have, by extension after `shard-NNNNN.`. */
export const MIX_SHARD_FILES = [...MIX_TOKEN_FILES, ...MIX_DOCUMENT_FILES] as const;

/** One shard of a training stage. */
export const MixShard = z.strictObject({
  name: z.string(),
  sequences: z.number().int().nonnegative(),
  tokens: z.number().int().nonnegative(),
  loss_tokens: z.number().int().nonnegative(),
  /** The token files always; `jsonl` and `parquet` as `mix.outputs` enables them. */
  files: z.strictObject({
    bin: MixShardFile,
    idx: MixShardFile,
    'mask.bin': MixShardFile,
    'mask.idx': MixShardFile,
    'bounds.bin': MixShardFile,
    'bounds.idx': MixShardFile,
    jsonl: MixShardFile.optional(),
    parquet: MixShardFile.optional(),
  }),
});
export type MixShard = z.infer<typeof MixShard>;

/** manifest.json of one training stage (docs/shards.md). */
export const MixManifest = z.strictObject({
  schema_version: z.literal(1),
  stage: z.string(),
  tokenizer: z.strictObject({
    name: z.string(),
    fingerprint: z.string(),
    eos_id: z.number().int(),
    vocab_size: z.number().int().positive(),
  }),
  seq_len: z.number().int().positive(),
  pack: z.boolean(),
  loss_mask: z.enum(['none', 'sft']),
  sequences: z.number().int().nonnegative(),
  tokens: z.number().int().nonnegative(),
  content_tokens: z.number().int().nonnegative(),
  eos_tokens: z.number().int().nonnegative(),
  pad_tokens: z.number().int().nonnegative(),
  loss_tokens: z.number().int().nonnegative(),
  documents: z.number().int().nonnegative(),
  sources: z.record(z.string(), MixSourceManifest),
  shards: z.array(MixShard),
});
export type MixManifest = z.infer<typeof MixManifest>;

/** What cleaning did to one source (whatever stages use it). */
export const MixSourceSummary = z.strictObject({
  documents_in: z.number().int().nonnegative(),
  tokens_in: z.number().int().nonnegative(),
  removed: z.record(z.string(), MixCount),
  documents_kept: z.number().int().nonnegative(),
  tokens_kept: z.number().int().nonnegative(),
});
export type MixSourceSummary = z.infer<typeof MixSourceSummary>;

/** Per training stage totals in the summary. */
export const MixStageSummary = z.strictObject({
  sequences: z.number().int().nonnegative(),
  tokens: z.number().int().nonnegative(),
  content_tokens: z.number().int().nonnegative(),
  loss_tokens: z.number().int().nonnegative(),
  documents: z.number().int().nonnegative(),
  shards: z.number().int().nonnegative(),
  /** Per source: tokens out and effective repetition. */
  sources: z.record(
    z.string(),
    z.strictObject({ tokens_out: z.number().int().nonnegative(), repetition: z.number(), share: z.number() })
  ),
});
export type MixStageSummary = z.infer<typeof MixStageSummary>;

/** Counters of the mix stage. */
export const MixSummary = z.strictObject({
  tokenizer: z.string(),
  sources: z.record(z.string(), MixSourceSummary),
  stages: z.record(z.string(), MixStageSummary),
});
export type MixSummary = z.infer<typeof MixSummary>;

/** The mix stage's output. */
export const MixStageResult = z.strictObject({
  summary: MixSummary,
  artifacts: z.strictObject({
    /** manifest.json of each training stage, by stage name. */
    manifests: z.record(z.string(), ArtifactRef),
    /** removed.jsonl: every removed document with its source, reason and matched item or duplicate. */
    report: ArtifactRef,
  }),
});
export type MixStageResult = z.infer<typeof MixStageResult>;

/** One line of the removal report. */
export const MixRemoval = z.strictObject({
  source: z.string(),
  id: z.string(),
  reason: MixRemovalReason,
  tokens: z.number().int().nonnegative(),
  /** The benchmark item (`<benchmark>:<item id>`), the kept duplicate's id, or the task. */
  match: z.string().optional(),
  /** Details: the matched identity field, the n-gram overlap ratio, the record's parse error. */
  detail: z.string().optional(),
});
export type MixRemoval = z.infer<typeof MixRemoval>;
