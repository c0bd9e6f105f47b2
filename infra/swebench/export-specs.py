#!/usr/bin/env python3
"""Export SWE-bench's per-(repo, version) install specs as bottega's official-recipe table.

    python3 infra/swebench/export-specs.py [--wheel swebench-4.1.0-py3-none-any.whl] \
        [--out activities/build/official-specs.data.ts]
    npx prettier --write activities/build/official-specs.data.ts

Source: swebench 4.1.0 (MIT), `swebench/harness/constants/python.py` (MAP_REPO_VERSION_TO_SPECS_PY,
MAP_REPO_TO_REQS_PATHS, MAP_REPO_TO_ENV_YML_PATHS), `swebench/harness/constants/__init__.py`
(NON_TEST_EXTS) and `swebench/harness/test_spec/python.py` (REPLACE_REQ_PACKAGES). swebench 5.x no
longer ships these tables (5.0 moved to per-task Dockerfiles and eval scripts in "task repos"), so
4.1.0, the last release that has them, is the source; the 5.x harness derives the same image names
(`swebench/sweb.eval.x86_64.<id>:latest`, `__` -> `_1776_`) and the same test directives.

Without --wheel the wheel is fetched with `pip download --no-deps swebench==4.1.0` into a temporary
directory. Nothing in the wheel is imported or executed: constants/python.py is a module of plain
literals, evaluated with `exec` in an empty namespace (it imports nothing); the other two values are
read with `ast.literal_eval`.

Kept: every Python repository's specs that have a `test_cmd` (the dev-only `swe-bench/humaneval` and
`dbt-labs/dbt-core`, which has no test command, are dropped and counted in the header).
"""
from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

SWEBENCH_VERSION = "4.1.0"
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "activities" / "build" / "official-specs.data.ts"
SPECS_FILE = "swebench/harness/constants/python.py"
CONSTANTS_FILE = "swebench/harness/constants/__init__.py"
TEST_SPEC_FILE = "swebench/harness/test_spec/python.py"
# Keys of a spec, in the order they are written (any other key is an error: the table changed).
SPEC_KEYS = [
    "python",
    "packages",
    "pre_install",
    "install",
    "pip_packages",
    "eval_commands",
    "test_cmd",
    "no_use_env",
    "execute_test_as_nonroot",
    "nano_cpus",
    "docker_specs",
]
DROP_REPOS = {"swe-bench/humaneval"}


def fetch_wheel(dest: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(dest),
         f"swebench=={SWEBENCH_VERSION}"],
        check=True,
    )
    wheels = sorted(dest.glob(f"swebench-{SWEBENCH_VERSION}-*.whl"))
    if not wheels:
        sys.exit(f"export-specs: pip download left no swebench-{SWEBENCH_VERSION} wheel in {dest}")
    return wheels[0]


def module_assignment(source: str, name: str):
    """The literal value assigned to `name` at module level in `source`."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    sys.exit(f"export-specs: {name} not found")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wheel", type=Path, help=f"a swebench-{SWEBENCH_VERSION} wheel (default: pip download it)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or fetch_wheel(Path(tmp))
        with zipfile.ZipFile(wheel) as z:
            specs_src = z.read(SPECS_FILE).decode()
            consts_src = z.read(CONSTANTS_FILE).decode()
            test_spec_src = z.read(TEST_SPEC_FILE).decode()

    ns: dict = {}
    exec(compile(specs_src, SPECS_FILE, "exec"), ns)  # plain literals, no imports
    table = ns["MAP_REPO_VERSION_TO_SPECS_PY"]
    reqs_paths = ns["MAP_REPO_TO_REQS_PATHS"]
    env_yml_paths = ns["MAP_REPO_TO_ENV_YML_PATHS"]
    non_test_exts = module_assignment(consts_src, "NON_TEST_EXTS")
    replace_req = module_assignment(test_spec_src, "REPLACE_REQ_PACKAGES")

    specs: dict = {}
    dropped: list[str] = []
    for repo in sorted(table):
        if repo in DROP_REPOS:
            dropped.append(f"{repo} ({len(table[repo])} versions: not a Python repository task set)")
            continue
        versions = {}
        no_test = []
        for version in sorted(table[repo], key=lambda v: [int(x) if x.isdigit() else x for x in v.lstrip("v").split(".")]):
            spec = table[repo][version]
            unknown = set(spec) - set(SPEC_KEYS)
            if unknown:
                sys.exit(f"export-specs: {repo} {version}: unknown spec keys {sorted(unknown)}; update SPEC_KEYS")
            if "test_cmd" not in spec:
                no_test.append(version)
                continue
            versions[version] = {k: spec[k] for k in SPEC_KEYS if k in spec}
        if no_test:
            dropped.append(f"{repo} ({len(no_test)} versions without test_cmd)")
        if versions:
            specs[repo] = versions

    data = {
        "source": f"swebench {SWEBENCH_VERSION} (MIT): {SPECS_FILE}",
        "specs": specs,
        "reqs_paths": {r: reqs_paths[r] for r in sorted(reqs_paths) if r in specs},
        "env_yml_paths": {r: env_yml_paths[r] for r in sorted(env_yml_paths) if r in specs},
        "non_test_exts": non_test_exts,
        "replace_req_packages": [list(p) for p in replace_req],
    }
    count = sum(len(v) for v in specs.values())
    header = "\n".join(
        [
            "/**",
            " * GENERATED by infra/swebench/export-specs.py: do not edit; regenerate and run prettier.",
            " *",
            f" * Source: swebench {SWEBENCH_VERSION}, https://github.com/SWE-bench/SWE-bench, license MIT",
            " * (Copyright (c) 2023 Carlos E Jimenez, John Yang, Alexander Wettig, Shunyu Yao, Kexin Pei,",
            " * Ofir Press, Karthik R Narasimhan). Files: swebench/harness/constants/python.py",
            " * (MAP_REPO_VERSION_TO_SPECS_PY, MAP_REPO_TO_REQS_PATHS, MAP_REPO_TO_ENV_YML_PATHS),",
            " * swebench/harness/constants/__init__.py (NON_TEST_EXTS), swebench/harness/test_spec/python.py",
            " * (REPLACE_REQ_PACKAGES). swebench 5.x dropped these tables; 4.1.0 is the last release with them.",
            " *",
            f" * {len(specs)} repositories, {count} (repo, version) specs. Dropped ({len(dropped)}):",
            *[f" * - {d}" for d in dropped],
            " */",
            "import type { OfficialSpecTable } from './official-spec-types';",
            "",
            "export const OFFICIAL_SPECS: OfficialSpecTable = ",
        ]
    )
    args.out.write_text(header + json.dumps(data, indent=2) + ";\n")
    print(f"export-specs: wrote {args.out} ({len(specs)} repositories, {count} specs; dropped: {len(dropped)})", file=sys.stderr)


if __name__ == "__main__":
    main()
