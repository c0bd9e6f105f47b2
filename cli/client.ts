import { Client, Connection } from '@temporalio/client';

/** Where the Temporal server and its Web UI are, from the environment. */
export function temporalSettings(env: NodeJS.ProcessEnv = process.env) {
  return {
    address: env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    namespace: env.TEMPORAL_NAMESPACE ?? 'default',
    uiUrl: (env.TEMPORAL_UI_URL ?? 'http://localhost:8233').replace(/\/$/, ''),
  };
}

/**
 * Web UI link of a workflow run: `<ui>/namespaces/<ns>/workflows/<id>/<runId>/history`. Without
 * `runId`, the workflow's page, which the UI sends on to its latest run.
 */
export function workflowUrl(workflowId: string, runId?: string, env: NodeJS.ProcessEnv = process.env): string {
  const t = temporalSettings(env);
  const base = `${t.uiUrl}/namespaces/${encodeURIComponent(t.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${encodeURIComponent(runId)}/history` : base;
}

/** Connects a client; the caller closes `connection`. Fails with a message naming the address. */
export async function connectClient(
  env: NodeJS.ProcessEnv = process.env
): Promise<{ client: Client; connection: Connection }> {
  const t = temporalSettings(env);
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: t.address, connectTimeout: '5 seconds' });
  } catch (e) {
    throw new Error(
      `cannot reach the Temporal server at ${t.address} (${(e as Error).message}). Start it with \`bottega dev up temporal\` or set TEMPORAL_ADDRESS.`
    );
  }
  return { client: new Client({ connection, namespace: t.namespace }), connection };
}
