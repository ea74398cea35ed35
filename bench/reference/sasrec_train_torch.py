#!/usr/bin/env python3
"""Independent PyTorch SASRec trainer on a MovieLens CSV directory (time-to-quality reference).

Reads DIR/ratings.csv (header userId,movieId,rating,timestamp; MovieLens
"latest" / ml-latest-small format) and applies fedrec's evaluation protocol:

  * every rating is an interaction; per user, interactions are sorted by
    timestamp (stable: ties keep the file order); users and items are indexed
    in order of first appearance in the file;
  * leave-one-out: last item = test target, second-to-last = validation
    target, the rest = training sequence; users with < 3 interactions go
    entirely to training (no evaluation cases);
  * full ranking over ALL items: candidates are every item except those in the
    user's history (the items before the target), the target itself always
    stays a candidate; ties count against the target:
        rank = #{items other than the target, not excluded, score >= target's}
    NDCG@10 = 1/log2(rank+2) if rank < 10, HR@10 = [rank < 10]; averages over users.

Model (pmixer's SASRec.pytorch layer order, as bench/reference/sasrec_torch.py,
without the event-type embedding, which is constant for ratings):
  x = item_emb(seq)*sqrt(d) + pos_emb(arange(L)); dropout; x *= mask
  per block: q = LN_attn(x); x = q + MHA(q, x, x, causal); x = LN_ffn(x);
             x = Dropout(Lin2(ReLU(Dropout(Lin1(x))))) + x; x *= mask
  h = LN_last(x); logit(i) = <h, item_emb(i)> (tied embeddings)
Training: one example per user = the last L+1 items of its training sequence,
shifted by one (inputs = all but the last, positives = all but the first,
left-padded with 0); one uniform random negative per position, not in the
user's training items; loss = BCE(pos, 1) + BCE(neg, 0) over non-padded
positions; Adam(lr 1e-3, betas (0.9, 0.98)); batch 128; each epoch visits every
user once in a fresh random order. Parameters of rank >= 2 are initialised
xavier-normal, as pmixer's main.py does.

Validation NDCG@10 every --eval-every epochs; the best state is kept; training
stops when validation has not improved for --patience evaluations or at
--max-epochs; test metrics are those of the best state.

Progress goes to stderr; the last stdout line is one JSON object:
  {"torch", "threads", "epochs", "best_epoch", "seconds", "seconds_to_best",
   "valid_ndcg@10", "test_ndcg@10", "test_hr@10", "users", "items", "interactions", ...}
"seconds" covers training and the validation evaluations (not loading the data
and not the final test evaluation), as `fedrec train` reports it.

  /usr/bin/python3 bench/reference/sasrec_train_torch.py --data ../shared/data/ml-latest-small
Exit code 3 if torch is missing, 2 on bad input.
"""
import argparse
import copy
import csv
import json
import math
import os
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn as nn
except ImportError as e:  # the benchmark skips the reference in this case
    print(f"sasrec_train_torch: torch/numpy not importable ({e})", file=sys.stderr)
    sys.exit(3)


# ---------------------------------------------------------------- data

def read_movielens_csv(directory):
    """Per-user item sequences (catalog indices 0..N-1) sorted by timestamp, stable."""
    path = os.path.join(directory, "ratings.csv")
    if not os.path.isfile(path):
        print(f"sasrec_train_torch: {path} not found (expected a MovieLens CSV directory)", file=sys.stderr)
        sys.exit(2)
    user_index, item_index = {}, {}
    events = []  # per user: list of (timestamp, item) in file order
    interactions = 0
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or [h.strip() for h in header[:4]] != ["userId", "movieId", "rating", "timestamp"]:
            print(f"sasrec_train_torch: {path}: expected the header userId,movieId,rating,timestamp, got {header}",
                  file=sys.stderr)
            sys.exit(2)
        for line_no, row in enumerate(reader, start=2):
            if not row or (len(row) == 1 and row[0].strip() == ""):
                continue
            if len(row) != 4:
                print(f"sasrec_train_torch: {path}:{line_no}: expected 4 fields, got {len(row)}", file=sys.stderr)
                sys.exit(2)
            u, i, _, t = row
            try:
                ts = float(t)
            except ValueError:
                print(f"sasrec_train_torch: {path}:{line_no}: bad timestamp {t!r}", file=sys.stderr)
                sys.exit(2)
            uid = user_index.setdefault(u, len(user_index))
            if uid == len(events):
                events.append([])
            iid = item_index.setdefault(i, len(item_index))
            events[uid].append((ts, iid))
            interactions += 1
    # list.sort is stable: equal timestamps keep the file order
    sequences = [[item for _, item in sorted(ev, key=lambda e: e[0])] for ev in events]
    return sequences, len(item_index), interactions


def leave_one_out(sequences):
    """(train sequences, valid cases, test cases); a case = (history list, target)."""
    train, valid, test = [], [], []
    for s in sequences:
        n = len(s)
        if n < 3:
            train.append(s)
            continue
        train.append(s[: n - 2])
        valid.append((s[: n - 2], s[n - 2]))
        test.append((s[: n - 1], s[n - 1]))
    return train, valid, test


def left_pad(items, L):
    """The last L items (+1: 0 is padding), left-padded to length L."""
    out = np.zeros(L, dtype=np.int64)
    tail = items[-L:] if L > 0 else []
    if tail:
        out[L - len(tail):] = np.asarray(tail, dtype=np.int64) + 1
    return out


# ---------------------------------------------------------------- model

class SASRec(nn.Module):
    def __init__(self, n_items, d, maxlen, blocks, heads, p):
        super().__init__()
        self.d = d
        self.n_items = n_items
        self.item_emb = nn.Embedding(n_items + 1, d, padding_idx=0)
        self.pos_emb = nn.Embedding(maxlen, d)
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
        # causal bool mask: True = not allowed to attend (strictly above the diagonal)
        self.register_buffer("causal", torch.triu(torch.ones(maxlen, maxlen, dtype=torch.bool), diagonal=1))
        self.register_buffer("positions", torch.arange(maxlen))

    def features(self, seq):
        mask = (seq != 0).unsqueeze(-1)  # [B, L, 1]
        x = self.item_emb(seq) * math.sqrt(self.d)
        x = x + self.pos_emb(self.positions)
        x = self.emb_dropout(x) * mask
        for ln_a, mha, ln_f, ffn in zip(self.attn_ln, self.attn, self.ffn_ln, self.ffn):
            q = ln_a(x)
            a, _ = mha(q, x, x, attn_mask=self.causal, need_weights=False)
            x = q + a
            x = ln_f(x)
            x = ffn(x) + x
            x = x * mask
        return self.last_ln(x)

    def forward(self, seq, pos, neg):
        h = self.features(seq)
        return (h * self.item_emb(pos)).sum(-1), (h * self.item_emb(neg)).sum(-1)

    def score_last(self, seq):
        """Scores [B, N] of every item (catalog order) after the last position."""
        h = self.features(seq)[:, -1, :]
        return h @ self.item_emb.weight[1:].t()


# ---------------------------------------------------------------- evaluation

@torch.no_grad()
def evaluate(model, cases, L, batch=256):
    """Full-ranking NDCG@10 and HR@10 (fedrec's protocol, ties pessimistic)."""
    model.eval()
    n_items = model.n_items
    ndcg = hr = 0.0
    for start in range(0, len(cases), batch):
        chunk = cases[start:start + batch]
        seq = torch.from_numpy(np.stack([left_pad(h, L) for h, _ in chunk]))
        scores = model.score_last(seq)  # [B, N]
        B = len(chunk)
        targets = torch.tensor([t for _, t in chunk], dtype=torch.long)
        rows = torch.arange(B)
        t_scores = scores[rows, targets]
        ge = scores >= t_scores.unsqueeze(1)
        # exclude the whole history (every item before the target) ...
        hist_rows = np.concatenate([np.full(len(h), b, dtype=np.int64) for b, (h, _) in enumerate(chunk)])
        hist_items = np.concatenate([np.asarray(h, dtype=np.int64) for h, _ in chunk])
        if hist_items.size:
            ge[torch.from_numpy(hist_rows), torch.from_numpy(hist_items)] = False
        # ... and the target itself is not counted against itself (it always stays a candidate)
        ge[rows, targets] = False
        ranks = ge.sum(1)
        # a NaN target score gets the worst rank (numCandidates - 1), as fedrec's rankOfTarget
        nan = torch.isnan(t_scores)
        if bool(nan.any()):
            for b in torch.nonzero(nan).flatten().tolist():
                h, t = chunk[b]
                ranks[b] = n_items - len(set(h) - {t}) - 1
        r = ranks.double()
        hit = r < 10
        hr += float(hit.sum())
        ndcg += float((hit.double() / torch.log2(r + 2)).sum())
    model.train()
    n = max(1, len(cases))
    return ndcg / n, hr / n


# ---------------------------------------------------------------- training

class Examples:
    """One training example per user with >= 2 training items, plus its negative sampler."""

    def __init__(self, train, n_items, L):
        users = [s for s in train if len(s) >= 2]
        self.n_items = n_items
        self.seq = np.zeros((len(users), L), dtype=np.int64)
        self.pos = np.zeros((len(users), L), dtype=np.int64)
        for r, s in enumerate(users):
            n = len(s)
            ln = min(L, n - 1)
            self.seq[r, L - ln:] = np.asarray(s[n - 1 - ln:n - 1], dtype=np.int64) + 1
            self.pos[r, L - ln:] = np.asarray(s[n - ln:n], dtype=np.int64) + 1
        # sorted keys user * (N + 1) + item (item ids +1) of every user's training items
        stride = n_items + 1
        self.stride = stride
        self.seen = np.unique(np.concatenate(
            [r * stride + np.asarray(s, dtype=np.int64) + 1 for r, s in enumerate(users)]))
        self.counts = np.array([len(set(s)) for s in users])

    def __len__(self):
        return self.seq.shape[0]

    def _is_seen(self, rows, items):
        keys = rows * self.stride + items
        idx = np.searchsorted(self.seen, keys)
        idx[idx >= self.seen.size] = self.seen.size - 1
        return self.seen[idx] == keys

    def negatives(self, rows, rng):
        """A uniform random item (1..N) per position, not among the user's training items."""
        B, L = len(rows), self.seq.shape[1]
        r = np.repeat(rows, L).reshape(B, L)
        neg = rng.integers(1, self.n_items + 1, size=(B, L))
        # users who have rated every item would loop forever: they keep a seen negative
        can = (self.counts[rows] < self.n_items)[:, None] & np.ones((1, L), dtype=bool)
        bad = self._is_seen(r, neg) & can
        while bad.any():
            neg[bad] = rng.integers(1, self.n_items + 1, size=int(bad.sum()))
            bad = self._is_seen(r, neg) & can
        neg[self.pos[rows] == 0] = 0
        return neg


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="MovieLens directory with ratings.csv")
    ap.add_argument("--maxlen", type=int, default=200)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--heads", type=int, default=1)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--eval-every", type=int, default=5)
    ap.add_argument("--patience", type=int, default=5, help="evaluations without improvement before stopping")
    ap.add_argument("--max-epochs", type=int, default=400)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    for name in ("maxlen", "dim", "blocks", "heads", "batch", "eval_every", "max_epochs", "threads"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.dim % args.heads:
        ap.error(f"--dim {args.dim} is not divisible by --heads {args.heads}")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    t_load = time.perf_counter()
    sequences, n_items, interactions = read_movielens_csv(args.data)
    train, valid, test = leave_one_out(sequences)
    L = args.maxlen
    ex = Examples(train, n_items, L)
    load_s = time.perf_counter() - t_load
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    log(f"sasrec_train_torch: {len(sequences)} users, {n_items} items, {interactions} interactions "
        f"({len(ex)} training examples, {len(valid)} valid / {len(test)} test users; loaded in {load_s:.1f}s); "
        f"torch {torch.__version__}, {args.threads} threads; L={L} d={args.dim} blocks={args.blocks} "
        f"heads={args.heads} dropout={args.dropout} lr={args.lr} batch={args.batch}; "
        f"validation every {args.eval_every} epochs, patience {args.patience}, max {args.max_epochs} epochs")

    model = SASRec(n_items, args.dim, L, args.blocks, args.heads, args.dropout)
    for _, p in model.named_parameters():  # pmixer's main.py: xavier_normal_ where it applies
        if p.dim() >= 2:
            nn.init.xavier_normal_(p.data)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.98))
    bce = nn.BCEWithLogitsLoss()
    seq_all = torch.from_numpy(ex.seq)
    pos_all = torch.from_numpy(ex.pos)

    best = {"ndcg": -math.inf, "epoch": 0, "state": None, "seconds": 0.0}
    evals_since_best = 0
    epoch = 0
    started = time.perf_counter()
    for epoch in range(1, args.max_epochs + 1):
        order = rng.permutation(len(ex))
        loss_sum, steps = 0.0, 0
        for s in range(0, len(order), args.batch):
            rows = order[s:s + args.batch]
            idx = torch.from_numpy(rows)
            seq, pos = seq_all[idx], pos_all[idx]
            neg = torch.from_numpy(ex.negatives(rows, rng))
            opt.zero_grad()
            pos_logits, neg_logits = model(seq, pos, neg)
            m = pos != 0  # average over non-padded positions only
            loss = bce(pos_logits[m], torch.ones_like(pos_logits[m])) + \
                bce(neg_logits[m], torch.zeros_like(neg_logits[m]))
            loss.backward()
            opt.step()
            loss_sum += float(loss)
            steps += 1
        if epoch % args.eval_every != 0 and epoch != args.max_epochs:
            continue
        v_ndcg, v_hr = evaluate(model, valid, L)
        elapsed = time.perf_counter() - started
        improved = v_ndcg > best["ndcg"]
        if improved:
            best = {"ndcg": v_ndcg, "epoch": epoch, "state": copy.deepcopy(model.state_dict()), "seconds": elapsed}
            evals_since_best = 0
        else:
            evals_since_best += 1
        log(f"epoch {epoch:4d}  loss {loss_sum / max(1, steps):.4f}  valid NDCG@10 {v_ndcg:.4f}  HR@10 {v_hr:.4f}  "
            f"{elapsed:7.1f}s{'  *' if improved else ''}")
        if evals_since_best >= args.patience:
            break
    seconds = time.perf_counter() - started
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    t_ndcg, t_hr = evaluate(model, test, L)
    log(f"best validation epoch {best['epoch']} of {epoch} ({best['seconds']:.1f}s of {seconds:.1f}s): "
        f"test NDCG@10 {t_ndcg:.4f}  HR@10 {t_hr:.4f}")
    print(json.dumps({
        "torch": torch.__version__, "threads": args.threads, "epochs": epoch, "best_epoch": best["epoch"],
        "seconds": round(seconds, 2), "seconds_to_best": round(best["seconds"], 2),
        "valid_ndcg@10": round(best["ndcg"], 6) if best["state"] is not None else None,
        "test_ndcg@10": round(t_ndcg, 6), "test_hr@10": round(t_hr, 6),
        "users": len(sequences), "items": n_items, "interactions": interactions,
        "test_users": len(test), "maxlen": L, "dim": args.dim, "blocks": args.blocks, "heads": args.heads,
        "seed": args.seed,
    }))


if __name__ == "__main__":
    main()
