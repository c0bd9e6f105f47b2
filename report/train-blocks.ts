import type { Block } from './cells';
import { num, txt } from './cells';
import type { ExperimentData } from './data';
import { count, loss, tokens } from './format';
import { continuousCurves, stageSpans } from './steps';
import { lineChart } from './svg';

/** x label of loss charts: one step axis across the training stages. */
export const STEP_AXIS = 'step (continuing across training stages)';

/**
 * The train stage: the loss of every training stage on one step axis (a dashed line where each
 * stage starts), the per-stage table with where its steps sit on that axis, and the checkpoints.
 */
export function trainBlocks(e: ExperimentData, k: string, chartId: string): Block[] {
  const t = e.train!;
  const out: Block[] = [{ kind: 'heading', level: 2, text: 'Training', anchor: `${chartId}train` }];
  const { series, boundaries } = continuousCurves(t.stages);
  if (series.length)
    out.push({
      kind: 'chart',
      title: 'Training loss',
      svg: lineChart({
        id: `${chartId}loss`,
        title: 'Training loss per stage',
        series,
        markers: boundaries,
        xLabel: STEP_AXIS,
        yLabel: 'loss',
      }),
    });
  const spans = stageSpans(t.stages);
  out.push({
    kind: 'table',
    head: ['stage', 'state', 'job', 'steps', 'from step', 'to step', 'tokens', 'first loss', 'last loss'],
    rows: t.stages.map((s, i) => [
      txt(s.name),
      txt(s.state),
      txt(s.job_id),
      num(`${k}train.${s.name}.steps`, s.steps),
      num(`${k}train.${s.name}.axis_first`, spans[i]!.first, count),
      num(`${k}train.${s.name}.axis_last`, spans[i]!.last, count),
      num(`${k}train.${s.name}.tokens`, s.tokens, tokens),
      num(`${k}train.${s.name}.loss_first`, s.loss_first, loss),
      num(`${k}train.${s.name}.loss_last`, s.loss_last, loss),
    ]),
  });
  out.push(
    { kind: 'heading', level: 3, text: 'Checkpoints' },
    {
      kind: 'table',
      head: ['stage', 'final checkpoint'],
      rows: t.stages.map((s) => [
        txt(s.name),
        { text: s.checkpoint, key: `${k}train.${s.name}.checkpoint`, value: s.checkpoint },
      ]),
    },
    {
      kind: 'facts',
      items: [
        {
          label: 'Final checkpoint (the trained model)',
          cell: { text: t.final_checkpoint, key: `${k}train.final_checkpoint`, value: t.final_checkpoint },
        },
      ],
    }
  );
  return out;
}
