/**
 * On-disk HTTP cache for the GitHub API, as a `fetch` wrapper handed to Octokit (`request.fetch`).
 *
 * Sitting below Octokit's throttling and retry plugins, it works at the HTTP level:
 * - GET responses with an ETag or Last-Modified are stored under `cacheDir/<k[0:2]>/<k>.json`, where
 *   k = sha256("GET " + absolute URL). Authorization is not part of the key: one cache per token
 *   owner is the caller's business (GitHub's public data is identical for every token).
 * - A cached URL is revalidated with `If-None-Match` / `If-Modified-Since`; a 304 (free of primary
 *   quota on GitHub) is turned into a 200 carrying the cached body, so Octokit never sees the 304.
 * - SHA-pinned URLs (`/commits/<40-hex>`, `?ref=<40-hex>`, `/git/blobs/<sha>`) are immutable and
 *   served from the cache without any request.
 * - 404s carry no ETag, so they are cached (and replayed without a request) only where they are
 *   stable: SHA-pinned URLs (a path absent at a commit stays absent) and `/issues/N` (a deleted
 *   issue stays deleted). Other 404s are not cached.
 * - POST is never cached, with one exception: GraphQL queries (`POST …/graphql` with a string body
 *   that is not a mutation). Their key is k = sha256("POST " + URL + "\n" + body), i.e. the full
 *   query and variables, so two different queries never share an entry. They are stored only when
 *   the server sends an ETag, and always revalidated (`If-None-Match`; a 304 replays the entry);
 *   never served without a request, and never on Last-Modified alone. Without an ETag (github.com's
 *   GraphQL API sends none today) every GraphQL query is simply refetched.
 * Writes are atomic (temp file + rename) so concurrent workers sharing a cacheDir never read a torn entry.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Counters shared by the caching fetch and its caller. */
export interface CacheCounters {
  /** Requests that reached the server and were not answered 304 (they cost quota). */
  apiCalls: number;
  /** Responses served from the cache (a 304 revalidation or an immutable hit). */
  cacheHits: number;
}

interface Entry {
  url: string;
  /** "POST" for GraphQL entries; absent for GET entries. */
  method?: string;
  /** 200, or 404 for negative entries. Absent in entries written before it existed: 200. */
  status?: number;
  etag: string | null;
  last_modified: string | null;
  /** Response headers worth replaying (content-type, link, etag, last-modified). */
  headers: Record<string, string>;
  body: string;
}

const KEPT_HEADERS = ['content-type', 'link', 'etag', 'last-modified'];

/** True for GitHub URLs whose response cannot change because they are addressed by a full SHA. */
export function isImmutableUrl(url: string): boolean {
  return (
    /\/commits\/[0-9a-f]{40}(?:[?#]|$)/i.test(url) ||
    /[?&]ref=[0-9a-f]{40}(?:&|$)/i.test(url) ||
    /\/git\/blobs\/[0-9a-f]{40}(?:[?#]|$)/i.test(url)
  );
}

/** 404s that will not turn into 200s later (see the module comment). */
function isStableNotFound(url: string): boolean {
  return isImmutableUrl(url) || /\/repos\/[^/]+\/[^/]+\/issues\/\d+(?:[?#]|$)/.test(url);
}

/** A GraphQL query POST whose body is a string: cacheable (keyed by that body, ETag only). */
function graphqlBody(url: string, init: RequestInit | undefined): string | null {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return null;
  }
  if (!/\/graphql\/?$/.test(path) || typeof init?.body !== 'string') return null;
  try {
    const q = (JSON.parse(init.body) as { query?: unknown }).query;
    if (typeof q !== 'string' || /^\s*mutation\b/.test(q)) return null;
  } catch {
    return null;
  }
  return init.body;
}

function urlOf(input: Parameters<typeof fetch>[0]): string {
  if (typeof input === 'string') return input;
  if (input instanceof URL) return input.href;
  return input.url;
}

/**
 * Wraps `baseFetch` with the conditional-request cache described above.
 *
 * @param opts.cacheDir directory for entries (created on demand).
 * @param opts.counters incremented in place.
 * @param opts.baseFetch the real fetch; default `globalThis.fetch`.
 */
export function createCachingFetch(opts: {
  cacheDir: string;
  counters: CacheCounters;
  baseFetch?: typeof fetch;
}): typeof fetch {
  const baseFetch = opts.baseFetch ?? globalThis.fetch;
  const { cacheDir, counters } = opts;

  const fileFor = (key: string): string => join(cacheDir, key.slice(0, 2), `${key}.json`);

  async function load(file: string): Promise<Entry | null> {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as Entry;
    } catch {
      return null; // absent or unreadable: behave as a miss
    }
  }

  async function store(file: string, entry: Entry): Promise<void> {
    await mkdir(join(file, '..'), { recursive: true });
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(entry));
    await rename(tmp, file);
  }

  const replay = (e: Entry): Response =>
    new Response(e.body, { status: e.status ?? 200, headers: { ...e.headers, 'x-bottega-cache': 'hit' } });

  /** POST /graphql: keyed by the body, stored only with an ETag, always revalidated. */
  async function graphqlFetch(url: string, body: string, init: RequestInit | undefined): Promise<Response> {
    const file = fileFor(createHash('sha256').update(`POST ${url}\n${body}`).digest('hex'));
    const cached = await load(file);
    const positive = cached !== null && cached.method === 'POST' && cached.url === url && cached.etag ? cached : null;
    const headers = new Headers(init?.headers);
    if (positive) headers.set('if-none-match', positive.etag!);
    const res = await baseFetch(url, { ...init, method: 'POST', body, headers });
    if (res.status === 304 && positive) {
      counters.cacheHits += 1;
      await res.body?.cancel();
      return replay(positive);
    }
    counters.apiCalls += 1;
    const etag = res.headers.get('etag');
    if (res.status !== 200 || !etag) return res;
    return keep(res, file, { url, method: 'POST', status: 200, etag, last_modified: null });
  }

  /** Stores a 200's body under `file` and returns an equivalent response. */
  async function keep(res: Response, file: string, meta: Omit<Entry, 'headers' | 'body'>): Promise<Response> {
    const body = await res.text();
    const kept: Record<string, string> = {};
    for (const h of KEPT_HEADERS) {
      const v = res.headers.get(h);
      if (v !== null) kept[h] = v;
    }
    await store(file, { ...meta, headers: kept, body });
    const out = new Headers(res.headers);
    out.delete('content-encoding'); // the body is already decoded
    out.delete('content-length');
    return new Response(body, { status: res.status, statusText: res.statusText, headers: out });
  }

  const cachingFetch = async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const url = urlOf(input);
    if (method === 'POST' && !(input instanceof Request)) {
      const body = graphqlBody(url, init);
      if (body !== null) return graphqlFetch(url, body, init);
    }
    if (method !== 'GET') {
      counters.apiCalls += 1;
      return baseFetch(input, init);
    }
    const file = fileFor(createHash('sha256').update(`GET ${url}`).digest('hex'));
    const cached = await load(file);
    if (cached && cached.url === url && (isImmutableUrl(url) || (cached.status === 404 && isStableNotFound(url)))) {
      counters.cacheHits += 1;
      return replay(cached);
    }
    const positive = cached !== null && cached.url === url && (cached.status ?? 200) === 200 ? cached : null;
    const headers = new Headers(init?.headers);
    if (positive?.etag) headers.set('if-none-match', positive.etag);
    else if (positive?.last_modified) headers.set('if-modified-since', positive.last_modified);
    const res = await baseFetch(url, { ...init, method, headers });
    if (res.status === 304 && positive) {
      counters.cacheHits += 1;
      await res.body?.cancel();
      return replay(positive);
    }
    counters.apiCalls += 1;
    if (res.status === 404 && isStableNotFound(url)) {
      const body = await res.text();
      const kept: Record<string, string> = {};
      const ct = res.headers.get('content-type');
      if (ct !== null) kept['content-type'] = ct;
      await store(file, { url, status: 404, etag: null, last_modified: null, headers: kept, body });
      return new Response(body, { status: 404, statusText: res.statusText, headers: kept });
    }
    if (res.status !== 200) return res;
    const etag = res.headers.get('etag');
    const lastModified = res.headers.get('last-modified');
    if (!etag && !lastModified && !isImmutableUrl(url)) return res;
    return keep(res, file, { url, status: 200, etag, last_modified: lastModified });
  };
  return cachingFetch as typeof fetch;
}
