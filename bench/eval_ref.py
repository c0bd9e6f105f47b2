"""Reference peer of `npm run bench -- eval`: the official SWE-bench harness's per-instance steps.

Replicates what swebench 5.0.2's `harness/run_evaluation.py` `run_instance` does for one prediction,
with docker-py (PyPI `docker`) on the same instance images, so that bench/eval.ts can print
bottega's instances/hour against it in the same run:

1. `client.containers.create(image, command="tail -f /dev/null", detach=True, user="root")`, `start()`
2. the patch copied in as swebench's `copy_to_container` does (`exec_run("mkdir -p ...")`, then
   `put_archive` of a one-file tar)
3. `exec_run("git apply --verbose /tmp/patch.diff")`, falling through to `--3way`, `--reject` and
   `patch --batch --forward --fuzz=5 -p1 -i` (a reset between attempts), as `GIT_APPLY_CMDS`
4. `exec_run("git -c core.fileMode=false diff")` before the tests
5. the eval script copied to `/eval.sh`, then `exec_run_with_timeout("/bin/bash /eval.sh")` (an exec
   streamed in a thread joined with the timeout)
6. `git diff` again after the tests
7. `cleanup_container`: `docker stop --time=<stop_timeout>` (the harness: 15; `tail` as PID 1 ignores
   SIGTERM, so the stop waits the whole grace period) then `docker rm --force`, through the CLI

Instances run on a thread pool of `concurrency` workers, as `run_instances` does. Parsing and
grading are left to the caller (bench/eval.ts grades the returned logs with bottega's grader, to
check that the peer really ran the tests).

Input: a JSON file `{"concurrency", "timeout_s", "stop_timeout", "instances": [{"instance_id",
"image", "patch", "eval_script"}]}`; output (stdout): JSON with the wall time, docker-py's version
and per instance the log, whether the patch applied, whether the tests timed out and the time split.
"""

import io
import json
import subprocess
import sys
import tarfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import docker

GIT_APPLY_CMDS = [
    "git apply --verbose",
    "git apply --verbose --3way",
    "git apply --verbose --reject",
    "patch --batch --forward --fuzz=5 -p1 -i",
]
PATCH_FILE = "/tmp/patch.diff"
WORKDIR = "/testbed"
USER = "root"


def copy_to_container(container, data: bytes, dst: str) -> None:
    """swebench's copy_to_container: `mkdir -p` the parent, then a one-file tar through put_archive."""
    parent, name = dst.rsplit("/", 1)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name=name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    container.exec_run(f"mkdir -p {parent or '/'}")
    container.put_archive(parent or "/", buf.getvalue())


def exec_run_with_timeout(container, cmd: str, timeout: float):
    """swebench's exec_run_with_timeout: the exec's stream read in a thread joined with the timeout."""
    result = b""
    exec_id = None
    error = None

    def run():
        nonlocal result, exec_id, error
        try:
            exec_id = container.client.api.exec_create(container.id, cmd)["Id"]
            for chunk in container.client.api.exec_start(exec_id, stream=True):
                result += chunk
        except Exception as e:  # noqa: BLE001 - re-raised below, as the harness does
            error = e

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout)
    if error:
        raise error
    timed_out = thread.is_alive()
    if timed_out and exec_id is not None:
        pid = container.client.api.exec_inspect(exec_id)["Pid"]
        container.exec_run(f"kill -TERM {pid}", detach=True)
    return result.decode(errors="replace"), timed_out


def cleanup_container(container_id: str, stop_timeout: int) -> None:
    """swebench's cleanup_container: `docker stop`, `docker kill` if that fails, `docker rm --force`."""
    stop = subprocess.run(
        ["docker", "stop", f"--time={stop_timeout}", container_id], capture_output=True, timeout=stop_timeout + 15
    )
    if stop.returncode != 0:
        subprocess.run(["docker", "kill", container_id], capture_output=True, timeout=10)
    subprocess.run(["docker", "rm", "--force", container_id], capture_output=True, timeout=10)


def run_instance(client, inst: dict, timeout_s: float, stop_timeout: int) -> dict:
    t0 = time.perf_counter()
    marks = {}
    container = None
    out = {"instance_id": inst["instance_id"], "output": "", "applied": False, "timed_out": False, "error": None}
    try:
        client.images.get(inst["image"])
        container = client.containers.create(
            image=inst["image"], user=USER, detach=True, command="tail -f /dev/null"
        )
        container.start()
        marks["started"] = time.perf_counter()
        copy_to_container(container, inst["patch"].encode(), PATCH_FILE)
        for attempt, cmd in enumerate(GIT_APPLY_CMDS):
            if attempt:
                container.exec_run(["/bin/bash", "-c", "git checkout -- . ; git clean -fd"], workdir=WORKDIR, user=USER)
            val = container.exec_run(f"{cmd} {PATCH_FILE}", workdir=WORKDIR, user=USER)
            if val.exit_code == 0:
                out["applied"] = True
                break
        container.exec_run("git -c core.fileMode=false diff", workdir=WORKDIR)
        marks["applied"] = time.perf_counter()
        if out["applied"]:
            copy_to_container(container, inst["eval_script"].encode(), "/eval.sh")
            out["output"], out["timed_out"] = exec_run_with_timeout(container, "/bin/bash /eval.sh", timeout_s)
            container.exec_run("git -c core.fileMode=false diff", workdir=WORKDIR)
        marks["tested"] = time.perf_counter()
    except Exception as e:  # noqa: BLE001 - reported per instance, as the harness logs it
        out["error"] = f"{type(e).__name__}: {e}"
    finally:
        if container is not None:
            cleanup_container(container.id, stop_timeout)
    t1 = time.perf_counter()
    started = marks.get("started", t0)
    applied = marks.get("applied", started)
    tested = marks.get("tested", applied)
    out["timings_ms"] = {
        "container_start_ms": (started - t0) * 1000,
        "patch_apply_ms": (applied - started) * 1000,
        "test_run_ms": (tested - applied) * 1000,
        "teardown_ms": (t1 - tested) * 1000,
        "total_ms": (t1 - t0) * 1000,
    }
    return out


def main() -> int:
    spec = json.load(open(sys.argv[1]))
    client = docker.from_env(timeout=1800, max_pool_size=128)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=spec["concurrency"]) as pool:
        results = list(
            pool.map(
                lambda inst: run_instance(client, inst, spec["timeout_s"], spec["stop_timeout"]), spec["instances"]
            )
        )
    wall_s = time.perf_counter() - t0
    json.dump({"wall_s": wall_s, "docker_py": docker.__version__, "instances": results}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
