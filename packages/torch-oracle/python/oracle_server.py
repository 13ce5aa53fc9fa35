"""PyTorch oracle for Pico.ts differential tests.

Reads one JSON request per line on stdin, writes one JSON reply per line on stdout.
Request: {"id", "code", "inputs", "outputs"?, "grad"?, "upstream"?, "seed"?}
  inputs: any JSON value; {"__tensor__": {...}} objects become torch tensors.
  code: Python statements (or one expression, whose value becomes `out`), run with the inputs
        as variables, plus torch, F (torch.nn.functional), nn, math, np and `store` (a dict
        that persists across requests of this process).
  outputs: names of variables to return (default ["out"]).
  grad: true to run backward: with upstream gradients ({output name: tensor}) when given,
        else on the sum of every floating output that requires grad; the reply then holds the
        .grad of every input tensor that requires grad, keyed by its path ("a", "params.weight").
Reply: {"id", "ok": true, "values": {...}, "grads": {...}} or {"id", "ok": false, "error": str}.
"""
import base64
import json
import math
import sys
import traceback

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)

NP_DTYPES = {
    "float64": np.float64,
    "float32": np.float32,
    "int64": np.int64,
    "int32": np.int32,
    "bool": np.bool_,
}
TORCH_LONG_DTYPES = {"int64": torch.int64, "int32": torch.int32, "bool": torch.bool}


def decode_tensor(spec):
    dtype = spec["dtype"]
    raw = base64.b64decode(spec["data"])
    # Payloads always travel as float64 (exact for float32, ints below 2**53 and bools).
    arr = np.frombuffer(raw, dtype=np.float64).astype(NP_DTYPES[dtype])
    shape = spec["shape"]
    t = torch.from_numpy(arr.copy()).reshape(shape)
    if spec.get("strided") and len(shape) > 0:
        # The same non-contiguous layout as Pico's test inputs: reversed axes inside a larger buffer, at an offset.
        rank = len(shape)
        big = torch.zeros([d + 1 for d in reversed(shape)], dtype=t.dtype)
        view = big[tuple(slice(1, None) for _ in range(rank))].permute(*reversed(range(rank)))
        view.copy_(t)
        t = view
    if spec.get("requiresGrad"):
        t.requires_grad_(True)
    return t


def decode(value, path, leaves):
    if isinstance(value, dict):
        if "__tensor__" in value:
            t = decode_tensor(value["__tensor__"])
            if t.requires_grad:
                leaves[path] = t
            return t
        if "__float__" in value:
            return float(value["__float__"])
        return {k: decode(v, f"{path}.{k}" if path else k, leaves) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v, f"{path}.{i}", leaves) for i, v in enumerate(value)]
    return value


def encode(value):
    if isinstance(value, torch.Tensor):
        t = value.detach()
        dtype = str(t.dtype).replace("torch.", "")
        data = t.to(torch.float64).contiguous().numpy().tobytes()
        return {"__tensor__": {"dtype": dtype, "shape": list(t.shape), "data": base64.b64encode(data).decode("ascii")}}
    if isinstance(value, np.ndarray):
        return encode(torch.from_numpy(np.ascontiguousarray(value)))
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else {"__float__": repr(v)}
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, torch.dtype):
        return str(value).replace("torch.", "")
    raise TypeError(f"cannot return a value of type {type(value).__name__}")


def tensors_in(value, path, found):
    if isinstance(value, torch.Tensor):
        found.append((path, value))
    elif isinstance(value, dict):
        for k, v in value.items():
            tensors_in(v, f"{path}.{k}" if path else str(k), found)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            tensors_in(v, f"{path}.{i}", found)
    return found


store = {}


def run(request):
    torch.manual_seed(request.get("seed", 0))
    leaves = {}
    inputs = decode(request.get("inputs", {}), "", leaves)
    env = {"torch": torch, "F": F, "nn": nn, "math": math, "np": np, "store": store}
    env.update(inputs)
    code = request["code"]
    try:
        compiled = compile(code, "<oracle>", "eval")
    except SyntaxError:
        compiled = None
    if compiled is not None:
        env["out"] = eval(compiled, env)
    else:
        exec(compile(code, "<oracle>", "exec"), env)
    names = request.get("outputs") or ["out"]
    missing = [n for n in names if n not in env]
    if missing:
        raise NameError(f"the code did not define output(s) {missing}")
    values = {n: env[n] for n in names}
    grads = {}
    if request.get("grad"):
        upstream = request.get("upstream")
        if upstream:
            targets, grad_tensors = [], []
            for path, g in tensors_in(decode(upstream, "", {}), "", []):
                node = values
                for part in path.split("."):
                    node = node[int(part)] if isinstance(node, (list, tuple)) else node[part]
                if not isinstance(node, torch.Tensor):
                    raise TypeError(f"upstream gradient given for {path}, which is not a tensor output")
                if list(g.shape) != list(node.shape):
                    raise ValueError(f"the upstream gradient for {path} has shape {list(g.shape)}, but {path} has shape {list(node.shape)}")
                if node.requires_grad:
                    targets.append(node)
                    grad_tensors.append(g.to(node.dtype))
        else:
            targets = [t for _, t in tensors_in(values, "", []) if t.requires_grad and t.is_floating_point()]
            grad_tensors = [torch.ones_like(t) for t in targets]
        if targets:
            torch.autograd.backward(targets, grad_tensors)
        grads = {path: t.grad for path, t in leaves.items()}
    return {"values": encode(values), "grads": encode(grads)}


def serve(reader, writer):
    for line in reader:
        line = line.strip()
        if not line:
            continue
        request = json.loads(line)
        try:
            reply = {"id": request.get("id"), "ok": True, **run(request)}
        except Exception as e:  # noqa: BLE001 - every failure goes back to the caller
            reply = {
                "id": request.get("id"),
                "ok": False,
                "error": f"{type(e).__name__}: {e}",
                "traceback": traceback.format_exc(limit=6),
            }
        writer.write(json.dumps(reply) + "\n")
        writer.flush()


def zygote(path):
    """Imports torch once, then forks a server per connection on the Unix socket `path` (one per test worker)."""
    import os
    import select
    import signal
    import socket

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped automatically
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    print("ready", flush=True)
    while True:
        # Stdin closing (the test runner gone, however it ended) ends the zygote.
        readable, _, _ = select.select([listener, 0], [], [])
        if 0 in readable and os.read(0, 4096) == b"":
            os._exit(0)
        if listener not in readable:
            continue
        conn, _ = listener.accept()
        if os.fork() == 0:
            listener.close()
            with conn, conn.makefile("r", encoding="utf-8") as reader, conn.makefile("w", encoding="utf-8") as writer:
                serve(reader, writer)
            os._exit(0)
        conn.close()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--zygote":
        zygote(sys.argv[2])
    else:
        serve(sys.stdin, sys.stdout)
