import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalizeInstallConfig, normalizeLogParser, parseTaskJsonl } from '../../activities/build/task-io';
import { BuildConfig } from '../../contracts/build';

const fixtures = join(import.meta.dirname, '../fixtures/tasks');
const read = (name: string) => readFileSync(join(fixtures, name), 'utf8');

describe('parseTaskJsonl: SWE-bench records', () => {
  const { records, problems } = parseTaskJsonl(read('swe-bench.jsonl'), 'swe-bench.jsonl');

  it('keeps the valid records and decodes JSON-string test lists', () => {
    assert.deepEqual(
      records.map((r) => r.instance_id),
      ['psf__requests-2317', 'django__django-11099']
    );
    assert.deepEqual(records[0]?.PASS_TO_PASS, [
      'test_requests.py::RequestsTestCase::test_basic_building',
      'test_requests.py::TestCaseInsensitiveDict::test_len',
    ]);
    assert.deepEqual(records[1]?.FAIL_TO_PASS, [
      'test_ascii_validator (auth_tests.test_validators.UsernameValidatorsTests)',
    ]);
    assert.deepEqual(records[1]?.PASS_TO_PASS, []);
  });

  it('keeps unknown fields and the original key order', () => {
    const original = JSON.parse(read('swe-bench.jsonl').split('\n')[0] ?? '') as Record<string, unknown>;
    const rec = records[0] as Record<string, unknown>;
    assert.equal(rec.difficulty, '<15 min fix');
    assert.deepEqual(Object.keys(rec), Object.keys(original));
    const again = JSON.parse(JSON.stringify(rec)) as Record<string, unknown>;
    for (const k of Object.keys(original)) {
      if (k === 'FAIL_TO_PASS' || k === 'PASS_TO_PASS') {
        assert.deepEqual(again[k], JSON.parse(original[k] as string));
      } else assert.deepEqual(again[k], original[k], k);
    }
  });

  it('reports a broken line and bad fields with file:line and the field', () => {
    const msgs = problems.map((p) => p.message);
    assert.ok(msgs[0]?.startsWith('swe-bench.jsonl:2: not valid JSON ('), msgs[0]);
    assert.equal(problems[0]?.line, 2);
    const line5 = problems.filter((p) => p.line === 5).map((p) => p.message);
    assert.ok(line5.includes('swe-bench.jsonl:5: repo: expected "owner/name"'), line5.join('\n'));
    assert.ok(line5.includes('swe-bench.jsonl:5: base_commit: expected a commit sha'), line5.join('\n'));
  });

  it('rejects a non-object line and a missing field', () => {
    const r = parseTaskJsonl(
      '[1,2]\n{"instance_id":"a__b-1","repo":"a/b","base_commit":"abcdef1","patch":""}\n',
      't.jsonl'
    );
    assert.deepEqual(
      r.problems.map((p) => p.message),
      ['t.jsonl:1: expected a JSON object, got an array', 't.jsonl:2: test_patch: required field is missing']
    );
  });

  it('rejects a duplicate instance_id', () => {
    const line = '{"instance_id":"a__b-1","repo":"a/b","base_commit":"abcdef1","patch":"","test_patch":""}';
    const r = parseTaskJsonl(`${line}\n${line}\n`, 't.jsonl');
    assert.equal(r.records.length, 1);
    assert.deepEqual(
      r.problems.map((p) => p.message),
      ['t.jsonl:2: instance_id: duplicate instance_id "a__b-1" (first on line 1)']
    );
  });
});

describe('parseTaskJsonl: SWE-rebench records', () => {
  const { records, problems } = parseTaskJsonl(read('swe-rebench.jsonl'), 'swe-rebench.jsonl');

  it('keeps install_config, meta and extra fields untouched', () => {
    assert.deepEqual(
      records.map((r) => r.instance_id),
      ['acme__widgets-142', 'acme__gears-7']
    );
    const original = JSON.parse(read('swe-rebench.jsonl').split('\n')[0] ?? '') as Record<string, unknown>;
    assert.deepEqual(JSON.parse(JSON.stringify(records[0])), original);
  });

  it('rejects an unknown log parser, naming the file, line and field', () => {
    assert.equal(problems.length, 1);
    assert.equal(problems[0]?.path, 'install_config.log_parser');
    assert.match(
      problems[0]?.message ?? '',
      /^swe-rebench\.jsonl:3: install_config\.log_parser: unknown log parser "parse_log_nose"; supported: pytest, pytest_options, pytest_v2, matplotlib, seaborn, sympy, django, unittest, junit/
    );
  });
});

describe('normalizeInstallConfig', () => {
  it('maps the SWE-rebench spelling', () => {
    const r = normalizeInstallConfig({
      python: '3.9',
      packages: 'requirements.txt',
      reqs_path: ['requirements.txt'],
      pip_packages: ['pytest'],
      install: 'pip install -e .',
      test_cmd: 'pytest -rA',
      log_parser: 'parse_log_pytest',
      pre_install: null,
      env_vars: null,
    });
    assert.ok(r.ok);
    assert.deepEqual(r.config, {
      language: 'python',
      python: '3.9',
      system_packages: [],
      pre_install: [],
      reqs_path: ['requirements.txt'],
      pip_packages: ['pytest'],
      install: ['pip install -e .'],
      test_cmd: 'pytest -rA',
      log_parser: 'pytest',
      env_vars: {},
    });
    assert.deepEqual(r.notes, []);
  });

  it('joins a test_cmd list, keeps install lists, stringifies env values', () => {
    const r = normalizeInstallConfig({
      python: 3.11,
      install: ['pip install -U pip', 'pip install -e .'],
      test_cmd: ['python', '-m', 'unittest', '-v'],
      log_parser: 'parse_log_unittest',
      env_vars: { LANG: 'C.UTF-8', PYTHONHASHSEED: 0 },
    });
    assert.ok(r.ok);
    assert.equal(r.config.python, '3.11');
    assert.deepEqual(r.config.install, ['pip install -U pip', 'pip install -e .']);
    assert.equal(r.config.test_cmd, 'python -m unittest -v');
    assert.equal(r.config.log_parser, 'unittest');
    assert.deepEqual(r.config.env_vars, { LANG: 'C.UTF-8', PYTHONHASHSEED: '0' });
  });

  it('adds packages: requirements.txt to reqs_path and a package list to pip_packages', () => {
    const a = normalizeInstallConfig({ packages: 'requirements.txt', test_cmd: 'pytest', log_parser: 'pytest' });
    assert.ok(a.ok);
    assert.deepEqual(a.config.reqs_path, ['requirements.txt']);
    const b = normalizeInstallConfig({
      packages: 'numpy scipy',
      pip_packages: ['pytest'],
      test_cmd: 'pytest',
      log_parser: 'pytest',
    });
    assert.ok(b.ok);
    assert.deepEqual(b.config.pip_packages, ['pytest', 'numpy', 'scipy']);
  });

  it('reads a pip_packages string as a space-separated list', () => {
    const r = normalizeInstallConfig({
      pip_packages: 'pytest hypothesis==6.0',
      test_cmd: 'pytest',
      log_parser: 'pytest',
    });
    assert.ok(r.ok);
    assert.deepEqual(r.config.pip_packages, ['pytest', 'hypothesis==6.0']);
  });

  it('maps SWE-bench parser names', () => {
    assert.deepEqual(normalizeLogParser('parse_log_django'), { value: 'django' });
    assert.deepEqual(normalizeLogParser('parse_log_pytest_v2'), { value: 'pytest_v2' });
    assert.deepEqual(normalizeLogParser('parse_log_astropy'), { value: 'pytest_v2' });
    assert.deepEqual(normalizeLogParser('parse_log_requests'), { value: 'pytest_options' });
    assert.deepEqual(normalizeLogParser('parse_log_flask'), { value: 'pytest' });
    assert.deepEqual(normalizeLogParser('parse_log_matplotlib'), { value: 'matplotlib' });
    assert.deepEqual(normalizeLogParser('parse_log_sympy'), { value: 'sympy' });
    assert.deepEqual(normalizeLogParser('junit'), { value: 'junit' });
  });

  it('decodes a JSON-string install_config, trims a patch version, and notes ignored keys', () => {
    const r = normalizeInstallConfig(
      JSON.stringify({ python: '3.9.7', test_cmd: 'pytest', log_parser: 'pytest', eval_commands: ['x'], foo: 1 })
    );
    assert.ok(r.ok);
    assert.equal(r.config.python, '3.9');
    assert.deepEqual(r.notes, [
      'install_config.eval_commands has no counterpart here and is ignored',
      'unknown install_config key "foo" ignored',
      'python "3.9.7" read as 3.9',
    ]);
  });

  it('explains what is wrong', () => {
    const r = normalizeInstallConfig({ python: 3.1, packages: 'environment.yml', log_parser: 'parse_log_nose' });
    assert.ok(!r.ok);
    assert.deepEqual(
      r.problems.map((p) => p.path),
      ['python', 'packages', 'test_cmd', 'log_parser']
    );
    assert.match(r.problems[0]?.message ?? '', /ambiguous/);
    assert.match(r.problems[1]?.message ?? '', /conda environment files/);
    assert.equal(r.problems[2]?.message, 'required field is missing');
    assert.deepEqual(normalizeInstallConfig(['x']), {
      ok: false,
      problems: [{ path: '', message: 'expected an object, got a list' }],
    });
  });
});

describe('BuildConfig', () => {
  it('fills defaults and needs a task source', () => {
    const c = BuildConfig.parse({ tasks: { from_mine: true } });
    assert.equal(c.validation_runs, 2);
    assert.equal(c.test_timeout_s, 1800);
    assert.equal(c.concurrency, 2);
    assert.deepEqual(c.limits, { cpus: 1, memory_mb: 2048, pids: 512 });
    assert.equal(c.setup_agent.enabled, false);
    assert.deepEqual(c.recipes, {});
    const bad = BuildConfig.safeParse({ tasks: {} });
    assert.ok(!bad.success);
    assert.match(bad.error.issues[0]?.message ?? '', /no task source/);
  });

  it('validates recipe keys and fields', () => {
    const ok = BuildConfig.safeParse({
      tasks: { files: ['tasks.jsonl'] },
      recipes: { 'acme/widgets': { python: '3.9', pip_packages: ['pytest<8'] } },
    });
    assert.ok(ok.success);
    const bad = BuildConfig.safeParse({ tasks: { files: ['t.jsonl'] }, recipes: { widgets: { pythn: '3.9' } } });
    assert.ok(!bad.success);
    assert.deepEqual(
      bad.error.issues.map((i) => [i.path.join('.'), i.message]),
      [['recipes.widgets', 'recipe keys are "owner/name", got "widgets"']]
    );
  });
});
