"""Dtype discipline for the optimizers: compute in at least float32, store in the parameters' dtype."""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax


def map_leaves(rule: Callable[..., tuple[jax.Array, ...]], *trees: optax.Updates) -> tuple[optax.Updates, ...]:
    """Run `rule` on the matching leaves of `trees` and return one tree per input.

    The rule gets each leaf in at least float32 (bfloat16/float16 are widened, float32 and
    float64 are kept) and returns as many arrays as it got; output i is cast back to the dtype
    of input i. So `rule(g, *state) -> (update, *new_state)` keeps updates in the gradients'
    dtype and the state in its own dtype, whatever the dtype of the (possibly traced)
    hyperparameters the rule closes over.
    """
    treedef = jax.tree.structure(trees[0])
    columns = [treedef.flatten_up_to(tree) for tree in trees]
    outputs = []
    for leaves in zip(*columns, strict=False):
        wide = [x.astype(jnp.promote_types(x.dtype, jnp.float32)) for x in leaves]
        results = rule(*wide)
        outputs.append([r.astype(x.dtype) for r, x in zip(results, leaves, strict=True)])
    if not outputs:
        return tuple(treedef.unflatten([]) for _ in trees)
    return tuple(treedef.unflatten(list(column)) for column in zip(*outputs, strict=False))


def keep_dtypes(tx: optax.GradientTransformation) -> optax.GradientTransformation:
    """`tx` with its updates cast to the gradients' dtypes and its new state to the old state's dtypes.

    optax's built-ins promote bfloat16 leaves when a hyperparameter is a float32 array (under
    inject_hyperparams, or traced); this keeps every optimizer's state dtype-stable (a valid
    lax.scan carry) and its updates in the parameters' dtype.
    """

    def update_fn(
        updates: optax.Updates, state: optax.OptState, params: optax.Params | None = None
    ) -> tuple[optax.Updates, optax.OptState]:
        new_updates, new_state = tx.update(updates, state, params)
        cast = lambda new, old: jnp.asarray(new, jnp.result_type(old))  # noqa: E731
        return jax.tree.map(cast, new_updates, updates), jax.tree.map(cast, new_state, state)

    return optax.GradientTransformation(tx.init, update_fn)
