/**
 * What infra/swebench/make-real-logs.ts runs to build the real-log corpus of the grading parity test
 * (test/fixtures/real-logs/): per repository, where its code comes from, the container recipe (an
 * {@link InstallConfig} installed offline from a pinned wheelhouse) and a few SWE-bench-style tasks
 * made from real fix commits (the fix's source diff is the gold patch, its test diff the test patch).
 */
import { InstallConfig } from '../../contracts/task';

/** Where a repository's code comes from. */
export type RealLogSource =
  /** A bare mirror made by the session's `fetch` tool (`/work/.mirror/<owner>+<name>/repo`), or $REAL_LOGS_MIRRORS/<owner>+<name>/repo. */
  | {
      kind: 'mirror';
      /**
       * Fetch only the tasks' fix commits with this much history (`git fetch --depth`, one branch
       * per task): bottega's instance build scrubs the history with `git gc --aggressive`, which
       * takes very long on sympy's whole history.
       */
      depth?: number;
    }
  /**
   * PyPI source distributions (the full tree, tests included), committed one per version, in order,
   * with a fixed identity and date so the commit ids are reproducible. Used for Django, whose git
   * mirror is too large to fetch here.
   */
  | { kind: 'sdists'; project: string; versions: string[] };

/** A source edit made on top of the gold patch to produce a failing run. */
export interface RealLogEdit {
  file: string;
  /**
   * `raise`: a `raise RuntimeError(...)` as the first statement of function `name` (a deliberately
   * broken function: the tests that call it fail); `import`: an import of a missing module at the top
   * of the file (every test that imports it errors: a crash or collection error).
   */
  kind: 'raise' | 'import';
  name?: string;
}

/** One task: a real fix commit and the runs made of it. */
export interface RealLogTask {
  /** Short name, the prefix of the corpus ids. */
  name: string;
  /** The fix commit; the task's base is its first parent. Ignored for sdist sources (see `base`/`fix`). */
  fix: string;
  /** For sdist sources: the base and fix versions. */
  versions?: [string, string];
  /** Test files or labels appended to the test command (SWE-bench's test directives). */
  tests: string[];
  /** Paths of the fix that make the test patch; the rest of the fix is the gold patch. */
  testPaths: string[];
  /** Paths of the fix left out of every patch (files the env install rewrites, e.g. `*.egg-info`). */
  ignorePaths?: string[];
  /** Edit for the `broken` run: one function raises. */
  broken: RealLogEdit;
  /** Edit for the `crash` run: a missing import. */
  crash: RealLogEdit;
}

/** One repository of the corpus. */
export interface RealLogRepo {
  repo: string;
  /** swebench's parser for it (a `PARSER_REGISTRY` key). */
  officialParser: string;
  source: RealLogSource;
  /** Requirements downloaded with `pip download --only-binary=:all:` into the repository's wheelhouse. */
  wheels: string[];
  /** The recipe; `test_cmd` is SWE-bench's for the repository. */
  config: InstallConfig;
  tasks: RealLogTask[];
}

const PYTEST = 'pytest==8.3.5';
const SETUPTOOLS = ['setuptools==75.8.2', 'wheel==0.45.1'];

/** The corpus: sympy, Django, requests, flask (their SWE-bench parsers) and click (with astropy's pytest_v2 command). */
export const REAL_LOG_REPOS: RealLogRepo[] = [
  {
    repo: 'sympy/sympy',
    officialParser: 'parse_log_sympy',
    source: { kind: 'mirror', depth: 20 },
    wheels: ['mpmath==1.3.0', ...SETUPTOOLS],
    config: InstallConfig.parse({
      python: '3.11',
      pip_packages: ['mpmath==1.3.0'],
      install: ['python -m pip install -e .'],
      test_cmd: "PYTHONWARNINGS='ignore::UserWarning,ignore::SyntaxWarning' bin/test -C --verbose",
      log_parser: 'sympy',
    }),
    // Commits from 2022: from sympy 1.12 on, `bin/test` hands over to pytest unless --use-sympy-runner.
    tasks: [
      {
        name: 'neg-evaluate',
        fix: 'ef0542aa067ee7b2e075d8fa273470639a662862',
        tests: ['sympy/core/tests/test_arit.py'],
        testPaths: ['sympy/core/tests/test_arit.py'],
        broken: { file: 'sympy/core/mod.py', kind: 'raise', name: 'eval' },
        crash: { file: 'sympy/core/mod.py', kind: 'import' },
      },
      {
        name: 'units-collect',
        fix: 'f6543ed346d0485fdc753ebd5ccf6edebcb07258',
        tests: ['sympy/physics/units/tests/test_quantities.py'],
        testPaths: ['sympy/physics/units/tests/test_quantities.py'],
        broken: { file: 'sympy/physics/units/unitsystem.py', kind: 'raise', name: 'get_dimensional_expr' },
        crash: { file: 'sympy/physics/units/unitsystem.py', kind: 'import' },
      },
    ],
  },
  {
    repo: 'django/django',
    officialParser: 'parse_log_django',
    source: { kind: 'sdists', project: 'Django', versions: ['5.0.13', '5.0.14'] },
    wheels: ['asgiref==3.8.1', 'sqlparse==0.5.3', ...SETUPTOOLS],
    config: InstallConfig.parse({
      python: '3.11',
      install: ['python -m pip install -e .'],
      test_cmd: './tests/runtests.py --verbosity 2 --settings=test_sqlite --parallel 1',
      log_parser: 'django',
    }),
    tasks: [
      {
        name: 'http-5.0.14',
        fix: '',
        versions: ['5.0.13', '5.0.14'],
        tests: ['utils_tests.test_http', 'utils_tests.test_html', 'model_fields.test_imagefield'],
        testPaths: ['tests/utils_tests/test_http.py'],
        ignorePaths: ['Django.egg-info', 'PKG-INFO'],
        broken: { file: 'django/utils/html.py', kind: 'raise', name: 'escapejs' },
        crash: { file: 'django/utils/http.py', kind: 'import' },
      },
    ],
  },
  {
    repo: 'psf/requests',
    officialParser: 'parse_log_requests',
    source: { kind: 'mirror' },
    wheels: [PYTEST, ...SETUPTOOLS, 'charset_normalizer==3.4.1', 'idna==3.10', 'urllib3==2.3.0', 'certifi==2025.1.31'],
    config: InstallConfig.parse({
      python: '3.11',
      pip_packages: [PYTEST],
      install: ['python -m pip install -e .'],
      test_cmd: 'pytest -rA',
      log_parser: 'pytest_options',
    }),
    tasks: [
      {
        name: 'bpo-39057',
        fix: 'a4f9a5999bdb9bf2d6e7c8aa973b28cacb17134f',
        tests: ['tests/test_utils.py', 'tests/test_structures.py'],
        testPaths: ['tests/test_utils.py'],
        broken: { file: 'src/requests/utils.py', kind: 'raise', name: 'guess_filename' },
        crash: { file: 'src/requests/utils.py', kind: 'import' },
      },
    ],
  },
  {
    repo: 'pallets/flask',
    officialParser: 'parse_log_flask',
    source: { kind: 'mirror' },
    wheels: [
      PYTEST,
      'flit_core==3.12.0',
      'werkzeug==3.1.3',
      'jinja2==3.1.6',
      'itsdangerous==2.2.0',
      'click==8.1.8',
      'blinker==1.9.0',
      'markupsafe==3.0.2',
    ],
    config: InstallConfig.parse({
      python: '3.11',
      pip_packages: [PYTEST],
      install: ['python -m pip install -e .'],
      test_cmd: 'pytest -rA',
      log_parser: 'pytest',
    }),
    tasks: [
      {
        name: 'key-rotation',
        fix: 'fb54159861708558b5f5658ebdc14709d984361c',
        tests: ['tests/test_basic.py', 'tests/test_async.py'],
        testPaths: ['tests/test_basic.py'],
        broken: { file: 'src/flask/sessions.py', kind: 'raise', name: 'get_cookie_path' },
        crash: { file: 'src/flask/sessions.py', kind: 'import' },
      },
    ],
  },
  {
    repo: 'pallets/click',
    officialParser: 'parse_log_pytest_v2',
    source: { kind: 'mirror' },
    wheels: [PYTEST, 'flit_core==3.12.0'],
    config: InstallConfig.parse({
      python: '3.11',
      pip_packages: [PYTEST],
      install: ['python -m pip install -e .'],
      // astropy's SWE-bench command (parse_log_astropy = parse_log_pytest_v2).
      test_cmd: 'pytest -rA -vv -o console_output_style=classic --tb=no',
      log_parser: 'pytest_v2',
    }),
    tasks: [
      {
        name: 'echo-empty-bytes',
        fix: '4d3db84b251518e97299a38a5ca4bab3d01873a2',
        tests: ['tests/test_utils.py'],
        testPaths: ['tests/test_utils.py'],
        broken: { file: 'src/click/utils.py', kind: 'raise', name: 'make_str' },
        crash: { file: 'src/click/utils.py', kind: 'import' },
      },
    ],
  },
];
