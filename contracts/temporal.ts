import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Task queues by capability: each worker serves the queues whose capability its host has. */
export const TASK_QUEUES = {
  /** Workflows and CPU activities (mining, mixing, cache). */
  cpu: 'bottega-cpu',
  /** Activities that need a Docker engine. */
  docker: 'bottega-docker',
  /** Activities that talk to a Slurm cluster. */
  slurm: 'bottega-slurm',
} as const;
export type Capability = keyof typeof TASK_QUEUES;

/** Search attributes bottega registers on the Temporal server (`bottega dev up` does it). */
export const SA = {
  ExperimentId: defineSearchAttributeKey('ExperimentId', SearchAttributeType.KEYWORD),
  Stage: defineSearchAttributeKey('Stage', SearchAttributeType.KEYWORD),
  SweepId: defineSearchAttributeKey('SweepId', SearchAttributeType.KEYWORD),
  GitSha: defineSearchAttributeKey('GitSha', SearchAttributeType.KEYWORD),
  BaseModel: defineSearchAttributeKey('BaseModel', SearchAttributeType.KEYWORD),
  DatasetVersion: defineSearchAttributeKey('DatasetVersion', SearchAttributeType.KEYWORD),
  EvalScore: defineSearchAttributeKey('EvalScore', SearchAttributeType.DOUBLE),
} as const;

/** The same list in the `name=Type` form the Temporal CLI and test server take. */
export const SEARCH_ATTRIBUTE_DECLS: Record<string, 'KEYWORD' | 'DOUBLE'> = {
  ExperimentId: 'KEYWORD',
  Stage: 'KEYWORD',
  SweepId: 'KEYWORD',
  GitSha: 'KEYWORD',
  BaseModel: 'KEYWORD',
  DatasetVersion: 'KEYWORD',
  EvalScore: 'DOUBLE',
};
