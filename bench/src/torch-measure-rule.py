"""Test helper of torch-measure-rule.test.ts: runs torch-worker.py's measure() on a fake clock with a fake
network, for each case given as JSON, and prints one JSON line of results per case. A step's loss is the
index of the batch it got (its images hold that index); inference call c returns logits that are all c."""
import argparse
import importlib.util
import json
import sys

import torch

spec = importlib.util.spec_from_file_location("torch_worker", sys.argv[1])
worker = importlib.util.module_from_spec(spec)
spec.loader.exec_module(worker)


class Clock:
    def __init__(self):
        self.ms = 0.0

    def perf_counter(self):
        return self.ms / 1000

    def process_time(self):
        return 0.0


class Net:
    def __init__(self, clock, case):
        self.clock, self.case, self.calls = clock, case, 0

    def loss(self, images, labels):
        return 0.0

    def train_step(self, images, labels):
        self.clock.ms += self.case["stepMs"]
        return float(images[0, 0, 0, 0])

    def predict(self, images):
        self.clock.ms += self.case["callMs"]
        self.calls += 1
        return torch.full((images.shape[0], 10), float(self.calls))


for case in json.loads(sys.argv[2]):
    clock = Clock()
    worker.time = clock
    n, size, batches = 4, 4, case["numBatches"]
    workload = {
        "batchSize": n,
        "numBatches": batches,
        "trainImages": torch.arange(batches, dtype=torch.float32).repeat_interleave(n * size).view(batches * n, 1, 2, 2),
        "trainLabels": torch.zeros(batches * n, dtype=torch.long),
        "inferImages": torch.zeros(2, 1, 2, 2),
        "inferBatch": 2,
    }
    args = argparse.Namespace(
        warmup=case["warmup"], max_warmup=case["maxWarmup"], settle_steps=case["settle"],
        max_warmup_seconds=case.get("maxWarmupSeconds", float("inf")), steps=case["steps"], infer_count=2,
        infer_reps=case["inferReps"], min_timed_seconds=case["minTimedSeconds"],
    )
    m = worker.measure(Net(clock, case), workload, args)
    keys = ("warmupSteps", "trainSteps", "trainImages", "trainSeconds", "inferReps", "inferSeconds", "inferChecksum", "stepLosses")
    print(json.dumps({k: m[k] for k in keys}))
