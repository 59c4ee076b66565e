"""Classification losses and metrics, each named after the reference whose formula it follows."""

import jax
import jax.numpy as jnp

COURSE_LOG_EPS = 1e-7  # the book's cross_entropy_error: -sum(log(y + 1e-7)) / N


def _pick(values: jax.Array, labels: jax.Array) -> jax.Array:
    """values[n, labels[n]] for each row n, as a one-hot product (a gather is slower on CPU)."""
    return jnp.sum(values * jax.nn.one_hot(labels, values.shape[-1], dtype=values.dtype), axis=-1)


def softmax_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Chainer F.softmax_cross_entropy: mean over the batch of -log_softmax(logits)[label]."""
    return -jnp.mean(_pick(jax.nn.log_softmax(logits, axis=-1), labels))


@jax.custom_vjp
def course_softmax_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """The book's SoftmaxWithLoss: value -mean(log(softmax(x)[t] + 1e-7)), gradient (softmax(x) - onehot(t)) / N.

    The book's backward ignores the 1e-7: the gradient is the exact one of the loss without it.
    The mean runs over every row (all axes but the last). Reverse-mode only (a custom VJP).
    """
    return _course_loss_fwd(logits, labels)[0]


def _course_loss_fwd(logits, labels):
    y = jax.nn.softmax(logits, axis=-1)
    return -jnp.mean(jnp.log(_pick(y, labels) + COURSE_LOG_EPS)), (y, labels)


def _course_loss_bwd(residuals, g):
    # book SoftmaxWithLoss.backward: dx = (self.y - self.t) / batch_size
    y, labels = residuals
    onehot = jax.nn.one_hot(labels, y.shape[-1], dtype=y.dtype)
    return g * (y - onehot) / (y.size // y.shape[-1]), None


course_softmax_cross_entropy.defvjp(_course_loss_fwd, _course_loss_bwd)


def accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Fraction of rows whose argmax equals the label (Chainer F.accuracy, the book's accuracy)."""
    return jnp.mean(jnp.argmax(logits, axis=-1) == labels)


def main_logits(model, outputs):
    """The logits a classifier is judged by: `outputs` itself, or for a model with several heads
    (outputs a dict of logits, e.g. GoogLeNet's) the one its `main_head` names."""
    return outputs[model.main_head] if isinstance(outputs, dict) else outputs


def heads_loss(model, outputs, labels: jax.Array, data_loss) -> tuple[jax.Array, jax.Array, dict[str, jax.Array]]:
    """(loss, main logits, {head: its data loss}) of a model's outputs, as the model defines its loss.

    A model returning one logits array: (data_loss(outputs, labels), outputs, {}). A model returning
    a dict of heads' logits also defines `main_head` (the head of the accuracy and of predictions)
    and `total_loss(head losses) -> loss`, e.g. GoogLeNet's 0.3 * (loss1 + loss2) + loss3; the
    dict's keys name the heads' losses in reports (Chainer's main/loss1 ... main/loss3).
    """
    if not isinstance(outputs, dict):
        return data_loss(outputs, labels), outputs, {}
    per_head = {name: data_loss(logits, labels) for name, logits in outputs.items()}
    return model.total_loss(per_head), main_logits(model, outputs), per_head
