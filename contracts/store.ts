import { z } from 'zod';

const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name');

/**
 * Where artifacts live. Credentials are never part of a spec: only the names of the environment
 * variables that hold them, read by the worker.
 */
export const StoreConfig = z.strictObject({
  /**
   * `file:///abs/dir` or `s3://bucket/prefix`. When omitted the worker's default is used:
   * `$BOTTEGA_HOME/artifacts` (BOTTEGA_HOME defaults to `.bottega/` in the working directory).
   */
  uri: z
    .string()
    .regex(/^(file:\/\/\/|s3:\/\/[a-z0-9.-]{3,63}(\/|$))/, 'expected "file:///abs/path" or "s3://bucket[/prefix]"')
    .optional(),
  s3: z
    .strictObject({
      /** Env var holding the endpoint URL of a self-hosted S3 server; unset means AWS. */
      endpoint_env: EnvName.default('BOTTEGA_S3_ENDPOINT'),
      /**
       * Env var holding the endpoint URL that Slurm jobs use to download shards (the presigned
       * URLs are signed for it), where compute nodes reach S3 under another address than the
       * worker does (e.g. a container network name); unset means the worker's endpoint.
       */
      public_endpoint_env: EnvName.default('BOTTEGA_S3_PUBLIC_ENDPOINT'),
      region: z.string().default('us-east-1'),
      access_key_env: EnvName.default('AWS_ACCESS_KEY_ID'),
      secret_key_env: EnvName.default('AWS_SECRET_ACCESS_KEY'),
      /** Path-style addressing, needed by most self-hosted servers. */
      force_path_style: z.boolean().default(true),
    })
    .prefault({}),
});
export type StoreConfig = z.infer<typeof StoreConfig>;
