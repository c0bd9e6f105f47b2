/**
 * Which parser reads which log: swebench 5.0.2's `PARSER_REGISTRY` names (Python part) and
 * `MAP_REPO_TO_PARSER_PY`, mapped onto bottega's parser families ({@link LogParserName}).
 */
import type { LogParserName } from '../../../contracts/task';

/**
 * swebench's Python `PARSER_REGISTRY` keys without their `parse_log_` prefix → the family the
 * function is (swebench defines the per-repo names as aliases: `parse_log_astropy =
 * parse_log_pytest_v2`, …), plus bottega's own `unittest` and `junit`.
 */
export const SWEBENCH_PARSER_FAMILIES: Readonly<Record<string, LogParserName>> = {
  pytest: 'pytest',
  pytest_options: 'pytest_options',
  pytest_v2: 'pytest_v2',
  django: 'django',
  seaborn: 'seaborn',
  sympy: 'sympy',
  matplotlib: 'matplotlib',
  astroid: 'pytest',
  flask: 'pytest',
  marshmallow: 'pytest',
  pvlib: 'pytest',
  pyvista: 'pytest',
  sqlfluff: 'pytest',
  xarray: 'pytest',
  pydicom: 'pytest_options',
  requests: 'pytest_options',
  pylint: 'pytest_options',
  astropy: 'pytest_v2',
  scikit: 'pytest_v2',
  sphinx: 'pytest_v2',
  unittest: 'unittest',
  junit: 'junit',
};

/** swebench 5.0.2's `MAP_REPO_TO_PARSER_PY`: SWE-bench's Python repositories → their parser family. */
export const MAP_REPO_TO_PARSER: Readonly<Record<string, LogParserName>> = {
  'astropy/astropy': 'pytest_v2',
  'django/django': 'django',
  'marshmallow-code/marshmallow': 'pytest',
  'matplotlib/matplotlib': 'matplotlib',
  'mwaskom/seaborn': 'seaborn',
  'pallets/flask': 'pytest',
  'psf/requests': 'pytest_options',
  'pvlib/pvlib-python': 'pytest',
  'pydata/xarray': 'pytest',
  'pydicom/pydicom': 'pytest_options',
  'pylint-dev/astroid': 'pytest',
  'pylint-dev/pylint': 'pytest_options',
  'pytest-dev/pytest': 'pytest',
  'pyvista/pyvista': 'pytest',
  'scikit-learn/scikit-learn': 'pytest_v2',
  'sqlfluff/sqlfluff': 'pytest',
  'sphinx-doc/sphinx': 'pytest_v2',
  'sympy/sympy': 'sympy',
};

/** The parser swebench uses for `repo` (`owner/name`), or undefined for a repository outside SWE-bench. */
export function parserForRepo(repo: string): LogParserName | undefined {
  return Object.hasOwn(MAP_REPO_TO_PARSER, repo) ? MAP_REPO_TO_PARSER[repo] : undefined;
}

/** The parser family of a swebench or bottega parser name (`parse_log_astropy`, `pytest_v2`), or undefined. */
export function parserFamily(name: string): LogParserName | undefined {
  const key = name.trim().replace(/^parse_log_/, '');
  return Object.hasOwn(SWEBENCH_PARSER_FAMILIES, key) ? SWEBENCH_PARSER_FAMILIES[key] : undefined;
}
