"""Batch samplers that run inside compiled programs."""

import jax


def with_replacement(key: jax.Array, step: jax.Array | int, n: int, batch_size: int) -> jax.Array:
    """The course's `np.random.choice(train_size, batch_size)`: indices drawn with replacement.

    The draw for `step` depends only on (key, step), so a run can be replayed or resumed
    from any step.
    """
    return jax.random.randint(jax.random.fold_in(key, step), (batch_size,), 0, n)
