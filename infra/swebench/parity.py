#!/usr/bin/env python3
"""Grade a corpus of test logs with the official `swebench` package, for the parity test.

Reads a JSON list on stdin; each item:
  {"id": str, "repo": str, "parser": str (a key of swebench's PARSER_REGISTRY, e.g. "parse_log_pytest"),
   "log": str (the whole eval log, markers included), "FAIL_TO_PASS": [str], "PASS_TO_PASS": [str],
   "patch": str | null}
and writes a JSON object on stdout: {"version": swebench.__version__, "results": [...]}, one result per
item, in order:
  {"id", "statuses": the parser's per-test map on the test section (the same file read, slice and
   whole-log fallback as swebench.harness.grading.get_logs_eval; null when the parser raises),
   "valid": get_logs_eval's "found" flag, "crashed": grading raised (the harness would record an
   error), "report": get_eval_report's per-instance body (resolved, patch_successfully_applied,
   tests_status, infra_failure, ...)}.

Only swebench's own functions decide: PARSER_REGISTRY, get_logs_eval, get_eval_report (which calls
get_eval_tests_report and get_resolution_status). `swebench.harness/__init__.py` imports the Docker
and Modal harness, so the package is registered here without running it; its submodules import
normally. `--check` only imports and prints the version.

Exit codes: 0 ok, 3 swebench is not installed, 2 bad input.
"""
import json
import os
import sys
import tempfile
import types

try:
    import swebench
except ImportError:
    print("parity.py: the Python package `swebench` is not installed (run infra/swebench/setup.sh)", file=sys.stderr)
    sys.exit(3)

# Register swebench.harness without executing its __init__ (docker, modal, datasets).
_harness = types.ModuleType("swebench.harness")
_harness.__path__ = [os.path.join(os.path.dirname(swebench.__file__), "harness")]
sys.modules["swebench.harness"] = _harness

from swebench.harness.constants import END_TEST_OUTPUT, START_TEST_OUTPUT  # noqa: E402
from swebench.harness.grading import get_eval_report, get_logs_eval  # noqa: E402
from swebench.harness.log_parsers import PARSER_REGISTRY  # noqa: E402
from swebench.types import TestSpec  # noqa: E402


def parsed_statuses(parser, path, spec):
    """The parser's map exactly as get_logs_eval computes it (same file read, slice and whole-log
    fallback), also for logs it then rejects; None when the parser raises."""
    with open(path) as f:
        log = f.read()
    try:
        if START_TEST_OUTPUT in log and END_TEST_OUTPUT in log:
            sliced = log.split(START_TEST_OUTPUT)[1].split(END_TEST_OUTPUT)[0]
            sm = parser(sliced, spec)
            return sm if sm else parser(log, spec)
        return parser(log, spec)
    except Exception:  # noqa: BLE001 - a parser crash is a result here
        return None


def grade(item, tmp):
    spec = TestSpec(
        instance_id=item["id"],
        image="",
        eval_script_list=[],
        repo=item["repo"],
        version="",
        FAIL_TO_PASS=list(item["FAIL_TO_PASS"]),
        PASS_TO_PASS=list(item["PASS_TO_PASS"]),
        log_parser=item["parser"],
        eval_type="pass_and_fail",
    )
    path = os.path.join(tmp, "log.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(item["log"])
    pred = {"instance_id": item["id"], "model_name_or_path": "parity", "model_patch": item.get("patch")}
    try:
        _, found = get_logs_eval(spec, path)
        report = get_eval_report(spec, pred, path, include_tests_status=True)[item["id"]]
        crashed = False
    except Exception:  # noqa: BLE001 - the harness would error this instance: not resolved
        found, report, crashed = False, {"resolved": False}, True
    return {
        "id": item["id"],
        "statuses": parsed_statuses(PARSER_REGISTRY[item["parser"]], path, spec),
        "valid": found,
        "crashed": crashed,
        "report": report,
    }


def main():
    if "--check" in sys.argv:
        assert "parse_log_pytest" in PARSER_REGISTRY and "parse_log_django" in PARSER_REGISTRY
        print(swebench.__version__)
        return 0
    try:
        items = json.load(sys.stdin)
    except json.JSONDecodeError as e:
        print(f"parity.py: bad JSON on stdin: {e}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        results = [grade(item, tmp) for item in items]
    json.dump({"version": swebench.__version__, "results": results}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
