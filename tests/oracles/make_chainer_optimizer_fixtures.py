"""Record Chainer 7.8.1 optimizer trajectories for tests/test_optim_chainer.py.

Run with the Chainer venv (numpy < 2):
    /work/chainer-venv/bin/python tests/oracles/make_chainer_optimizer_fixtures.py

A chainer.Link holds W (3,4) and b (5,) float32 parameters with seeded initial values. Each
configuration gets a fresh copy of the link, its optimizer (plus hooks), and the same 30 seeded
gradients, assigned to param.grad before each optimizer.update(). Saved to
tests/fixtures/chainer_optimizers.npz: init/<p>, grads/<p> (30, ...), traj/<config>/<p>
(30, ...: the parameters after each update), configs (JSON: optimizer class, its keyword
arguments, hooks) and chainer_version.
"""

import json
import pathlib

import chainer
import numpy as np
from chainer import optimizer_hooks, optimizers

STEPS = 30
OUT = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "chainer_optimizers.npz"

# name -> (optimizer class, keyword arguments, [(hook class, rate)])
CONFIGS = {
    "sgd": ("SGD", {}, []),
    "momentum": ("MomentumSGD", {}, []),
    "nesterov": ("NesterovAG", {}, []),
    "adagrad": ("AdaGrad", {}, []),
    "adagrad_eps1e-7": ("AdaGrad", {"eps": 1e-7}, []),
    "rmsprop": ("RMSprop", {}, []),
    "rmsprop_eps1e-7": ("RMSprop", {"eps": 1e-7}, []),
    "adam": ("Adam", {}, []),
    "adam_eps1e-7": ("Adam", {"eps": 1e-7}, []),
    "momentum_custom": ("MomentumSGD", {"lr": 0.05, "momentum": 0.5}, []),
    "adam_custom": ("Adam", {"alpha": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-3}, []),
    "sgd_weightdecay": ("SGD", {}, [("WeightDecay", 1e-2)]),
    "sgd_lasso": ("SGD", {}, [("Lasso", 1e-3)]),
    "momentum_weightdecay": ("MomentumSGD", {}, [("WeightDecay", 1e-2)]),
    "momentum_lasso": ("MomentumSGD", {}, [("Lasso", 1e-3)]),
}


class TwoParams(chainer.Link):
    def __init__(self, w: np.ndarray, b: np.ndarray):
        super().__init__()
        with self.init_scope():
            self.W = chainer.Parameter(w.copy())
            self.b = chainer.Parameter(b.copy())


def main() -> None:
    rng = np.random.RandomState(0)
    init = {"W": rng.normal(0, 0.1, (3, 4)).astype(np.float32), "b": rng.normal(0, 0.1, 5).astype(np.float32)}
    # O(1) gradients on W, O(1e-3) on b, where sqrt(h) is small enough for eps to show
    grads = {
        "W": rng.normal(0, 1, (STEPS, 3, 4)).astype(np.float32),
        "b": rng.normal(0, 1e-3, (STEPS, 5)).astype(np.float32),
    }
    arrays = {f"init/{k}": v for k, v in init.items()}
    arrays.update({f"grads/{k}": v for k, v in grads.items()})
    for name, (cls, kwargs, hooks) in CONFIGS.items():
        link = TwoParams(init["W"], init["b"])
        opt = getattr(optimizers, cls)(**kwargs)
        opt.setup(link)
        for hook, rate in hooks:
            opt.add_hook(getattr(optimizer_hooks, hook)(rate))
        traj = {k: [] for k in init}
        for t in range(STEPS):
            for key, param in (("W", link.W), ("b", link.b)):
                param.grad = grads[key][t].copy()
            opt.update()
            for key, param in (("W", link.W), ("b", link.b)):
                traj[key].append(param.array.copy())
        arrays.update({f"traj/{name}/{k}": np.stack(v) for k, v in traj.items()})
    configs = {name: {"optimizer": c, "kwargs": kw, "hooks": h} for name, (c, kw, h) in CONFIGS.items()}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    meta = {"configs": np.array(json.dumps(configs)), "chainer_version": np.array(chainer.__version__)}
    np.savez_compressed(OUT, **meta, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes), chainer {chainer.__version__}, {len(CONFIGS)} configs")


if __name__ == "__main__":
    main()
