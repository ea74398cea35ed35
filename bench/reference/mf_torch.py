#!/usr/bin/env python3
"""PyTorch reference of one matrix-factorisation training step (throughput baseline).

score(u, i) = <user_emb(u), item_emb(i)> + item_bias(i)
Each batch: `batch` positive (user, item) pairs, each with `negatives` uniform negative items.
loss = mean BCEWithLogits over positives (label 1) and negatives (label 0); Adam(lr=1e-3).

Run with the system python (Debian python3-torch):
  /usr/bin/python3 bench/reference/mf_torch.py --threads 1 --json
With --json the last stdout line is a JSON object. Exit code 3 if torch is missing.
"""
import argparse
import json
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
except ImportError as e:  # the benchmark skips the reference in this case
    print(f"mf_torch: torch not importable ({e})", file=sys.stderr)
    sys.exit(3)


class MF(nn.Module):
    def __init__(self, n_users, n_items, d):
        super().__init__()
        self.user_emb = nn.Embedding(n_users, d)
        self.item_emb = nn.Embedding(n_items, d)
        self.item_bias = nn.Embedding(n_items, 1)

    def forward(self, users, items):
        # users: [B], items: [B, 1 + K] -> scores [B, 1 + K]
        u = self.user_emb(users).unsqueeze(1)  # [B, 1, d]
        return (u * self.item_emb(items)).sum(-1) + self.item_bias(items).squeeze(-1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=6040)
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--negatives", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(args.seed)

    B, K, U, N = args.batch, args.negatives, args.users, args.items
    model = MF(U, N, args.dim)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    bce = nn.BCEWithLogitsLoss()
    # labels: column 0 is the positive item, columns 1..K the negatives
    labels = torch.zeros(B, 1 + K)
    labels[:, 0] = 1.0

    # Pool of random batches generated up front so only the step is timed.
    def rand_batch():
        users = torch.randint(0, U, (B,))
        items = torch.randint(0, N, (B, 1 + K))  # positive + K uniform negatives
        return users, items
    pool = [rand_batch() for _ in range(8)]

    def step(i):
        users, items = pool[i % len(pool)]
        opt.zero_grad()
        loss = bce(model(users, items), labels)  # mean over B*(1+K) scores
        loss.backward()
        opt.step()
        return loss

    for i in range(args.warmup):
        step(i)

    runs = []  # positives/s per timed run
    for r in range(args.repeats):
        t0 = time.perf_counter()
        for i in range(args.steps):
            step(i)
        dt = time.perf_counter() - t0
        runs.append(B * args.steps / dt)

    pps = statistics.median(runs)
    ms_per_step = 1000.0 * B / pps
    print(f"pytorch {torch.__version__} MF threads={args.threads} U={U} N={N} d={args.dim} B={B} K={K}: "
          f"{pps:.1f} positives/s, {ms_per_step:.3f} ms/step")
    if args.json:
        print(json.dumps({"impl": "pytorch-mf", "torch": torch.__version__, "threads": args.threads,
                          "positives_per_s": round(pps, 2), "runs": [round(x, 2) for x in runs],
                          "ms_per_step": round(ms_per_step, 3)}))


if __name__ == "__main__":
    main()
