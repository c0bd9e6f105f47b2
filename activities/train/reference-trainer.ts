import { ApplicationFailure } from '@temporalio/activity';
import { INVALID_SPEC, REFERENCE_TRAINER_KEYS, type TrainHparams } from '../../contracts';

const TRAINER_KEYS = new Set(REFERENCE_TRAINER_KEYS);

/** Keys of the framework-neutral hyperparameters that the reference trainer does not take as such. */
const NEUTRAL_ONLY = new Set(['schedule', 'masked_loss']);

/** Input of {@link referenceTrainerConfig}. */
export interface ReferenceTrainerInput {
  stage: string;
  hparams: TrainHparams;
  /** HF model directory to start from (the previous stage's checkpoint or `base_model`); '' for none. */
  initModel: string;
  /** Random init: a preset of the trainer (`tiny`, `qwen2.5-0.5b`...), a JSON object or a config file. */
  modelConfig: string | undefined;
  checkpointDir: string;
}

const invalid = (message: string) => ApplicationFailure.create({ type: INVALID_SPEC, nonRetryable: true, message });

/**
 * The reference trainer's `--config` JSON for one stage. `schedule` must be `cosine` (the only one
 * it implements) and `masked_loss` follows the data: the trainer always applies the shards' loss
 * masks, which the mix stage writes all-ones for mid-training and assistant-only for SFT. Any
 * other hyperparameter must be one the trainer knows, so a typo fails at submission, not in the job.
 */
export function referenceTrainerConfig(i: ReferenceTrainerInput): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(i.hparams)) {
    if (NEUTRAL_ONLY.has(k)) continue;
    if (!TRAINER_KEYS.has(k))
      throw invalid(
        `train.stages[${i.stage}].hparams.${k}: the reference trainer has no such setting (known: ${[...TRAINER_KEYS].join(', ')})`
      );
    out[k] = v;
  }
  if (i.hparams.schedule !== 'cosine')
    throw invalid(`train.stages[${i.stage}].hparams.schedule: the reference trainer implements "cosine" only`);
  if (i.initModel) out.model = i.initModel;
  else if (i.modelConfig) out.model_config = i.modelConfig;
  else
    throw invalid(
      `train.stages[${i.stage}]: nothing to start from; set train.base_model (a model directory), ` +
        'train.model_config (random init, e.g. "qwen2.5-0.5b") or the stage\'s init'
    );
  out.checkpoint_dir = i.checkpointDir;
  return out;
}
