#!/usr/bin/python3
"""PyTorch reference for `npm run bench`: the same word LSTM LM as packages/cells/bench/lm.ts
(embedding -> nn.LSTM(layers) -> linear(vocab) -> cross-entropy), plain SGD, truncated BPTT with the
state carried and detached, random tokens. Prints one JSON line: {"stepMs": [...], "tokensPerSecond": ...}.

Run with Debian's python3-torch and OMP_WAIT_POLICY=PASSIVE (libgomp's default spin-wait makes 2 threads
2-3x slower than 1 on this machine; docs/performance.md §6, pitfall 10):
  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 packages/cells/bench/torch_lstm.py --size small --steps 5 --threads 2
"""
import argparse
import json
import sys
import time

import torch

SIZES = {
    "small": dict(vocab=10000, embedding=200, hidden=200, layers=2, batch=20, steps=35),
    "medium": dict(vocab=10000, embedding=650, hidden=650, layers=2, batch=20, steps=35),
    "quick": dict(vocab=50, embedding=8, hidden=8, layers=2, batch=4, steps=6),
}


class LM(torch.nn.Module):
    def __init__(self, vocab, embedding, hidden, layers):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, embedding)
        self.lstm = torch.nn.LSTM(embedding, hidden, layers)  # time-major input [T, B, E]
        self.out = torch.nn.Linear(hidden, vocab)
        for p in self.parameters():
            torch.nn.init.uniform_(p, -0.1, 0.1)

    def forward(self, x, state):
        y, state = self.lstm(self.embedding(x), state)
        return self.out(y.reshape(-1, y.shape[-1])), state


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="small", choices=sorted(SIZES))
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu, or cuda for the GPU rows of scripts/gpu-check.sh")
    a = ap.parse_args()
    dev = torch.device(a.device)
    s = SIZES[a.size]
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    model = LM(s["vocab"], s["embedding"], s["hidden"], s["layers"]).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    loss_fn = torch.nn.CrossEntropyLoss()
    T, B = s["steps"], s["batch"]
    state = (torch.zeros(s["layers"], B, s["hidden"], device=dev), torch.zeros(s["layers"], B, s["hidden"], device=dev))
    times = []
    cpu_times = []
    for i in range(a.warmup + a.steps):
        ids = torch.randint(0, s["vocab"], (T + 1, B)).to(dev)
        x, y = ids[:-1], ids[1:].reshape(-1)
        t0 = time.perf_counter()
        c0 = time.process_time()
        state = tuple(t.detach() for t in state)
        opt.zero_grad()
        logits, state = model(x, state)
        loss = loss_fn(logits, y)
        loss.backward()
        opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()  # CUDA runs asynchronously: time the finished step
        ms = (time.perf_counter() - t0) * 1000
        cpu_ms = (time.process_time() - c0) * 1000
        if i >= a.warmup:
            times.append(ms)
            cpu_times.append(cpu_ms)
        print(f"pytorch {a.size} step {i + 1}/{a.warmup + a.steps}: {ms:.0f} ms", file=sys.stderr)
    med = sorted(times)[len(times) // 2]
    cpu_med = sorted(cpu_times)[len(cpu_times) // 2]
    print(json.dumps({"stepMs": times, "medianStepMs": med, "medianCpuMs": cpu_med, "tokensPerSecond": T * B / (med / 1000),
                      "torchVersion": torch.__version__, "threads": torch.get_num_threads(), "device": str(dev),
                      **({"gpu": torch.cuda.get_device_name(dev)} if dev.type == "cuda" else {})}))


if __name__ == "__main__":
    main()
