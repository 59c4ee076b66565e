"""Comparing optimizers properly: tuned on a validation split, every trial x seed of a workload in one program.

    python -m experiments.compare_optimizers --workloads mnist_mlp --optimizers optax:adamw chainer:momentum \
        --trials 8 --seeds 3 --out runs/compare

Modules, one job each: `specs` (optimizers and schedules by name), `spaces` (search spaces and
quasi-random trials), `workloads` (model, data and split, budget, target), `sweep` (the one compiled
program per workload), `stats` (confidence intervals, time to target, selection), `profiles`
(AlgoPerf performance profiles and scores), `report` (leaderboard.md and plots), `experiment`
(the whole comparison: check, load, run, summarize, write).
"""
