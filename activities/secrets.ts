/**
 * Redaction of the secrets bottega reads (GitHub tokens, LLM API keys, S3 keys, the slurmrestd JWT).
 *
 * A server may echo what it was sent (a 401 body quoting the `Authorization` header, an error page
 * with the request). Such text reaches activity failures, log lines and artifacts, and from there
 * workflow histories, the Temporal database and the CLI's output. Every secret bottega reads is
 * registered here by the name of the variable it came from ({@link readSecret}), and
 * {@link redact} replaces each registered value with `[redacted:ENV_NAME]` wherever text leaves
 * an activity: failures (workers/redact-interceptor.ts), log lines (activities/logger.ts), string
 * artifacts (activities/store/artifact-store.ts) and the CLI's output (cli/main.ts).
 *
 * Values shorter than {@link MIN_SECRET_LENGTH} characters are not registered: redacting a short
 * value (`test`, `1234`) would mangle unrelated text, and such a value is no real credential.
 * The registry is process-wide and only grows: a value once read stays redacted.
 */

/** Values shorter than this are not registered (see the module comment). */
export const MIN_SECRET_LENGTH = 8;

/**
 * Keys of spec and activity-input objects whose value names an environment variable holding a
 * secret. (`endpoint_env` names a URL and `key_env` the *path* of an ssh key: neither is secret.)
 */
export const SECRET_ENV_KEYS: ReadonlySet<string> = new Set([
  'token_env',
  'api_key_env',
  'access_key_env',
  'secret_key_env',
  'apiKeyEnv',
]);

/** Registered value → the variable it came from. */
const secrets = new Map<string, string>();
/** Forms searched for, longest first: [text to find, replacement]. Rebuilt on registration. */
let patterns: [string, string][] = [];

/**
 * Registers `value` (read from variable `envName`) for redaction. Empty, missing and short values
 * (under {@link MIN_SECRET_LENGTH}) are ignored. Returns whether the value is now redacted.
 */
export function registerSecret(envName: string, value: string | undefined): boolean {
  if (!value || value.length < MIN_SECRET_LENGTH) return false;
  if (secrets.get(value) === envName) return true;
  secrets.set(value, envName);
  const forms = new Map<string, string>();
  for (const [v, name] of secrets) {
    const label = `[redacted:${name}]`;
    // As sent, as it appears inside a JSON string (a log line, a JSON body), and URL-encoded.
    for (const form of [v, JSON.stringify(v).slice(1, -1), encodeURIComponent(v)]) forms.set(form, label);
  }
  patterns = [...forms].sort((a, b) => b[0].length - a[0].length);
  return true;
}

/**
 * Reads secret `name` from `env` and registers it for redaction. Returns the value, or undefined
 * when the variable is unset or empty.
 */
export function readSecret(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  if (!value) return undefined;
  registerSecret(name, value);
  return value;
}

/**
 * Registers the secrets named anywhere in `value` (a spec, a stage config, an activity input) by a
 * {@link SECRET_ENV_KEYS} key, read from `env`. Returns the variable names found set.
 */
export function registerSecretsNamedIn(value: unknown, env: NodeJS.ProcessEnv): string[] {
  const found = new Set<string>();
  const seen = new Set<object>();
  const walk = (v: unknown, depth: number): void => {
    if (v === null || typeof v !== 'object' || depth > 12 || seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v)) {
      for (const x of v) walk(x, depth + 1);
      return;
    }
    for (const [k, x] of Object.entries(v)) {
      if (SECRET_ENV_KEYS.has(k) && typeof x === 'string') {
        if (readSecret(env, x) !== undefined) found.add(x);
      } else walk(x, depth + 1);
    }
  };
  walk(value, 0);
  return [...found];
}

/** Whether any secret is registered (when not, every redaction is a no-op). */
export function hasSecrets(): boolean {
  return patterns.length > 0;
}

/** `text` with every registered secret replaced by `[redacted:ENV_NAME]`. */
export function redact(text: string): string {
  if (!patterns.length) return text;
  let out = text;
  for (const [find, label] of patterns) if (out.includes(find)) out = out.split(find).join(label);
  return out;
}

/**
 * A deep copy of `value` with every string redacted (plain objects and arrays are walked; other
 * objects are returned as they are). Returns `value` itself when nothing changed.
 */
export function redactDeep<T>(value: T): T {
  if (!patterns.length) return value;
  const seen = new Map<object, unknown>();
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return redact(v);
    if (v === null || typeof v !== 'object') return v;
    if (seen.has(v)) return seen.get(v);
    if (Array.isArray(v)) {
      seen.set(v, v);
      const out = v.map(walk);
      const changed = out.some((x, i) => x !== v[i]);
      seen.set(v, changed ? out : v);
      return changed ? out : v;
    }
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) return v;
    seen.set(v, v);
    let changed = false;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      out[k] = walk(x);
      if (out[k] !== x) changed = true;
    }
    seen.set(v, changed ? out : v);
    return changed ? out : v;
  };
  return walk(value) as T;
}

/**
 * Redacts an error in place — its message, stack, `details` (ApplicationFailure), `cause` chain and
 * `errors` (AggregateError) — and returns it. Non-Error values are redacted as values. Where a
 * property cannot be written (a frozen error), an equivalent plain Error is returned instead.
 */
export function redactError<E>(err: E): E {
  if (!patterns.length) return err;
  const seen = new Set<unknown>();
  const fix = (e: unknown): unknown => {
    if (!(e instanceof Error)) return redactDeep(e);
    if (seen.has(e)) return e;
    seen.add(e);
    const o = e as Error & { details?: unknown; errors?: unknown };
    try {
      if (typeof o.message === 'string') setOwn(o, 'message', redact(o.message));
      if (typeof o.stack === 'string') setOwn(o, 'stack', redact(o.stack));
      if (o.details !== undefined) setOwn(o, 'details', redactDeep(o.details));
      if (o.cause !== undefined) setOwn(o, 'cause', fix(o.cause));
      if (Array.isArray(o.errors)) setOwn(o, 'errors', o.errors.map(fix));
      return o;
    } catch {
      const copy = new Error(redact(o.message), o.cause !== undefined ? { cause: fix(o.cause) } : undefined);
      copy.name = o.name;
      copy.stack = redact(o.stack ?? '');
      return copy;
    }
  };
  return fix(err) as E;
}

/** Sets a property, keeping its enumerability; also where it is an accessor (throws when frozen). */
function setOwn(o: object, key: string, value: unknown): void {
  const rec = o as Record<string, unknown>;
  if (rec[key] === value) return;
  const d = Object.getOwnPropertyDescriptor(o, key);
  if (d && 'value' in d && d.writable) rec[key] = value;
  else Object.defineProperty(o, key, { value, writable: true, configurable: true, enumerable: d?.enumerable ?? false });
}

/** Forgets every registered secret (tests only). */
export function clearSecretsForTests(): void {
  secrets.clear();
  patterns = [];
}
