import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { SEARCH_ATTRIBUTE_DECLS, TASK_QUEUES } from '../../contracts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const composeText = readFileSync(COMPOSE_FILE, 'utf8');

interface Service {
  image?: string;
  entrypoint?: string | string[];
  build?: string | { context?: string };
  profiles?: string[];
  environment?: Record<string, string | number | null>;
  depends_on?: string[] | Record<string, { condition?: string }>;
  ports?: string[];
  volumes?: string[];
  command?: string | string[];
}
const compose = parse(composeText, { merge: true }) as { services: Record<string, Service> };
const services = compose.services;

/** Resolves compose interpolation the way an empty shell would: `${X:-d}` -> d, `${X}` -> '', `$$` -> `$`. */
function interpolate(value: string): string {
  return value.replace(/\$\$|\$\{(\w+)(?::?-([^}]*))?\}/g, (m, _name: string, def?: string) =>
    m === '$$' ? '$' : (def ?? '')
  );
}

function env(service: string, name: string): string | undefined {
  const v = services[service]?.environment?.[name];
  return v === undefined || v === null ? undefined : interpolate(String(v));
}

function dependsOn(s: Service): Record<string, string | undefined> {
  const d = s.depends_on ?? [];
  if (Array.isArray(d)) return Object.fromEntries(d.map((n) => [n, undefined]));
  return Object.fromEntries(Object.entries(d).map(([n, c]) => [n, c.condition]));
}

/** Published ports as `host -> container` pairs (short syntax `[ip:]host:container`). */
function published(s: Service): Array<{ host: number; container: number }> {
  return (s.ports ?? []).map((p) => {
    const parts = interpolate(p).split(':');
    assert.ok(parts.length >= 2, `port ${p} is not published on the host`);
    return { host: Number(parts.at(-2)), container: Number(parts.at(-1)) };
  });
}

const workers = Object.entries(services).filter(([, s]) => s.environment?.BOTTEGA_WORKER_CAPABILITIES !== undefined);
const capsOf = (name: string) => (env(name, 'BOTTEGA_WORKER_CAPABILITIES') ?? '').split(',').map((c) => c.trim());

/** `docker compose` (v2 plugin) when present, else Debian's `docker-compose` (v1). */
function composeCommand(): string[] {
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose'];
  assert.fail(
    'no Compose validator: neither `docker compose` nor `docker-compose` runs. ' +
      'Install it with `bash infra/dev.sh install docker` (Debian package docker-compose).'
  );
}

function validate(dir: string, ...files: string[]) {
  const [cmd, ...args] = composeCommand();
  // A clean environment: the file must be valid with every variable at its default.
  const r = spawnSync(cmd!, [...args, ...files.flatMap((f) => ['-f', f]), '--profile', 'slurm', 'config', '-q'], {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

test('docker-compose.yml passes the Compose validator, and the validator rejects a broken copy', () => {
  const r = validate(ROOT, COMPOSE_FILE);
  assert.ok(r.ok, `compose config failed:\n${r.output}`);

  const dir = mkdtempSync(join(tmpdir(), 'bottega-compose-'));
  try {
    const broken = composeText.replace(/depends_on: \[seaweedfs\]/, 'depends_on: [no-such-service]');
    assert.notEqual(broken, composeText, 'the mutation did not apply');
    writeFileSync(join(dir, 'docker-compose.yml'), broken);
    assert.ok(!validate(dir, join(dir, 'docker-compose.yml')).ok, 'the validator accepted a dangling depends_on');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every bottega worker builds the repo image and waits for the init jobs', () => {
  assert.ok(workers.length >= 2, 'expected worker services (BOTTEGA_WORKER_CAPABILITIES)');
  for (const [name, s] of workers) {
    const context = typeof s.build === 'string' ? s.build : s.build?.context;
    assert.equal(context, '.', `${name} must build from the repo's Dockerfile`);
    const deps = dependsOn(s);
    for (const init of ['temporal-init', 's3-init']) {
      assert.equal(deps[init], 'service_completed_successfully', `${name} must wait for ${init}`);
    }
    for (const cap of capsOf(name)) assert.ok(cap in TASK_QUEUES, `${name}: unknown capability ${cap}`);
  }
});

test('the default workers cover the cpu and docker queues; slurm is behind a profile', () => {
  const always = new Set(workers.filter(([, s]) => !s.profiles?.length).flatMap(([n]) => capsOf(n)));
  assert.ok(always.has('cpu'), 'no default worker serves cpu (the workflows run there)');
  assert.ok(always.has('docker'), 'no default worker serves docker');
  for (const [name, s] of workers) {
    if (capsOf(name).includes('slurm')) assert.deepEqual(s.profiles, ['slurm'], `${name} needs a cluster`);
    if (capsOf(name).includes('docker')) {
      assert.ok(
        (s.volumes ?? []).some((v) => v.startsWith('/var/run/docker.sock:')),
        `${name} needs the host's Docker socket`
      );
    }
  }
  assert.ok(
    workers.some(([n]) => capsOf(n).includes('slurm')),
    'no slurm worker service'
  );
});

test('the addresses the services are given point at services of the file', () => {
  let checked = 0;
  for (const name of Object.keys(services)) {
    const temporal = env(name, 'TEMPORAL_ADDRESS');
    if (temporal) {
      const [host, port] = temporal.split(':');
      assert.ok(services[host!], `${name}: TEMPORAL_ADDRESS host ${host} is not a service`);
      assert.equal(port, '7233', `${name}: TEMPORAL_ADDRESS port`);
      checked++;
    }
    const s3 = env(name, 'BOTTEGA_S3_ENDPOINT');
    if (s3) {
      const host = new URL(s3).hostname;
      assert.ok(services[host], `${name}: BOTTEGA_S3_ENDPOINT host ${host} is not a service`);
      // The workers' credentials are the S3 server's identity (infra/compose/s3/start.sh).
      assert.equal(env(name, 'AWS_ACCESS_KEY_ID'), env(host, 'S3_ACCESS_KEY'), `${name}: S3 access key`);
      assert.equal(env(name, 'AWS_SECRET_ACCESS_KEY'), env(host, 'S3_SECRET_KEY'), `${name}: S3 secret key`);
      assert.ok(dependsOn(services[name]!)['s3-init'], `${name} uses S3 before its bucket exists`);
      const bucket = env(name, 'BOTTEGA_S3_BUCKET');
      assert.ok(bucket, `${name}: BOTTEGA_S3_BUCKET`);
      assert.equal(env('s3-init', 'S3_BUCKET'), bucket, `${name}: the bucket s3-init creates`);
      checked++;
    }
  }
  assert.ok(checked >= 2 * workers.length, 'workers must be given TEMPORAL_ADDRESS and BOTTEGA_S3_ENDPOINT');
});

test('the search attributes registered by temporal-init are those of contracts/temporal.ts', () => {
  const init = services['temporal-init'];
  assert.ok(init, 'no temporal-init service');
  const declared = Object.fromEntries(
    (env('temporal-init', 'BOTTEGA_SEARCH_ATTRIBUTES') ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map((d) => {
        const [name, type] = d.split('=');
        return [name!, (type ?? '').toUpperCase()];
      })
  );
  assert.deepEqual(declared, SEARCH_ATTRIBUTE_DECLS);
  assert.match(JSON.stringify(init.entrypoint), /\/bottega\/temporal\/init\.sh/);
  const script = readFileSync(join(ROOT, 'infra/compose/temporal/init.sh'), 'utf8');
  assert.match(script, /for decl in \$BOTTEGA_SEARCH_ATTRIBUTES/, 'the script must register that list');
  assert.match(script, /temporal operator search-attribute create/);
  assert.match(script, /temporal operator namespace create/);
});

test('Temporal gRPC (7233) and its Web UI (8233, start-workflow enabled) are published', () => {
  const all = Object.values(services).flatMap(published);
  assert.ok(
    all.some((p) => p.host === 7233 && p.container === 7233),
    '7233 is not published'
  );
  const ui = Object.entries(services).find(([, s]) => interpolate(s.image ?? '').startsWith('temporalio/ui:'));
  assert.ok(ui, 'no temporalio/ui service');
  const [uiName, uiService] = ui;
  const uiPort = Number(env(uiName, 'TEMPORAL_UI_PORT') ?? 8080);
  assert.ok(
    published(uiService).some((p) => p.host === 8233 && p.container === uiPort),
    `the UI (listening on ${uiPort}) is not published on 8233`
  );
  assert.equal(env(uiName, 'TEMPORAL_START_WORKFLOW_DISABLED'), 'false');
});

test('the worker image runs the worker entrypoint on the repository sources', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  assert.match(dockerfile, /^COPY \. \.$/m);
  assert.match(dockerfile, /^CMD \["node", "--import", "tsx", "workers\/main\.ts"\]$/m);
  assert.match(dockerfile, /apt-get install[^\n]*\bgit\b/);
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
  for (const p of ['node_modules', '.bottega', '.git']) assert.ok(ignored.includes(p), `.dockerignore lacks ${p}`);
});

test('the offline override (infra/compose/local.yml) validates and gives every service a local image', () => {
  const local = parse(readFileSync(join(ROOT, 'infra/compose/local.yml'), 'utf8')) as {
    services: Record<string, Service>;
  };
  const r = validate(ROOT, COMPOSE_FILE, join(ROOT, 'infra/compose/local.yml'));
  assert.ok(r.ok, `compose config with the override failed:\n${r.output}`);
  assert.deepEqual(Object.keys(local.services).sort(), Object.keys(services).sort(), 'the same services');
  const script = readFileSync(join(ROOT, 'infra/compose/build-images.sh'), 'utf8');
  for (const [name, s] of Object.entries(local.services)) {
    assert.match(s.image ?? '', /^bottega\/[\w-]+:([\w.-]+-)?local$/, `${name}: a local image`);
    const repo = s.image!.split(':')[0]!;
    assert.ok(script.includes(repo), `${name}: build-images.sh builds ${repo}`);
  }
});

test('upstream and local images pin the same versions (build-images.sh)', () => {
  const script = readFileSync(join(ROOT, 'infra/compose/build-images.sh'), 'utf8');
  const pin = (v: string) => new RegExp(`^${v}=(\\S+)$`, 'm').exec(script)?.[1];
  const temporal = pin('TEMPORAL_VERSION');
  const ui = pin('TEMPORAL_UI_VERSION');
  assert.ok(temporal && ui, 'build-images.sh pins TEMPORAL_VERSION and TEMPORAL_UI_VERSION');
  const image = (svc: string) => interpolate(services[svc]!.image ?? '');
  assert.equal(image('temporal'), `temporalio/server:${temporal}`);
  assert.equal(image('temporal-schema'), `temporalio/admin-tools:${temporal}`);
  assert.equal(image('temporal-init'), `temporalio/admin-tools:${temporal}`);
  assert.equal(image('temporal-ui'), `temporalio/ui:${ui}`);
  assert.match(script, new RegExp(`bottega/temporal-server:\\$TEMPORAL_VERSION-local`));
  const goMod = readFileSync(join(ROOT, 'infra/compose/temporal-build/go.mod'), 'utf8');
  assert.match(goMod, new RegExp(`go\\.temporal\\.io/server v${temporal!.replace(/\./g, '\\.')}\\b`));
  const uiMod = readFileSync(join(ROOT, 'infra/compose/ui-build/go.mod'), 'utf8');
  assert.match(uiMod, new RegExp(`github\\.com/temporalio/ui-server/v2 v${ui!.replace(/\./g, '\\.')}\\b`));
  assert.match(image('postgresql'), /^postgres:17(\.|$)/, 'PostgreSQL 17, as Debian 13 ships');
});
