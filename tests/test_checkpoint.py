"""jaxdl.train.checkpoint: orbax checkpoint folders of a pytree plus JSON metadata."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl.train.checkpoint import CheckpointError, restore_checkpoint, save_checkpoint


def tree(scale: float = 1.0):
    return {"params": {"w": jnp.arange(6.0).reshape(2, 3) * scale, "b": jnp.ones(3, jnp.bfloat16)},
            "step": jnp.array(7, jnp.int32), "rng": jax.random.key(3)}


def test_round_trip_is_bit_exact_with_meta_and_keys(tmp_path):
    save_checkpoint(tmp_path / "ck", tree(), {"iterator": {"epoch": 2}, "log": [1.5, None]})
    restored, meta = restore_checkpoint(tmp_path / "ck", tree(0.0))
    assert meta == {"iterator": {"epoch": 2}, "log": [1.5, None]}
    np.testing.assert_array_equal(restored["params"]["w"], np.arange(6.0).reshape(2, 3))
    assert restored["params"]["b"].dtype == jnp.bfloat16 and int(restored["step"]) == 7
    np.testing.assert_array_equal(jax.random.key_data(restored["rng"]), jax.random.key_data(jax.random.key(3)))


def test_saving_over_a_checkpoint_replaces_it_whole(tmp_path):
    save_checkpoint(tmp_path / "ck", tree(), {"n": 1})
    save_checkpoint(tmp_path / "ck", tree(2.0), {"n": 2})
    restored, meta = restore_checkpoint(tmp_path / "ck", tree(0.0))
    assert meta == {"n": 2} and float(restored["params"]["w"][1, 2]) == 10.0
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]  # no staging folder left


@pytest.mark.parametrize("target, message", [
    ({**tree(), "extra": jnp.zeros(2)}, r"missing leaf extra; was it written for another model"),
    ({**tree(), "params": {"w": jnp.zeros((3, 2)), "b": jnp.ones(3, jnp.bfloat16)}},
     r"leaf params.w is float32\[2, 3\], expected float32\[3, 2\]"),
    ({**tree(), "step": jnp.array(7.0)}, r"leaf step is int32\[\], expected float32\[\]"),
])
def test_a_target_of_another_structure_is_refused_naming_the_leaf(tmp_path, target, message):
    save_checkpoint(tmp_path / "ck", tree())
    with pytest.raises(CheckpointError, match=message):
        restore_checkpoint(tmp_path / "ck", target)


def test_a_folder_that_is_not_a_checkpoint_and_a_missing_one(tmp_path):
    (tmp_path / "folder").mkdir()
    with pytest.raises(CheckpointError, match=r"folder is not a checkpoint folder .* no state/ and meta/"):
        restore_checkpoint(tmp_path / "folder", tree())
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        restore_checkpoint(tmp_path / "nothing", tree())
