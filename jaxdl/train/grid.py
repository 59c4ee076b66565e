"""Many configs and seeds of one program: a single compile, vmapped over configs and seeds.

Configs that share a program differ only in their initial variables (for the course's
MultiLayerNet with `switchable=True`: activation, batch norm and weight init), so one
compiled program trains all of them. Random draws happen on the host, as the course makes
them: seed s is np.random.RandomState(s), which first draws the initial weights and then
the batch indices (`np.random.choice` per step), so a config without dropout trains on
exactly the weights and batches of the course's NumPy code after np.random.seed(s). Within
a seed the configs share weights' draws and batches, which lets vmap fold the config axis
into wider matmuls. Dropout masks come from jax.random.key(s) inside the program.
"""

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from jaxdl.data.sampling import course_indices
from jaxdl.train.compile import compile_and_run
from jaxdl.train.run import Data, History, Schedule, diverged_at, make_loop
from jaxdl.train.state import Batch, Task, TrainState
from jaxdl.train.step import EvalStepFn, make_eval_step, make_train_step

# Initial variables drawn from a seed's np.random.RandomState stream: one config's variables, or
# (for a program with a config axis) the configs' variables stacked on axis 0.
InitFn = Callable[[np.random.RandomState], Any]
SEED_AXES = ("vmap", "map")


class SeedInputs(NamedTuple):
    """What each seed feeds a grid program, stacked on a leading seed axis."""

    variables: Any  # [S, C, ...] initial variables of the C configs
    indices: np.ndarray  # [S, steps, batch_size] training indices
    dropout_keys: jax.Array  # [S]


def seed_inputs(init_configs: InitFn, seeds: Sequence[int], schedule: Schedule, n_train: int) -> SeedInputs:
    """For each seed s: rng = RandomState(s); variables = init_configs(rng); then the indices."""
    variables, indices = [], []
    for seed in seeds:
        rng = np.random.RandomState(seed)
        variables.append(init_configs(rng))
        indices.append(course_indices(rng, schedule.steps, n_train, schedule.batch_size))
    stacked = jax.tree.map(lambda *leaves: np.stack(leaves), *variables)
    keys = jax.vmap(jax.random.key)(jnp.asarray(seeds, jnp.uint32))
    return SeedInputs(stacked, np.stack(indices), keys)


def make_grid_program(task: Task, schedule: Schedule, on_eval: Callable[[jax.Array], None] | None = None,
                      eval_train: bool = False, config_axis: bool = True):
    """A jitted (SeedInputs, data) -> (final states [S, C], histories [S, C, ...]).

    With `config_axis=False` the program trains one config: its inputs' variables are [S, ...]
    and its outputs [S, ...] (the config axis is added and removed inside the program).
    Every config trains with `task`'s step on its seed's batches; `on_eval` and
    `eval_train` as in `make_run`. One loop (`make_loop`) steps all S x C states at once: the
    step is vmapped over configs (shared batch) inside a vmap over seeds (own batches), and
    between steps the stacked kernels are held as `KernelMajor` lays them out.
    """
    schedule.check()
    train_step, eval_step = make_train_step(task), make_eval_step(task)
    step_all = jax.vmap(jax.vmap(train_step, in_axes=(0, None)), in_axes=(0, 0))
    eval_batches = jax.vmap(jax.vmap(eval_step, in_axes=(0, None)), in_axes=(0, 0))
    eval_shared = jax.vmap(jax.vmap(eval_step, in_axes=(0, None)), in_axes=(0, None))

    def program(inputs: SeedInputs, data: Data) -> tuple[TrainState, History]:
        if not config_axis:
            one_config = inputs._replace(variables=jax.tree.map(lambda leaf: leaf[:, None], inputs.variables))
            return jax.tree.map(lambda a: a[:, 0], program_with_configs(one_config, data))
        return program_with_configs(inputs, data)

    def program_with_configs(inputs: SeedInputs, data: Data) -> tuple[TrainState, History]:
        if inputs.indices.shape[1:] != (schedule.steps, schedule.batch_size):
            raise ValueError(f"indices have shape {inputs.indices.shape}; the schedule needs "
                             f"(seeds, steps, batch_size) = (S, {schedule.steps}, {schedule.batch_size})")
        states = jax.vmap(lambda variables, key: jax.vmap(lambda v: task.state_from(v, key))(variables))(
            inputs.variables, inputs.dropout_keys)
        layout = KernelMajor(states)
        seeds, configs = jax.tree.leaves(inputs.variables)[0].shape[:2]
        loop = make_loop(step_all, eval_batches, in_chunks(eval_shared, EVAL_ROWS // (seeds * configs)), schedule,
                         on_eval, eval_train, layout.to_carry, layout.from_carry)
        final, history = loop(states, jnp.swapaxes(inputs.indices, 0, 1), data)
        return final, jax.tree.map(lambda a: jnp.moveaxis(a, 0, -1), history)  # [S, C, steps or evals]

    return jax.jit(program)


class KernelMajor:
    """Carries stacked matrices [S, C, in, out] (kernels and their optimizer slots) as [S, in, C*out].

    With the configs folded into one matmul per seed, x [S, B, in] . W reads W as
    [S, in, C*out], and the weight gradient (`jaxdl.nn.weight_layout_matmul`) comes out that
    way; carried as [S, C, in, out], XLA on CPU re-lays every kernel twice per step.
    """

    def __init__(self, like: TrainState):
        self.shapes = jax.tree.map(jnp.shape, (like.params, like.opt_state))

    def to_carry(self, state: TrainState) -> TrainState:
        return self._relayout(
            state, lambda m, s, c, n_in, n_out: jnp.transpose(m, (0, 2, 1, 3)).reshape(s, n_in, c * n_out))

    def from_carry(self, carry: TrainState) -> TrainState:
        return self._relayout(
            carry, lambda m, s, c, n_in, n_out: jnp.transpose(m.reshape(s, n_in, c, n_out), (0, 2, 1, 3)))

    def _relayout(self, state: TrainState, relayout: Callable[..., jax.Array]) -> TrainState:
        """`relayout(matrix, S, C, in, out)` applied to every stacked matrix of params and opt_state."""
        def each(leaf, shape):
            return relayout(leaf, *shape) if len(shape) == 4 else leaf

        params, opt_state = jax.tree.map(each, (state.params, state.opt_state), self.shapes)
        return state._replace(params=params, opt_state=opt_state)


EVAL_ROWS = 120_000  # networks x examples per piece of a whole-set evaluation (120 networks: 1000 examples)


def in_chunks(eval_fn: EvalStepFn, max_size: int = 1000) -> EvalStepFn:
    """`eval_fn` (mean metrics) over a large batch as the mean over equal pieces of it.

    The pieces (the largest divisor of the batch size up to `max_size`) run one after another,
    so the S x C networks' activations of one piece stay in cache (a 10,000-image test set for
    120 networks of width 40 is 192 MB per layer at once); with equal pieces the mean of the
    pieces' means is the batch mean. A batch with no divisor near `max_size` runs whole. The
    grid sizes pieces to EVAL_ROWS network-examples, so a few networks evaluate whole sets whole
    (see experiments/bench_grid.py and bench_course.py for the timings behind the choice).
    """
    def chunked(state: TrainState, batch: Batch) -> dict[str, jax.Array]:
        n = batch.labels.shape[0]
        size = max(d for d in range(1, min(n, max_size) + 1) if n % d == 0)
        if size == n or 8 * size < min(n, max_size):  # small enough already, or only tiny pieces divide it
            return eval_fn(state, batch)
        pieces = jax.tree.map(lambda a: a.reshape(n // size, size, *a.shape[1:]), batch)
        per_piece = jax.lax.map(lambda piece: eval_fn(state, piece), pieces)
        return jax.tree.map(lambda metric: metric.mean(axis=0), per_piece)

    return chunked


def _seeds_in_turn(seeds_program: Callable, blocks: int) -> Callable:
    """A jitted (inputs [S], data) -> outputs [S] that runs `seeds_program` on one seed at a time
    (lax.map), in `blocks` independent blocks of S / blocks seeds (vmapped, so a runs-split over
    `blocks` devices gives each device its block)."""
    def one(seed_inputs, data):
        return jax.tree.map(lambda a: a[0], seeds_program(jax.tree.map(lambda a: a[None], seed_inputs), data))

    def in_turn(inputs, data):
        return jax.lax.map(lambda seed_inputs: one(seed_inputs, data), inputs)

    if blocks == 1:
        return jax.jit(in_turn)

    def in_blocks(inputs, data):
        split = jax.tree.map(lambda a: a.reshape(blocks, a.shape[0] // blocks, *a.shape[1:]), inputs)
        outputs = jax.vmap(in_turn, in_axes=(0, None))(split, data)
        return jax.tree.map(lambda a: a.reshape(-1, *a.shape[2:]), outputs)

    return jax.jit(in_blocks)


class SeededRuns(NamedTuple):
    history: History  # NumPy arrays with a leading seed axis
    diverged_at: np.ndarray  # [S] the step where each seed's loss or parameters went non-finite, 0 if never
    compile_s: float  # tracing, lowering and compiling the program
    run_s: float


def train_seeds(task: Task, schedule: Schedule, data: Data, init: InitFn, seeds: Sequence[int],
                on_eval: Callable[[jax.Array], None] | None = None, eval_train: bool = False,
                seed_axis: str = "vmap", mesh: Mesh | None = None) -> SeededRuns:
    """`task` trained from each seed s as the course does after np.random.seed(s): `init` draws one
    config's variables from RandomState(s), then the batches are drawn from it (`seed_inputs`).

    seed_axis "vmap" batches the seeds (wider matmuls; faster for the MLPs); "map" runs them one
    after another (lax.map) inside the same program (for convolutions on CPU, where vmap turns
    them into grouped ones). Both give the same runs up to float rounding.
    With a `mesh` of D devices the seeds are split over the devices (`compile_and_run`); "map"
    then runs each device's block of seeds one after another (a vmap over the D blocks of a lax.map).
    A seed whose loss or parameters go non-finite is recorded (`diverged_at`), not raised.
    """
    if seed_axis not in SEED_AXES:
        raise ValueError(f"unknown seed_axis {seed_axis!r}; choose one of {SEED_AXES}")
    inputs = seed_inputs(init, seeds, schedule, data.train_images.shape[0])
    program = make_grid_program(task, schedule, on_eval, eval_train, config_axis=False)
    if seed_axis == "map":
        program = _seeds_in_turn(program, 1 if mesh is None else mesh.size)
    (final, history), compile_s, run_s = compile_and_run(program, inputs, data, mesh=mesh)
    history = jax.tree.map(np.asarray, history)
    return SeededRuns(history, diverged_at(history.step_loss, final.params), compile_s, run_s)
