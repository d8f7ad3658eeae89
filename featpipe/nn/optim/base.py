"""The base of featpipe's first-order optimizers: chunked, optionally threaded in-place updates.

Every optimizer has ``step(params, grads)``: ``params`` and ``grads`` are matching lists of
C-contiguous float arrays; the parameters are updated in place and the gradients are only read. Set ``learning_rate`` on
the optimizer before a step to follow a schedule.

Speed: an update touches every parameter several times. Instead of whole-array NumPy
expressions (each one a pass over main memory plus a temporary), the update runs on chunks of
`CHUNK` elements with in-place ufuncs and two small scratch buffers, so the intermediate passes
stay in the CPU cache. With ``n_threads > 1`` the chunks are shared out among that many
threads (NumPy releases the GIL inside ufunc loops); every chunk gets the same operations either
way, so the result does not depend on the thread count.

Weight decay: ``weight_decay`` is applied to parameters with ``ndim >= 2`` (weight matrices)
and never to vectors (biases), as nanoGPT does. For SGD, momentum, Nesterov, RMSProp and Adam
it is the gradient of the L2 penalty ``0.5 * weight_decay * ||W||**2`` added to the gradient
(coupled, what ``weight_decay`` does in ``torch.optim`` for these); AdamW decays the weights
directly by ``learning_rate * weight_decay`` per step (decoupled, Loshchilov & Hutter, 2019,
as ``torch.optim.AdamW``).

Optimizer state (velocities, moment estimates, step count) is exposed by `state_dict` as plain
arrays and numbers, for checkpoints, and restored by `load_state_dict`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..parallel import worker_pool

__all__ = ["CHUNK", "Optimizer"]

#: Elements per chunk of an update: 4 float32 arrays of this size fit in a 512 KiB L2 cache.
CHUNK = 32768


class Optimizer:
    """Base class: runs `_update` over cache-sized chunks of every (param, grad) pair.

    Subclasses name their per-parameter state arrays in ``slots`` (each a zero array shaped
    like its parameter, created on the first step) and implement `_update` for one chunk.
    Adding an optimizer: one module in this package with its subclass, plus its line in
    `featpipe.nn.optim.OPTIMIZERS`.
    """

    slots: tuple[str, ...] = ()
    #: Constructor argument -> the MLP setting it is read from (besides the learning rate and
    #: weight decay, which every optimizer takes): how `featpipe.nn.optim.make_optimizer` builds it.
    hyperparameters: dict[str, str] = {}
    #: True if weight decay shrinks the weights directly rather than adding an L2 gradient
    #: (then the reported loss has no L2 term).
    decoupled = False

    def __init__(self, learning_rate: float = 0.01, weight_decay: float = 0.0) -> None:
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.step_count = 0
        self.state: dict[str, list[np.ndarray]] = {}
        #: Threads sharing the update of large parameter sets (results do not depend on it).
        self.n_threads = 1
        self._scratch: list[np.ndarray] = []

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        """Update ``params`` in place from ``grads`` (which are left unchanged)."""
        if len(params) != len(grads):
            raise ValueError(f"got {len(params)} parameter arrays but {len(grads)} gradients")
        if not self.state and self.slots:
            self.state = {name: [np.zeros_like(p) for p in params] for name in self.slots}
        self.step_count += 1
        tasks = []
        for i, (p, g) in enumerate(zip(params, grads)):
            if p.shape != g.shape:
                raise ValueError(f"parameter {i} has shape {p.shape} but its gradient {g.shape}")
            decay = self.weight_decay if p.ndim >= 2 else 0.0
            flat = [_flat(p), _flat(g)] + [_flat(self.state[name][i]) for name in self.slots]
            for start in range(0, flat[0].size, CHUNK):
                tasks.append(([a[start : start + CHUNK] for a in flat], decay))
        n_threads = max(1, min(int(self.n_threads), len(tasks) // 4))
        dtype = params[0].dtype if params else np.float32
        if len(self._scratch) < n_threads or self._scratch[0].dtype != dtype:
            self._scratch = [np.empty((2, CHUNK), dtype=dtype) for _ in range(n_threads)]
        if n_threads == 1:
            self._run(tasks, self._scratch[0])
            return
        share = -(-len(tasks) // n_threads)
        pool = worker_pool(n_threads - 1)
        futures = [
            pool.submit(self._run, tasks[k * share : (k + 1) * share], self._scratch[k])
            for k in range(1, n_threads)
        ]
        self._run(tasks[:share], self._scratch[0])
        for future in futures:
            future.result()

    def _run(self, tasks, scratch: np.ndarray) -> None:
        for arrays, decay in tasks:
            n = arrays[0].size
            self._update(*arrays, scratch[0, :n], scratch[1, :n], decay)

    def _update(self, *arrays) -> None:
        """Update one chunk: ``(w, g, *slots, s, t, decay)``; ``s``, ``t`` are scratch."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        """Return the optimizer's state: step count and per-parameter slot arrays."""
        return {"step_count": self.step_count, "state": {k: list(v) for k, v in self.state.items()}}

    def load_state_dict(self, state: dict) -> None:
        """Restore a state returned by `state_dict` (arrays are copied)."""
        self.step_count = int(state["step_count"])
        self.state = {k: [np.array(a, copy=True) for a in v] for k, v in state["state"].items()}
        if self.state and set(self.state) != set(self.slots):
            raise ValueError(f"optimizer state has slots {sorted(self.state)}, expected {list(self.slots)}")

    @staticmethod
    def _scaled_grad(w, g, s, decay: float, scale: float) -> np.ndarray:
        """``s = scale * (g + decay * w)``: the step direction, L2 term included, in scratch."""
        if decay:
            np.multiply(w, decay, out=s)
            s += g
            s *= scale
        else:
            np.multiply(g, scale, out=s)
        return s

    @staticmethod
    def _l2_grad(w, g, s, decay: float) -> np.ndarray:
        """``g + decay * w`` (in scratch ``s``), or ``g`` itself when there is no decay."""
        if not decay:
            return g
        np.multiply(w, decay, out=s)
        s += g
        return s


def _flat(a: np.ndarray) -> np.ndarray:
    """A 1-D view of a C-contiguous array (never a copy: the update must write through)."""
    if not a.flags.c_contiguous:
        raise ValueError("optimizer arrays must be C-contiguous to be updated in place")
    return a.reshape(-1)
