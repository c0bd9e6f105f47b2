import { z } from 'zod';
import { ExperimentSpec } from '../contracts';

/**
 * The JSON Schema of an experiment spec, as users write it (defaults may be omitted), for the
 * Web UI's Start Workflow form, editors and YAML language servers.
 */
export function experimentJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://bottega.dev/schemas/experiment.json',
    title: 'bottega ExperimentSpec',
    description: 'The single argument of experimentWorkflow. See examples/ for runnable specs.',
    ...z.toJSONSchema(ExperimentSpec, { io: 'input', unrepresentable: 'any' }),
  };
}
