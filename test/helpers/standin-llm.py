"""A stand-in OpenAI-compatible server for serving-job tests (no real model can run here).

Run as a Slurm job's program through the evaluate stage's serve template:
    python3 standin-llm.py --port PORT --model NAME [--log FILE] [--unhealthy]

GET /v1/models and /health answer like vLLM (the model id is NAME); POST /v1/chat/completions
replies with a `submit` tool call (the agent gives up with an empty patch). Every request is
appended to FILE as one JSON line. --unhealthy answers 503 to everything (a server that never
becomes healthy).
"""

import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--model", required=True)
p.add_argument("--log")
p.add_argument("--unhealthy", action="store_true")
args = p.parse_args()
count = 0


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, status, body):
        text = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def record(self, body):
        if args.log:
            with open(args.log, "a") as f:
                f.write(json.dumps({"method": self.command, "path": self.path, "model": (body or {}).get("model")}) + "\n")

    def do_GET(self):
        self.record(None)
        if args.unhealthy:
            return self.reply(503, {"error": {"message": "loading"}})
        if self.path in ("/v1/models", "/health"):
            return self.reply(200, {"object": "list", "data": [{"id": args.model, "object": "model", "owned_by": "standin"}]})
        self.reply(404, {"error": {"message": "no route"}})

    def do_POST(self):
        global count
        n = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(n) or b"{}")
        self.record(body)
        if args.unhealthy:
            return self.reply(503, {"error": {"message": "loading"}})
        if self.path != "/v1/chat/completions":
            return self.reply(404, {"error": {"message": "no route"}})
        count += 1
        call = {"id": f"call-{count}", "type": "function", "function": {"name": "submit", "arguments": "{}"}}
        self.reply(
            200,
            {
                "id": f"chatcmpl-standin-{count}",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", args.model),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "Nothing to change.", "tool_calls": [call]},
                        "finish_reason": "tool_calls",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            },
        )


print(f"standin serving {args.model} on port {args.port}", flush=True)
sys.stdout.flush()
ThreadingHTTPServer(("0.0.0.0", args.port), Handler).serve_forever()
