/**
 * A hostile API server for secret-redaction tests (node:http on 127.0.0.1, random port): every
 * request, whatever its path, is answered 401 with a GitHub-shaped JSON body that quotes the
 * `Authorization` header it received — as a misconfigured proxy or a debugging endpoint might.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running {@link startEchoAuthServer}. */
export interface EchoAuthServer {
  /** Base URL, e.g. http://127.0.0.1:54321 (use as GitHub `api_url`). */
  url: string;
  /** The Authorization header of every request, in arrival order (undefined when absent). */
  authorizations: (string | undefined)[];
  close(): Promise<void>;
}

/** Starts the server; remember to `close()` it. */
export async function startEchoAuthServer(): Promise<EchoAuthServer> {
  const authorizations: (string | undefined)[] = [];
  const server = createServer((req, res) => {
    req.resume();
    const auth = req.headers.authorization;
    authorizations.push(auth);
    const body = JSON.stringify({
      message: `Bad credentials: you sent Authorization: ${auth ?? '(none)'}`,
      documentation_url: 'https://docs.github.com/rest',
    });
    res.writeHead(401, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    authorizations,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
