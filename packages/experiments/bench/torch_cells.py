#!/usr/bin/python3
"""PyTorch reference for `npm run bench` (packages/experiments/bench/training-speed.ts): the models that
rnnlab's trainers train there, written the way a PyTorch user would, timed per training step.

  word LM (task "lm"):  embedding -> `layers` recurrent layers -> linear(vocab) -> mean cross-entropy;
                        truncated BPTT with h (and c) carried and detached; random tokens.
  adding (task "adding"): 2 input channels -> 1 recurrent layer -> linear(1) on the last step -> MSE;
                        a fresh batch from the adding-problem generator every step.
A step is forward + backward + the optimizer update (plain SGD, or Adam where the config says so), as in
rnnlab's trainLanguageModel / trainSyntheticTask. Cells (equations as in packages/cells/src):

  lstm     nn.LSTM                               gru      nn.GRU (same gate order and b_hn placement)
  g2lstm   LSTM, per-step loop; i, f = sigmoid((a + B*N)/tau), B ~ Bernoulli(0.2),
           N = log(U + 1e-3) - log(1 + 1e-3 - U), tau = 0.9 (gates.ts, training)
  lnlstm   a = LN(h U) + LN(x W) + b, h = o * tanh(LN(c)) (Ba et al.; lstm.ts); LN(x W) for all steps at once
  atnlstm  the same with assorted-time norm, window k = 10: per example, mean and variance over the current
           and the k-1 previous pre-activations of the same site, gradients through the window (norms.ts)
  ncgru    r, z = sigmoid(x W_rz + h U_rz + b); c^ = x W_c + (r*h) U_c; c = sign(c^) relu(|c^| + b_c);
           h = z*h + (1-z)*c (ncgru.ts); after each step U_c = (I+A)^-1 (I-A) D is updated in float64:
           dL/dA = V^T - V, V = (I+A)^-T (dL/dU_c) (D + U_c^T); A <- A - lr dL/dA; order-2 Neumann update of
           (I+A)^-1 with X = (I+A)^-1 Delta; exact inverse every 49 steps (train/src/orthogonal.ts)

Run with Debian's python3-torch and OMP_WAIT_POLICY=PASSIVE (libgomp's default spin-wait makes 2 threads
2-3x slower than 1 on this machine; docs/performance.md, pitfall 10), with OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS equal to --threads (the bench sets them: Debian's torch multiplies in OpenBLAS's own
pthreads, which torch.set_num_threads does not size).

  OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 packages/experiments/bench/torch_cells.py --threads 1 \
      --configs '[{"key": "lstm/small", "cell": "lstm", "task": "lm", "vocab": 10000, "embedding": 200,
                   "hidden": 200, "layers": 2, "batch": 20, "bptt": 35, "warmup": 2, "steps": 5}]'

Prints one JSON line per config on stdout ({"key", "stepMsAll", "stepMsMedian", "tokensPerSecond",
"threads", "torchVersion"}), one progress line per config on stderr.
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

EPS = 1e-5


def uniform(shape, limit):
    return torch.nn.Parameter(torch.empty(*shape).uniform_(-limit, limit))


class LoopLstm(torch.nn.Module):
    """LSTM layer as a per-step loop, for the G2, LN and ATN variants. Gate order i, f, g, o."""

    def __init__(self, input_size, hidden, variant, window=10, temperature=0.9, noise_probability=0.2):
        super().__init__()
        limit = 1 / math.sqrt(hidden)
        self.hidden, self.variant, self.window = hidden, variant, window
        self.temperature, self.noise_probability = temperature, noise_probability
        self.w = uniform((input_size, 4 * hidden), limit)
        self.u = uniform((hidden, 4 * hidden), limit)
        self.b = torch.nn.Parameter(torch.zeros(4 * hidden))
        if variant in ("ln", "atn"):
            for site, n in (("rec", 4 * hidden), ("inp", 4 * hidden), ("cell", hidden)):
                setattr(self, f"g_{site}", torch.nn.Parameter(torch.ones(n)))
                setattr(self, f"b_{site}", torch.nn.Parameter(torch.zeros(n)))

    def gumbel(self, shape):
        u = torch.rand(shape)
        keep = (torch.rand(shape) < self.noise_probability).float()
        return keep * (torch.log(u + 1e-3) - torch.log(1 + 1e-3 - u))

    def atn(self, a, site, sums, squares):
        """ATN of a [B, F] given the site's previous per-example sums (lists of [B, 1], newest last)."""
        s, q = a.sum(1, keepdim=True), (a * a).sum(1, keepdim=True)
        past_s, past_q = sums[site][-(self.window - 1):], squares[site][-(self.window - 1):]
        n = (len(past_s) + 1) * a.shape[1]
        mean = (s + sum(past_s)) / n if past_s else s / n
        mean_square = (q + sum(past_q)) / n if past_q else q / n
        variance = torch.relu(mean_square - mean * mean)
        sums[site].append(s)
        squares[site].append(q)
        return (a - mean) / torch.sqrt(variance + EPS) * getattr(self, f"g_{site}") + getattr(self, f"b_{site}")

    def forward(self, xs, state):
        h, c = state
        T = xs.shape[0]
        H = self.hidden
        if self.variant == "ln":
            xw = F.layer_norm(xs @ self.w, (4 * H,), self.g_inp, self.b_inp, EPS) + self.b  # [T, B, 4H]
        elif self.variant == "atn":
            xw = xs @ self.w  # normalised per step below
        else:
            xw = xs @ self.w + self.b
        sums = {"rec": [], "inp": [], "cell": []}
        squares = {"rec": [], "inp": [], "cell": []}
        ys = []
        for t in range(T):
            r = h @ self.u
            if self.variant == "ln":
                a = F.layer_norm(r, (4 * H,), self.g_rec, self.b_rec, EPS) + xw[t]
            elif self.variant == "atn":
                a = self.atn(r, "rec", sums, squares) + self.atn(xw[t], "inp", sums, squares) + self.b
            else:
                a = xw[t] + r
            ai, af, ag, ao = a.chunk(4, 1)
            if self.variant == "g2":
                i = torch.sigmoid((ai + self.gumbel(ai.shape)) / self.temperature)
                f = torch.sigmoid((af + self.gumbel(af.shape)) / self.temperature)
            else:
                i, f = torch.sigmoid(ai), torch.sigmoid(af)
            g, o = torch.tanh(ag), torch.sigmoid(ao)
            c = f * c + i * g
            if self.variant == "ln":
                cn = F.layer_norm(c, (H,), self.g_cell, self.b_cell, EPS)
            elif self.variant == "atn":
                cn = self.atn(c, "cell", sums, squares)
            else:
                cn = c
            h = o * torch.tanh(cn)
            ys.append(h)
        return torch.stack(ys), (h, c)


class NcGru(torch.nn.Module):
    """NC-GRU layer as a per-step loop; U_c is a leaf whose values the orthogonal update writes."""

    def __init__(self, input_size, hidden, negative_ones=None):
        super().__init__()
        limit = 1 / math.sqrt(hidden)
        self.hidden = hidden
        self.w = uniform((input_size, 3 * hidden), limit)
        self.u_rz = uniform((hidden, 2 * hidden), limit)
        self.b = torch.nn.Parameter(torch.zeros(2 * hidden))
        self.b_mod = uniform((hidden,), 0.1)
        rho = int(0.4 * hidden) if negative_ones is None else negative_ones
        self.D = torch.ones(hidden, dtype=torch.float64)
        if rho:
            self.D[hidden - rho:] = -1
        # scoRNN init: A skew with s_i on every other first-superdiagonal entry.
        A = torch.zeros(hidden, hidden, dtype=torch.float64)
        theta = torch.rand(hidden // 2, dtype=torch.float64) * math.pi / 2
        s = -torch.sqrt((1 - torch.cos(theta)) / (1 + torch.cos(theta)))
        for j in range(hidden // 2):
            A[2 * j, 2 * j + 1] = s[j]
        self.A = A - A.T
        self.eye = torch.eye(hidden, dtype=torch.float64)
        self.inv = torch.linalg.inv(self.eye + self.A)
        self.u_c = torch.nn.Parameter(self.compute_u().float())
        self.updates = 0

    def compute_u(self):
        return (self.inv @ (self.eye - self.A)) * self.D  # (I+A)^-1 (I-A) D: D scales columns

    def orthogonal_step(self, lr, order=2, recompute_every=49):
        G = self.u_c.grad.double()
        U = self.u_c.detach().double()
        V = self.inv.T @ G @ (torch.diag(self.D) + U.T)
        dA = V.T - V
        delta = lr * dA  # A_old - A_new
        self.A = self.A - delta
        X = self.inv @ delta
        series = self.eye + X
        power = X
        for _ in range(order - 1):
            power = power @ X
            series = series + power
        self.inv = series @ self.inv
        self.updates += 1
        if self.updates % recompute_every == 0:
            self.inv = torch.linalg.inv(self.eye + self.A)
        with torch.no_grad():
            self.u_c.copy_(self.compute_u().float())

    def forward(self, xs, state):
        h = state[0]
        H = self.hidden
        xw = xs @ self.w + torch.cat([self.b, torch.zeros(H)])  # [T, B, 3H]
        ys = []
        for t in range(xs.shape[0]):
            xrz, xc = xw[t, :, : 2 * H], xw[t, :, 2 * H:]
            r, z = torch.sigmoid(xrz + h @ self.u_rz).chunk(2, 1)
            pre = xc + (r * h) @ self.u_c
            c = torch.sign(pre) * torch.relu(pre.abs() + self.b_mod)
            h = z * h + (1 - z) * c
            ys.append(h)
        return torch.stack(ys), (h,)


class Stack(torch.nn.Module):
    """`layers` recurrent layers of one cell kind, time-major [T, B, I]."""

    def __init__(self, cell, input_size, hidden, layers, negative_ones=None):
        super().__init__()
        self.cell, self.layers, self.hidden = cell, layers, hidden
        if cell == "lstm":
            self.rnn = torch.nn.LSTM(input_size, hidden, layers)
        elif cell == "gru":
            self.rnn = torch.nn.GRU(input_size, hidden, layers)
        else:
            sizes = [input_size] + [hidden] * (layers - 1)
            if cell == "ncgru":
                self.rnns = torch.nn.ModuleList([NcGru(s, hidden, negative_ones) for s in sizes])
            else:
                variant = {"g2lstm": "g2", "lnlstm": "ln", "atnlstm": "atn"}[cell]
                self.rnns = torch.nn.ModuleList([LoopLstm(s, hidden, variant) for s in sizes])

    def initial_state(self, batch):
        z = lambda: torch.zeros(self.layers, batch, self.hidden)  # noqa: E731
        if self.cell == "lstm":
            return (z(), z())
        if self.cell in ("gru", "ncgru"):
            return (z(),)
        return (z(), z())

    def forward(self, xs, state):
        if self.cell == "lstm":
            return self.rnn(xs, state)
        if self.cell == "gru":
            y, h = self.rnn(xs, state[0])
            return y, (h,)
        finals = []
        for l, rnn in enumerate(self.rnns):
            xs, s = rnn(xs, tuple(t[l] for t in state))
            finals.append(s)
        return xs, tuple(torch.stack([f[k] for f in finals]) for k in range(len(state)))

    def orthogonal_step(self, lr):
        if self.cell == "ncgru":
            for rnn in self.rnns:
                rnn.orthogonal_step(lr)

    def plain_parameters(self):
        """Every parameter but U_c (which the orthogonal update owns)."""
        return [p for name, p in self.named_parameters() if not name.endswith("u_c")]


def run_config(c):
    torch.manual_seed(c.get("seed", 0))
    task, cell = c["task"], c["cell"]
    lr = c.get("learningRate", 0.1)
    if task == "lm":
        V, E, H, L, B, T = c["vocab"], c["embedding"], c["hidden"], c["layers"], c["batch"], c["bptt"]
        embedding = torch.nn.Embedding(V, E)
        torch.nn.init.uniform_(embedding.weight, -0.1, 0.1)
        stack = Stack(cell, E, H, L, c.get("negativeOnes"))
        decoder_bias = torch.nn.Parameter(torch.zeros(V))
        decoder = None if c.get("tied") else uniform((H, V), 0.1)
        extra = [decoder_bias] + ([decoder] if decoder is not None else [])
        params = [embedding.weight] + stack.plain_parameters() + extra
        state = stack.initial_state(B)
        tokens = B * T
    else:
        H, B, T = c["hidden"], c["batch"], c["length"]
        stack = Stack(cell, 2, H, 1, c.get("negativeOnes"))
        head = uniform((H, 1), 1 / math.sqrt(H))
        head_bias = torch.nn.Parameter(torch.zeros(1))
        params = stack.plain_parameters() + [head, head_bias]
        tokens = B * T
    everything = params + ([p for name, p in stack.named_parameters() if name.endswith("u_c")])
    opt = torch.optim.Adam(params, lr=lr) if c.get("optimizer") == "adam" else torch.optim.SGD(params, lr=lr)
    times = []
    for i in range(c["warmup"] + c["steps"]):
        if task == "lm":
            ids = torch.randint(0, V, (T + 1, B))
            x, y = ids[:-1], ids[1:].reshape(-1)
        else:
            # The adding problem: values U(0, 1), two markers (one in each half), target = their sum.
            values = torch.rand(T, B)
            marks = torch.zeros(T, B)
            first = torch.randint(0, T // 2, (B,))
            second = torch.randint(T // 2, T, (B,))
            marks[first, torch.arange(B)] = 1
            marks[second, torch.arange(B)] = 1
            x = torch.stack([values, marks], 2)
            y = (values * marks).sum(0, keepdim=True).T  # [B, 1]
        t0 = time.perf_counter()
        for p in everything:
            p.grad = None
        if task == "lm":
            state = tuple(s.detach() for s in state)
            out, state = stack(embedding(x), state)
            flat = out.reshape(-1, out.shape[-1])
            logits = flat @ (decoder if decoder is not None else embedding.weight.T) + decoder_bias
            loss = F.cross_entropy(logits, y)
        else:
            out, _ = stack(x, stack.initial_state(B))
            loss = F.mse_loss(out[-1] @ head + head_bias, y)
        loss.backward()
        opt.step()
        stack.orthogonal_step(lr)
        ms = (time.perf_counter() - t0) * 1000
        if not math.isfinite(loss.item()):
            raise SystemExit(f"{c['key']}: loss became {loss.item()}")
        if i >= c["warmup"]:
            times.append(ms)
    med = sorted(times)[len(times) // 2]
    return {"key": c["key"], "stepMsAll": [round(t, 2) for t in times], "stepMsMedian": med, "tokensPerSecond": tokens / (med / 1000)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--configs", required=True, help="JSON list of configs (see the module docstring)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    for c in json.loads(a.configs):
        t0 = time.perf_counter()
        r = run_config(c)
        r.update(threads=torch.get_num_threads(), torchVersion=torch.__version__)
        print(json.dumps(r), flush=True)
        print(f"pytorch {a.threads} thread{'s' if a.threads > 1 else ''} {c['key']}: {r['stepMsMedian']:.1f} ms/step, "
              f"{r['tokensPerSecond']:.0f} tok/s ({time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
