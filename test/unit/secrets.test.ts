import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApplicationFailure, DefaultFailureConverter, defaultPayloadConverter } from '@temporalio/common';
import {
  MIN_SECRET_LENGTH,
  clearSecretsForTests,
  readSecret,
  redact,
  redactDeep,
  redactError,
  registerSecret,
  registerSecretsNamedIn,
} from '../../activities/secrets';
import { LocalArtifactStore } from '../../activities/store/artifact-store';
import { RedactingActivityInbound } from '../../workers/redact-interceptor';

/**
 * activities/secrets.ts: what is registered, how text, values and errors are redacted; the
 * activity interceptor, the logger and the artifact store apply it.
 */
const TOKEN = 'ghp_unitSecretToken0123456789';
const KEY = 'sk-unit/key+with"odd chars';

afterEach(() => clearSecretsForTests());

describe('secret registry and redact()', () => {
  it('replaces every registered value (raw, JSON-escaped, URL-encoded) with [redacted:ENV_NAME]', () => {
    assert.equal(readSecret({ GH: TOKEN }, 'GH'), TOKEN);
    assert.equal(readSecret({ KEY }, 'KEY'), KEY);
    assert.equal(redact(`401: bad credentials "token ${TOKEN}"`), '401: bad credentials "token [redacted:GH]"');
    assert.equal(redact(JSON.stringify({ echoed: `Bearer ${KEY}` })), '{"echoed":"Bearer [redacted:KEY]"}');
    assert.equal(redact(`https://x/?k=${encodeURIComponent(KEY)}`), 'https://x/?k=[redacted:KEY]');
    assert.equal(redact('nothing secret here'), 'nothing secret here');
  });

  it(`ignores unset, empty and short values (under ${MIN_SECRET_LENGTH} characters), which would mangle text`, () => {
    assert.equal(readSecret({}, 'NOPE'), undefined);
    assert.equal(readSecret({ E: '' }, 'E'), undefined);
    assert.equal(registerSecret('SHORT', 'abc1234'), false);
    assert.equal(registerSecret('LONG', 'abc12345'), true);
    assert.equal(redact('abc1234 abc12345'), 'abc1234 [redacted:LONG]');
  });

  it('registers the secrets a spec names by *_env keys, not endpoint_env or key_env', () => {
    const env = { GH: TOKEN, LLM: KEY, EP: 'http://endpoint.example', SSH: '/home/me/.ssh/id_ed25519' };
    const spec = {
      mine: { sources: [{ type: 'github', token_env: 'GH' }], enhance: { api_key_env: 'LLM' } },
      store: { s3: { endpoint_env: 'EP', secret_key_env: 'UNSET_VAR' } },
      train: { cluster: { ssh: { key_env: 'SSH' } } },
    };
    assert.deepEqual(registerSecretsNamedIn(spec, env).sort(), ['GH', 'LLM']);
    assert.equal(redact(`${TOKEN} ${KEY} ${env.EP} ${env.SSH}`), `[redacted:GH] [redacted:LLM] ${env.EP} ${env.SSH}`);
  });

  it('redactDeep copies only what changed', () => {
    registerSecret('GH', TOKEN);
    const clean = { a: [1, 'x'], b: { c: null } };
    assert.equal(redactDeep(clean), clean);
    const dirty = { a: [`t ${TOKEN}`], b: { c: TOKEN }, d: 1 };
    assert.deepEqual(redactDeep(dirty), { a: ['t [redacted:GH]'], b: { c: '[redacted:GH]' }, d: 1 });
    assert.equal(dirty.b.c, TOKEN, 'the input is left as it was');
  });
});

describe('redactError()', () => {
  it('rewrites message, stack, cause chain, ApplicationFailure details and AggregateError members', () => {
    registerSecret('GH', TOKEN);
    const inner = new Error(`echo: token ${TOKEN}`);
    const af = ApplicationFailure.create({ message: `failed: ${TOKEN}`, details: [{ body: TOKEN }], cause: inner });
    const agg = new AggregateError([new Error(TOKEN)], `many ${TOKEN}`);
    const outer = new Error(`outer ${TOKEN}`, { cause: af });
    assert.equal(redactError(outer), outer, 'redacted in place');
    assert.equal(redactError(agg), agg);
    const all = JSON.stringify([
      outer.message,
      outer.stack,
      af.message,
      af.stack,
      af.details,
      inner.message,
      inner.stack,
    ]);
    assert.ok(!all.includes(TOKEN), all);
    assert.match(outer.message, /outer \[redacted:GH\]/);
    assert.match(af.stack!, /failed: \[redacted:GH\]/);
    assert.equal(agg.message, 'many [redacted:GH]');
    assert.equal(agg.errors[0].message, '[redacted:GH]');
  });

  it('returns an equivalent error when the original is frozen', () => {
    registerSecret('GH', TOKEN);
    const e = Object.freeze(new TypeError(`bad ${TOKEN}`));
    const r = redactError(e);
    assert.notEqual(r, e);
    assert.equal(r.message, 'bad [redacted:GH]');
    assert.equal(r.name, 'TypeError');
  });
});

describe('the activity interceptor (workers/redact-interceptor.ts)', () => {
  it('registers the secrets an input names and redacts the thrown error before Temporal converts it', async () => {
    const inbound = new RedactingActivityInbound({ BOTTEGA_UNIT_GH: TOKEN });
    const input = { args: [{ source: { type: 'github', token_env: 'BOTTEGA_UNIT_GH' } }], headers: {} };
    // What Octokit throws for a 401 whose body echoes the Authorization header.
    const thrown = Object.assign(new Error(`{"message":"Bad credentials","you_sent":"token ${TOKEN}"}`), {
      name: 'HttpError',
      status: 401,
    });
    const err = await inbound.execute(input, () => Promise.reject(thrown)).catch((e: unknown) => e as Error);
    assert.equal(err, thrown);
    // What goes into the workflow history: the SDK's failure conversion of that error.
    const failure = new DefaultFailureConverter().errorToFailure(err, defaultPayloadConverter);
    const text = JSON.stringify(failure);
    assert.ok(!text.includes(TOKEN), text);
    assert.match(text, /token \[redacted:BOTTEGA_UNIT_GH\]/);
  });

  it('redacts results too', async () => {
    const inbound = new RedactingActivityInbound({ K: KEY });
    const r = await inbound.execute({ args: [{ api_key_env: 'K' }], headers: {} }, () =>
      Promise.resolve({ exit: `model said ${KEY}` })
    );
    assert.deepEqual(r, { exit: 'model said [redacted:K]' });
  });
});

describe('where redaction applies', () => {
  it('string artifacts are written redacted; binary ones as they are', async () => {
    registerSecret('GH', TOKEN);
    const store = new LocalArtifactStore(mkdtempSync(join(tmpdir(), 'bottega-secrets-')));
    const ref = await store.put('t.json', JSON.stringify({ exit_detail: `HTTP 401: Bearer ${TOKEN}` }) + '\n');
    const text = readFileSync(fileURLToPath(ref.uri), 'utf8');
    assert.equal(text, '{"exit_detail":"HTTP 401: Bearer [redacted:GH]"}\n');
    const bin = await store.put('b.bin', Buffer.from(TOKEN));
    assert.equal(readFileSync(fileURLToPath(bin.uri), 'utf8'), TOKEN);
  });

  it('every log line of the root logger is redacted (message, fields, error stacks)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'bottega-secrets-log-')), 'worker.log');
    // The logger reads BOTTEGA_LOG_FILE once, when first imported (this file imports it nowhere else).
    process.env.BOTTEGA_LOG_FILE = file;
    const { rootLogger } = await import('../../activities/logger');
    registerSecret('GH', TOKEN);
    rootLogger.warn({ reason: `HTTP 401 ${TOKEN}`, err: new Error(`echo ${TOKEN}`) }, `GraphQL failed: ${TOKEN}`);
    rootLogger.child({ header: `token ${TOKEN}` }).info('child bindings too');
    rootLogger.flush();
    await new Promise((r) => setTimeout(r, 200));
    const text = readFileSync(file, 'utf8');
    assert.equal(text.split('\n').filter(Boolean).length, 2, text);
    assert.ok(!text.includes(TOKEN), text);
    assert.equal(text.match(/\[redacted:GH\]/g)?.length, 5, text);
  });
});
