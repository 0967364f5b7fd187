#!/usr/bin/env python3
"""Times `idpc lsp` on an estate: the first full check when a file is opened, then the
re-check after each one-line edit of that file (median of RUNS, default 5).

Usage: tests/bench/lsp.py IDPC_BINARY ESTATE_DIR
A benchmark, not a test: nothing fails on time."""
import json
import os
import statistics
import subprocess
import sys
import time


def send(proc, message):
    body = json.dumps(message).encode()
    proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    proc.stdin.flush()


def receive(proc):
    length = None
    while True:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("the server closed its output")
        line = line.strip()
        if not line:
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return json.loads(proc.stdout.read(length))


def wait_for_diagnostics(proc, uri):
    while True:
        message = receive(proc)
        if message.get("method") == "textDocument/publishDiagnostics" and message["params"]["uri"] == uri:
            return message["params"]["diagnostics"]


def main():
    binary, estate = sys.argv[1], os.path.abspath(sys.argv[2])
    runs = int(os.environ.get("RUNS", "5"))
    path = next(
        os.path.join(folder, name)
        for folder, _, names in sorted(os.walk(os.path.join(estate, "apis")))
        for name in sorted(names)
        if name.endswith(".kdl")
    )
    uri = "file://" + path
    text = open(path, encoding="utf-8").read()
    proc = subprocess.Popen([binary, "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    send(proc, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "processId": None, "rootUri": "file://" + estate, "capabilities": {},
        "initializationOptions": {"today": "2026-11-28"}}})
    receive(proc)
    send(proc, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
    start = time.perf_counter()
    send(proc, {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
        "textDocument": {"uri": uri, "languageId": "kdl", "version": 1, "text": text}}})
    diagnostics = wait_for_diagnostics(proc, uri)
    opened = time.perf_counter() - start
    times = []
    for run in range(runs):
        start = time.perf_counter()
        send(proc, {"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": uri, "version": run + 2},
            "contentChanges": [{"text": text + f"\n// edit {run}\n"}]}})
        wait_for_diagnostics(proc, uri)
        times.append(time.perf_counter() - start)
    send(proc, {"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
    receive(proc)
    send(proc, {"jsonrpc": "2.0", "method": "exit"})
    proc.wait(timeout=60)
    print(f"open (full check, cold cache): {opened:.3f} s; {len(diagnostics)} diagnostics")
    print(f"re-check after a one-line edit: median {statistics.median(times):.3f} s over {runs} "
          f"(min {min(times):.3f}, max {max(times):.3f})")


if __name__ == "__main__":
    main()
