"""SASRec (Kang & McAuley 2018): a small causal transformer that reads a user's last items in
order and predicts the next one. Trained with full softmax cross-entropy over the catalog (the
"SASRec with CE" of Klenitskiy & Vasilev 2023, which beats the paper's sampled BCE), on CPU.

Each user's history is cut into windows of `max_len` from the end backwards, so every
interaction is a training target once per epoch. Windows are right-padded, so the causal mask
alone keeps real positions from seeing padding. The softmax runs over the target and
`negatives` items drawn uniformly per batch (shared by the batch, a target drawn as its own
negative masked out): the full-catalog softmax is memory-bound on CPU (90 ms per 6,400 tokens
over 1,682 items, measured) and would cost minutes per epoch at MovieLens-1M size. With a validation split the epoch with the
best validation NDCG@10 is kept (early stopping by `patience`). Deterministic for a seed: the
initial weights, dropout and batch order all come from one torch.Generator seeded from it, and
training runs on the calling process's torch threads.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from scipy import sparse
from torch import nn

from ranking.models._base import BlockScorer, bounded
from ranking.models._io import load_arrays, pack_csr, save_arrays, unpack_csr
from ranking.models.interactions import Interactions

__all__ = ["SasRec", "SequenceModel", "SequenceParams", "fit_sequence"]


@dataclass(frozen=True)
class SequenceParams:
    max_len: int = 50
    dim: int = 64
    heads: int = 2
    layers: int = 2
    dropout: float = 0.2
    epochs: int = 200  # the most; early stopping or the time budget usually ends sooner
    patience: int = 8
    batch_size: int = 64
    lr: float = 3e-3
    negatives: int = 256
    threads: int = 1  # torch CPU threads while training (2 measured slower than 1 here)
    # The nightly budget, counted in training targets so the stop does not depend on how busy
    # the machine is (a wall-clock stop made the model depend on load): 5M targets is ~150 s
    # on one core here, ~5 epochs at MovieLens-1M size and ~60 at MovieLens-100k.
    max_targets: int = 5_000_000
    time_budget_s: float = 1800.0  # a safety stop only; when it trips, determinism is lost

    def __post_init__(self) -> None:
        bounded(self, "max_len", 2, 1024, integer=True)
        bounded(self, "dim", 4, 1024, integer=True)
        bounded(self, "heads", 1, 16, integer=True)
        bounded(self, "layers", 1, 8, integer=True)
        bounded(self, "dropout", 0.0, 0.9)
        bounded(self, "epochs", 1, 500, integer=True)
        bounded(self, "patience", 1, 100, integer=True)
        bounded(self, "batch_size", 1, 8192, integer=True)
        bounded(self, "lr", 1e-6, 1.0)
        bounded(self, "negatives", 1, 100_000, integer=True)
        bounded(self, "threads", 1, 256, integer=True)
        bounded(self, "max_targets", 1, 10**12, integer=True)
        bounded(self, "time_budget_s", 1.0, 86400.0)
        if self.dim % self.heads:
            raise ValueError(f"dim ({self.dim}) must be a multiple of heads ({self.heads})")


class SasRec(nn.Module):
    """Item codes shift by one: 0 is padding."""

    def __init__(self, n_items: int, p: SequenceParams) -> None:
        super().__init__()
        self.items = nn.Embedding(n_items + 1, p.dim, padding_idx=0)
        self.positions = nn.Embedding(p.max_len, p.dim)
        # Dropout inside the layers costs a quarter of each CPU training step (random draws),
        # but without it validation NDCG@10 on MovieLens-100k fell from 0.17 to 0.09.
        layer = nn.TransformerEncoderLayer(p.dim, p.heads, dim_feedforward=p.dim,
                                           dropout=p.dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, p.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(p.dim)
        self.drop = nn.Dropout(p.dropout)
        self.register_buffer("causal", torch.triu(torch.ones(p.max_len, p.max_len,
                                                             dtype=torch.bool), 1))

    def hidden(self, seq: torch.Tensor) -> torch.Tensor:
        """(batch, len, dim) state after each position of `seq` (batch, len), right-padded."""
        length = seq.shape[1]
        x = self.items(seq) * (self.items.embedding_dim ** 0.5)
        x = self.drop(x + self.positions.weight[:length])
        x = self.encoder(x, mask=self.causal[:length, :length])
        return self.norm(x)

    def logits(self, state: torch.Tensor) -> torch.Tensor:
        return state @ self.items.weight[1:].T


def _windows(log: Interactions, max_len: int) -> np.ndarray:
    """int64 (windows, max_len + 1) of item codes + 1, right-padded with 0: each user's history
    cut from the end backwards into windows that overlap by one (a window's last input is the
    next window's first)."""
    rows = []
    starts = log.user_starts
    for u in range(log.n_users):
        seq = log.items[starts[u]:starts[u + 1]].astype(np.int64) + 1
        end = len(seq)
        while end >= 2:
            chunk = seq[max(0, end - max_len - 1):end]
            rows.append(np.pad(chunk, (0, max_len + 1 - len(chunk))))
            end -= max_len
    return np.stack(rows) if rows else np.zeros((0, max_len + 1), dtype=np.int64)


def _recent(log: Interactions, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Each user's last `max_len` item codes + 1, right-padded with 0, and how many there are."""
    left = log.recent_items(max_len) + 1  # left-padded with 0
    lengths = (left > 0).sum(axis=1)
    out = np.zeros_like(left)
    for u in np.flatnonzero(lengths):
        out[u, :lengths[u]] = left[u, max_len - lengths[u]:]
    return out, lengths.astype(np.int64)


def _sampled_loss(net: SasRec, state: torch.Tensor, target: torch.Tensor, negatives: int,
                  n_items: int, gen: torch.Generator) -> torch.Tensor:
    """Softmax cross-entropy of each target against `negatives` shared uniform negatives."""
    emb = net.items.weight
    neg = torch.randint(1, n_items + 1, (negatives,), generator=gen)
    pos = (state * emb[target]).sum(-1, keepdim=True)
    other = state @ emb[neg].T
    other = other.masked_fill(neg[None, :] == target[:, None], float("-inf"))
    logits = torch.cat([pos, other], dim=1)
    return nn.functional.cross_entropy(logits, torch.zeros(len(target), dtype=torch.long))


@dataclass(frozen=True, eq=False)
class SequenceModel(BlockScorer):
    net: SasRec
    recent: np.ndarray  # int64 (users, max_len): last item codes + 1, right-padded with 0
    lengths: np.ndarray  # int64 (users,): how many of `recent` are real
    seen: sparse.csr_matrix
    params: SequenceParams
    epochs_run: int
    kind = "sequence"

    def score_block(self, users: np.ndarray) -> np.ndarray:
        self.net.eval()
        with torch.no_grad():
            seq = torch.from_numpy(self.recent[users])
            last = torch.from_numpy(np.maximum(self.lengths[users] - 1, 0))
            state = self.net.hidden(seq)[torch.arange(len(users)), last]
            return self.net.logits(state).numpy().astype(np.float32)

    def save(self, directory: Path) -> Path:
        weights = {f"w_{k}": v.numpy() for k, v in self.net.state_dict().items()}
        return save_arrays(directory, self.kind, {**weights, "recent": self.recent,
                                                  "lengths": self.lengths,
                                                  **pack_csr("seen", self.seen)},
                           {"params": asdict(self.params), "epochs_run": self.epochs_run,
                            "weights": sorted(weights)})

    @classmethod
    def load(cls, directory: Path) -> SequenceModel:
        a, meta = load_arrays(directory, cls.kind)
        params = SequenceParams(**meta["params"])
        seen = unpack_csr("seen", a)
        net = SasRec(seen.shape[1], params)
        net.load_state_dict({k[2:]: torch.from_numpy(a[k]) for k in meta["weights"]})
        return cls(net, a["recent"], a["lengths"], seen, params, meta["epochs_run"])

    def with_history(self, log: Interactions) -> SequenceModel:
        """The same network reading `log`'s histories (e.g. the full log after validation)."""
        recent, lengths = _recent(log, self.params.max_len)
        return SequenceModel(self.net, recent, lengths, log.matrix, self.params, self.epochs_run)


def fit_sequence(log: Interactions, params: SequenceParams, seed: int = 0,
                 validation: tuple[sparse.csr_matrix, np.ndarray] | None = None,
                 epochs: int | None = None) -> SequenceModel:
    """Train on `log`. `validation` = (truth, users) keeps the best epoch by NDCG@10;
    without it, train exactly `epochs` (default `params.epochs`)."""
    from ranking.models.tuning import evaluate

    threads = torch.get_num_threads()
    torch.set_num_threads(params.threads)
    try:
        return _fit(log, params, seed, validation, epochs, evaluate)
    finally:
        torch.set_num_threads(threads)


def _fit(log, params, seed, validation, epochs, evaluate) -> SequenceModel:
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = SasRec(log.n_items, params)
    data = torch.from_numpy(_windows(log, params.max_len))
    opt = torch.optim.Adam(net.parameters(), lr=params.lr)
    recent, lengths = _recent(log, params.max_len)
    model = SequenceModel(net, recent, lengths, log.matrix, params, 0)
    best, best_state, best_epoch, stale = -1.0, None, 0, 0
    n_epochs = params.epochs if epochs is None else epochs
    started = time.perf_counter()
    targets = 0
    for epoch in range(1, n_epochs + 1):
        net.train()
        for idx in torch.randperm(len(data), generator=gen).split(params.batch_size):
            batch = data[idx]
            seq, target = batch[:, :-1], batch[:, 1:]
            keep = target > 0
            targets += int(keep.sum())
            state = net.hidden(seq)[keep]
            loss = _sampled_loss(net, state, target[keep], params.negatives, log.n_items, gen)
            opt.zero_grad()
            loss.backward()
            opt.step()
        out_of_time = (targets >= params.max_targets
                       or time.perf_counter() - started > params.time_budget_s)
        if validation is None:
            best_epoch = epoch
            if out_of_time:
                break
            continue
        truth, users = validation
        top, _ = model.top(users, 10)
        score = evaluate(top, truth, users, ks=(10,))["ndcg@10"]
        if score > best:
            best, best_state, best_epoch, stale = score, copy.deepcopy(net.state_dict()), epoch, 0
        else:
            stale += 1
        if stale >= params.patience or out_of_time:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return SequenceModel(net, recent, lengths, log.matrix, params, best_epoch)
