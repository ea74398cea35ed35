#!/usr/bin/env python3
"""PyTorch reference of one SASRec training step (throughput baseline).

Model = pmixer's SASRec.pytorch + an event-type embedding:
  x = item_emb(seq)*sqrt(d) + pos_emb(arange(L)) + type_emb(types); dropout; x *= mask
  per block: q = LN_attn(x); x = q + MHA(q, x, x, causal); x = LN_ffn(x);
             x = Dropout(Lin2(ReLU(Dropout(Lin1(x))))) + x; x *= mask
  h = LN_last(x); logits = <h, item_emb(pos|neg)> (tied embeddings)
  loss = BCE(pos, 1) + BCE(neg, 0) over positions with pos != 0; Adam(1e-3, (0.9, 0.98)).

Run with the system python (Debian python3-torch):
  /usr/bin/python3 bench/reference/sasrec_torch.py --threads 1 --json
With --json the last stdout line is a JSON object. Exit code 3 if torch is missing.
"""
import argparse
import json
import math
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
except ImportError as e:  # the benchmark skips the reference in this case
    print(f"sasrec_torch: torch not importable ({e})", file=sys.stderr)
    sys.exit(3)


class SASRec(nn.Module):
    def __init__(self, n_items, d, maxlen, blocks, heads, p):
        super().__init__()
        self.d = d
        self.item_emb = nn.Embedding(n_items + 1, d, padding_idx=0)
        self.pos_emb = nn.Embedding(maxlen, d)
        self.type_emb = nn.Embedding(6, d, padding_idx=0)
        self.emb_dropout = nn.Dropout(p)
        self.attn_ln = nn.ModuleList([nn.LayerNorm(d, eps=1e-8) for _ in range(blocks)])
        self.attn = nn.ModuleList(
            [nn.MultiheadAttention(d, heads, dropout=p, batch_first=True) for _ in range(blocks)])
        self.ffn_ln = nn.ModuleList([nn.LayerNorm(d, eps=1e-8) for _ in range(blocks)])
        # pmixer's PointWiseFeedForward: Dropout(Lin2(ReLU(Dropout(Lin1(x))))) + x
        self.ffn = nn.ModuleList([
            nn.Sequential(nn.Linear(d, d), nn.Dropout(p), nn.ReLU(), nn.Linear(d, d), nn.Dropout(p))
            for _ in range(blocks)])
        self.last_ln = nn.LayerNorm(d, eps=1e-8)
        L = maxlen
        # causal bool mask: True = not allowed to attend (strictly above the diagonal)
        self.register_buffer("causal", torch.triu(torch.ones(L, L, dtype=torch.bool), diagonal=1))
        self.register_buffer("positions", torch.arange(L))

    def features(self, seq, types):
        mask = (seq != 0).unsqueeze(-1)  # [B, L, 1]
        x = self.item_emb(seq) * math.sqrt(self.d)
        x = x + self.pos_emb(self.positions) + self.type_emb(types)
        x = self.emb_dropout(x) * mask
        for ln_a, mha, ln_f, ffn in zip(self.attn_ln, self.attn, self.ffn_ln, self.ffn):
            q = ln_a(x)
            a, _ = mha(q, x, x, attn_mask=self.causal, need_weights=False)
            x = q + a
            x = ln_f(x)
            x = ffn(x) + x
            x = x * mask
        return self.last_ln(x)

    def forward(self, seq, types, pos, neg):
        h = self.features(seq, types)
        pos_logits = (h * self.item_emb(pos)).sum(-1)
        neg_logits = (h * self.item_emb(neg)).sum(-1)
        return pos_logits, neg_logits


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--maxlen", type=int, default=50)
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--heads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--dropout", type=float, default=0.2)
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

    B, L, N = args.batch, args.maxlen, args.items
    model = SASRec(N, args.dim, L, args.blocks, args.heads, args.dropout)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.98))
    bce = nn.BCEWithLogitsLoss()

    # A small pool of random full-length batches (no padding), generated up front
    # so that only the training step itself is timed.
    def rand_batch():
        seq = torch.randint(1, N + 1, (B, L))
        types = torch.randint(1, 6, (B, L))
        pos = torch.randint(1, N + 1, (B, L))
        neg = torch.randint(1, N + 1, (B, L))
        return seq, types, pos, neg
    pool = [rand_batch() for _ in range(8)]

    def step(i):
        seq, types, pos, neg = pool[i % len(pool)]
        opt.zero_grad()
        pos_logits, neg_logits = model(seq, types, pos, neg)
        idx = pos != 0  # average over non-padded positions only
        loss = bce(pos_logits[idx], torch.ones_like(pos_logits[idx])) + \
            bce(neg_logits[idx], torch.zeros_like(neg_logits[idx]))
        loss.backward()
        opt.step()
        return loss

    for i in range(args.warmup):
        step(i)

    runs = []  # sequences/s per timed run
    for r in range(args.repeats):
        t0 = time.perf_counter()
        for i in range(args.steps):
            step(i)
        dt = time.perf_counter() - t0
        runs.append(B * args.steps / dt)

    sps = statistics.median(runs)
    ms_per_step = 1000.0 * B / sps
    print(f"pytorch {torch.__version__} SASRec threads={args.threads} B={B} L={L} d={args.dim} "
          f"blocks={args.blocks} heads={args.heads}: {sps:.1f} sequences/s, {ms_per_step:.2f} ms/step")
    if args.json:
        print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "threads": args.threads,
                          "sequences_per_s": round(sps, 2), "runs": [round(x, 2) for x in runs],
                          "ms_per_step": round(ms_per_step, 3)}))


if __name__ == "__main__":
    main()
