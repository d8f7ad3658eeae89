"""Universal approximation, constructively: bumps built from four ReLUs, summed.

Four shifted ReLUs with output weights ``+s, -s, -s, +s`` make a trapezoid "bump": zero, a ramp
up, flat at the chosen height, a ramp down, zero. One hidden layer with ``4K`` units can thus
place ``K`` bumps side by side, each as high as the target function at its centre, and the
approximation error shrinks as the bumps narrow. Nothing is trained: every weight is computed.
A network trained by gradient descent on the same kind of task does not find this solution;
its units are ramps spread to suit the data, shown beside the construction.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from featpipe.nn.layers import affine_forward, relu_forward

from .figures import save_figure
from .regression import fit_relu_regressor
from .result import DemoResult

#: Interval on which functions are approximated.
DOMAIN = (-np.pi, np.pi)


def target_function(x: np.ndarray) -> np.ndarray:
    """The function the bumps approximate: ``sin(x) + 0.5 sin(3x)`` (wiggly but smooth)."""
    return np.sin(x) + 0.5 * np.sin(3.0 * x)


def bump_units(left: float, right: float, height: float, ramp: float,
               outer: tuple[bool, bool] = (False, False)) -> tuple[np.ndarray, np.ndarray]:
    """Kinks and output weights of the four ReLUs whose sum is one bump.

    The bump ``sum_j v_j relu(x - k_j)`` is 0 left of the rising ramp, climbs linearly to
    ``height`` over a ramp of width ``ramp`` centred on ``left``, stays flat, and falls back to 0
    over a ramp centred on ``right``. ``outer[0]`` (``outer[1]``) moves the rising (falling) ramp
    just outside ``[left, right]`` so the bump is at full height on the whole interval, which
    is what the first and last bumps of a row need at the ends of the domain.

    Returns
    -------
    kinks : ndarray, shape (4,)
        Where each ReLU switches on (its input weight is 1 and its bias ``-kink``).
    weights : ndarray, shape (4,)
        Output weights ``height / ramp * (1, -1, -1, 1)``.
    """
    rise = left - ramp if outer[0] else left - ramp / 2
    fall = right if outer[1] else right - ramp / 2
    kinks = np.array([rise, rise + ramp, fall, fall + ramp])
    weights = (height / ramp) * np.array([1.0, -1.0, -1.0, 1.0])
    return kinks, weights


def bump_network(func, n_bumps: int, *, domain=DOMAIN, ramp_fraction: float = 0.2):
    """Weights of a one-hidden-layer ReLU network that sums ``n_bumps`` bumps approximating ``func``.

    The domain is cut into ``n_bumps`` equal bins; bump ``k`` covers bin ``k`` at the height
    ``func(centre of bin k)``. Neighbouring ramps share their interval, so where one bump falls
    the next rises and their sum slides linearly from one height to the next.

    Returns
    -------
    w1 : ndarray, shape (1, 4 * n_bumps)
    b1 : ndarray, shape (4 * n_bumps,)
    w2 : ndarray, shape (4 * n_bumps, 1)
    b2 : ndarray, shape (1,)
    """
    edges = np.linspace(domain[0], domain[1], n_bumps + 1)
    width = edges[1] - edges[0]
    kinks, weights = [], []
    for k in range(n_bumps):
        centre = 0.5 * (edges[k] + edges[k + 1])
        k_kinks, k_weights = bump_units(edges[k], edges[k + 1], float(func(centre)), ramp_fraction * width,
                                        outer=(k == 0, k == n_bumps - 1))
        kinks.append(k_kinks)
        weights.append(k_weights)
    kinks, weights = np.concatenate(kinks), np.concatenate(weights)
    return np.ones((1, kinks.size)), -kinks, weights[:, None], np.zeros(1)


def network_forward(x: np.ndarray, w1, b1, w2, b2) -> np.ndarray:
    """Output (N,) of the one-hidden-layer ReLU network for scalar inputs ``x`` (N,)."""
    hidden, _ = relu_forward(affine_forward(x[:, None], w1, b1)[0])
    return affine_forward(hidden, w2, b2)[0][:, 0]


def run(
    out_dir: Path,
    *,
    seed: int = 0,
    bump_counts: tuple[int, ...] = (4, 8, 16, 32, 64, 128),
    trained_units: int = 16,
    train_steps: int = 3000,
) -> DemoResult:
    """Approximate `target_function` with growing sums of bumps; train a ReLU net on sin(x).

    Parameters
    ----------
    out_dir : Path
        Folder that receives ``universal-approximation.png``.
    seed : int
        Seeds the trained network's initialization (the bump construction has no randomness).
    bump_counts : tuple of int
        Numbers of bumps to try. Each bump is as high as f at its bin's centre, so the error is
        at most about ``max|f'| * bin width / 2`` and halves with each doubling; very coarse
        counts can beat that bound by luck (for this f, 2 bumps happen to do better than 4,
        hence the default starts at 4).
    trained_units : int
        Hidden units of the trained network (compared with ``trained_units // 4`` bumps,
        which use the same number of ReLUs).
    train_steps : int
        Full-batch Adam steps for the trained network.
    """
    bump_counts = tuple(sorted(set(int(k) for k in bump_counts)))
    x = np.linspace(*DOMAIN, 2001)
    f = target_function(x)
    approximations, max_error, rms_error = {}, [], []
    for k in bump_counts:
        approx = network_forward(x, *bump_network(target_function, k))
        approximations[k] = approx
        max_error.append(float(np.abs(approx - f).max()))
        rms_error.append(float(np.sqrt(np.mean((approx - f) ** 2))))

    rng = np.random.default_rng(seed)
    x_train = np.linspace(*DOMAIN, 200)
    trained = fit_relu_regressor(x_train, np.sin(x_train), hidden=trained_units, steps=train_steps,
                                 learning_rate=0.01, rng=rng)
    trained_rms = float(np.sqrt(np.mean((trained.predict(x) - np.sin(x)) ** 2)))
    same_units_bumps = max(1, trained_units // 4)
    bumps_on_sin = network_forward(x, *bump_network(np.sin, same_units_bumps))
    bumps_on_sin_rms = float(np.sqrt(np.mean((bumps_on_sin - np.sin(x)) ** 2)))
    kinks = trained.kinks()
    inside = int(np.sum((kinks > DOMAIN[0]) & (kinks < DOMAIN[1])))

    figure = Path(out_dir) / "universal-approximation.png"
    _plot(x, f, approximations, bump_counts, max_error, rms_error, trained, trained_rms,
          same_units_bumps, bumps_on_sin_rms, figure)

    numbers = {
        "bump_counts": list(bump_counts),
        "relu_units": [4 * k for k in bump_counts],
        "max_abs_error": max_error,
        "rms_error": rms_error,
        "trained_sin": {
            "hidden_units": trained_units,
            "steps": train_steps,
            "final_train_mse": trained.losses[-1],
            "rms_error": trained_rms,
            "kinks_inside_domain": inside,
            f"bump_construction_rms_with_{4 * same_units_bumps}_units": bumps_on_sin_rms,
        },
    }
    claims = {
        "the bump sum's max error falls strictly as bumps are added": bool(np.all(np.diff(max_error) < 0)),
        "the bump sum's RMS error falls strictly as bumps are added": bool(np.all(np.diff(rms_error) < 0)),
        "the trained network fits sin(x) (RMS error < 0.05)": trained_rms < 0.05,
    }
    return DemoResult("universal-approximation", numbers, claims, [figure])


def _plot(x, f, approximations, bump_counts, max_error, rms_error, trained, trained_rms,
          same_units_bumps, bumps_on_sin_rms, path: Path) -> None:
    fig, axes = plt.subplots(2, 3, figsize=(13.0, 7.6))
    (units_ax, bump_ax, error_ax), (sum_ax, fit_ax, parts_ax) = axes

    kinks, weights = bump_units(-1.0, 1.0, 1.0, 0.5)
    xs = np.linspace(-2.5, 2.5, 501)
    parts = weights * np.maximum(xs[:, None] - kinks, 0.0)
    for j in range(4):
        shift = f"x + {-kinks[j]:.2f}" if kinks[j] < 0 else f"x − {kinks[j]:.2f}"
        units_ax.plot(xs, parts[:, j], label=f"{weights[j]:+.0f} · ReLU({shift})")
    units_ax.set_ylim(-5, 5)
    units_ax.set_title("four shifted, scaled ReLUs (weights computed)", fontsize=10)
    units_ax.legend(fontsize=7, loc="upper left")
    bump_ax.plot(xs, parts.sum(axis=1), color="k", lw=2)
    for kink in kinks:
        bump_ax.axvline(kink, color="gray", lw=0.6, ls=":")
    bump_ax.set_title("their sum: a bump of height 1 on [−1, 1]", fontsize=10)
    bump_ax.set_ylim(-0.2, 1.3)

    error_ax.loglog(bump_counts, max_error, "o-", label="max |error|")
    error_ax.loglog(bump_counts, rms_error, "s-", label="RMS error")
    error_ax.set_xticks(bump_counts, [str(k) for k in bump_counts])
    error_ax.minorticks_off()
    error_ax.set_xlabel("number of bumps (4 ReLUs each)")
    error_ax.set_title("error of the bump sum shrinks as bumps are added", fontsize=10)
    error_ax.legend(fontsize=8)
    error_ax.grid(alpha=0.3, which="both")

    sum_ax.plot(x, f, color="k", lw=2.5, label="f(x) = sin x + 0.5 sin 3x")
    shown = [k for k in bump_counts if k in (4, 16)] or list(bump_counts[:2])
    for k in shown:
        sum_ax.plot(x, approximations[k], lw=1.2, label=f"sum of {k} bumps ({4 * k} ReLUs)")
    sum_ax.set_title("bump sums approximating f", fontsize=10)
    sum_ax.legend(fontsize=7, loc="lower right")

    fit_ax.plot(x, np.sin(x), color="k", lw=2.5, label="sin x")
    fit_ax.plot(x, trained.predict(x), color="C3", lw=1.3, label=f"trained, {trained.w1.shape[1]} ReLUs: RMS {trained_rms:.3f}")
    fit_ax.plot(x, network_forward(x, *bump_network(np.sin, same_units_bumps)), color="C0", lw=1.0, ls="--",
                label=f"{same_units_bumps} bumps, {4 * same_units_bumps} ReLUs: RMS {bumps_on_sin_rms:.3f}")
    fit_ax.set_title("a ReLU network trained on sin x (Adam, squared error)", fontsize=10)
    fit_ax.legend(fontsize=7, loc="upper left")

    contributions = trained.unit_outputs(x)
    parts_ax.plot(x, contributions, lw=1.0)
    inside = (trained.kinks() > x[0]) & (trained.kinks() < x[-1])
    parts_ax.plot(trained.kinks()[inside], np.zeros(inside.sum()), "k|", ms=10)
    parts_ax.set_title("its units' contributions: ramps at scattered kinks (|),\nnot groups of four forming bumps", fontsize=10)
    for ax in (units_ax, bump_ax, sum_ax, fit_ax, parts_ax):
        ax.axhline(0, color="gray", lw=0.5)
        ax.set_xlabel("x")
    fig.suptitle("Universal approximation by construction (bumps from ReLUs) versus by training")
    fig.tight_layout()
    save_figure(fig, path)
