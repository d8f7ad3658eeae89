"""First-order optimizers that update parameter arrays in place, and learning-rate schedules.

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

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = [
    "CHUNK",
    "SCHEDULES",
    "OPTIMIZERS",
    "SGD",
    "Adam",
    "AdamW",
    "Momentum",
    "Nesterov",
    "Optimizer",
    "RMSProp",
    "Schedule",
]

#: Elements per chunk of an update: 4 float32 arrays of this size fit in a 512 KiB L2 cache.
CHUNK = 32768


class Optimizer:
    """Base class: runs `_update` over cache-sized chunks of every (param, grad) pair.

    Subclasses name their per-parameter state arrays in ``slots`` (each a zero array shaped
    like its parameter, created on the first step) and implement `_update` for one chunk.
    """

    slots: tuple[str, ...] = ()

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
        pool = _pool(n_threads - 1)
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


class SGD(Optimizer):
    """Plain stochastic gradient descent: ``w -= lr * (g + wd * w)``."""

    def _update(self, w, g, s, t, decay):
        w += self._scaled_grad(w, g, s, decay, -self.learning_rate)


class Momentum(Optimizer):
    """SGD with (heavy-ball) momentum, CS231n form: ``v = mu*v - lr*g; w += v``.

    For a constant learning rate this is the same trajectory as ``torch.optim.SGD(momentum=mu)``
    (whose buffer is ``-v / lr``).
    """

    slots = ("velocity",)

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.9, weight_decay: float = 0.0):
        super().__init__(learning_rate, weight_decay)
        self.momentum = momentum

    def _update(self, w, g, v, s, t, decay):
        step = self._scaled_grad(w, g, s, decay, -self.learning_rate)
        v *= self.momentum
        v += step
        w += v


class Nesterov(Momentum):
    """Nesterov accelerated gradient (Sutskever et al., 2013) in the "look-ahead free" form.

    ``v = mu*v - lr*g; w += mu*v - lr*g`` (equal to CS231n's ``w += -mu*v_prev + (1+mu)*v``
    and, for a constant learning rate, to ``torch.optim.SGD(momentum=mu, nesterov=True)``).
    """

    def _update(self, w, g, v, s, t, decay):
        step = self._scaled_grad(w, g, s, decay, -self.learning_rate)
        v *= self.momentum
        v += step
        w += step
        np.multiply(v, self.momentum, out=t)
        w += t


class RMSProp(Optimizer):
    """RMSProp (Tieleman & Hinton, 2012): ``c = rho*c + (1-rho)*g**2; w -= lr*g/(sqrt(c)+eps)``."""

    slots = ("square_avg",)

    def __init__(
        self, learning_rate: float = 0.01, decay: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0
    ):
        super().__init__(learning_rate, weight_decay)
        self.decay = decay
        self.eps = eps

    def _update(self, w, g, c, s, t, decay):
        g = self._l2_grad(w, g, s, decay)
        c *= self.decay
        np.multiply(g, g, out=t)
        t *= 1.0 - self.decay
        c += t
        np.sqrt(c, out=t)
        t += self.eps
        np.divide(g, t, out=t)
        t *= -self.learning_rate
        w += t


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction, L2 weight decay coupled to the gradient.

    ``m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g**2;
    w -= lr / (1-b1**t) * m / (sqrt(v) / sqrt(1-b2**t) + eps)``
    (the placement of ``eps`` matches ``torch.optim.Adam``).
    """

    slots = ("exp_avg", "exp_avg_sq")
    decoupled = False

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(learning_rate, weight_decay)
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps

    def _update(self, w, g, m, v, s, t, decay):
        if self.decoupled:
            if decay:
                w *= 1.0 - self.learning_rate * decay
        else:
            g = self._l2_grad(w, g, s, decay)
        step = self.step_count
        m *= self.beta1
        np.multiply(g, 1.0 - self.beta1, out=t)
        m += t
        v *= self.beta2
        np.multiply(g, g, out=t)
        t *= 1.0 - self.beta2
        v += t
        np.sqrt(v, out=t)
        t *= 1.0 / math.sqrt(1.0 - self.beta2**step)
        t += self.eps
        np.divide(m, t, out=t)
        t *= -self.learning_rate / (1.0 - self.beta1**step)
        w += t


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): ``w *= 1 - lr*wd`` first."""

    decoupled = True


#: Optimizer name (the MLP's ``optimizer`` setting) -> class.
OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "rmsprop": RMSProp,
    "adam": Adam,
    "adamw": AdamW,
}

#: Valid names of learning-rate schedules.
SCHEDULES = ("constant", "step", "cosine")


@dataclass(frozen=True)
class Schedule:
    """Learning rate as a function of the global step (a pure function: nothing to checkpoint
    but the step count).

    ``constant`` keeps ``base_lr``; ``step`` multiplies it by ``step_gamma`` every
    ``step_epochs`` epochs; ``cosine`` anneals it from ``base_lr`` to 0 over the epochs after
    warm-up (Loshchilov & Hutter, 2017, without restarts). During the first ``warmup_epochs``
    the rate ramps up linearly, ``base_lr * (step + 1) / warmup_steps`` (Goyal et al., 2017).
    """

    name: str
    base_lr: float
    total_epochs: int
    steps_per_epoch: int
    warmup_epochs: int = 0
    step_epochs: int = 10
    step_gamma: float = 0.1

    def __post_init__(self) -> None:
        if self.name not in SCHEDULES:
            raise ValueError(f"schedule={self.name!r} is not one of {', '.join(SCHEDULES)}")

    def __call__(self, step: int) -> float:
        warmup_steps = self.warmup_epochs * self.steps_per_epoch
        if step < warmup_steps:
            return self.base_lr * (step + 1) / warmup_steps
        if self.name == "constant":
            return self.base_lr
        if self.name == "step":
            epoch = step // self.steps_per_epoch
            return self.base_lr * self.step_gamma ** (epoch // self.step_epochs)
        total = self.total_epochs * self.steps_per_epoch - warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total))
        return 0.5 * self.base_lr * (1.0 + math.cos(math.pi * progress))


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _forget_pools_after_fork() -> None:
    # A forked child inherits the pool objects but not their threads: tasks would never run.
    global _POOLS_LOCK
    _POOLS.clear()
    _POOLS_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_pools_after_fork)


def _pool(workers: int) -> ThreadPoolExecutor:
    """A process-wide pool of ``workers`` threads, created on first use."""
    with _POOLS_LOCK:
        if workers not in _POOLS:
            _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="featpipe-optim")
        return _POOLS[workers]


def _flat(a: np.ndarray) -> np.ndarray:
    """A 1-D view of a C-contiguous array (never a copy: the update must write through)."""
    if not a.flags.c_contiguous:
        raise ValueError("optimizer arrays must be C-contiguous to be updated in place")
    return a.reshape(-1)
