"""jaxdl.data.pipeline: the loader preprocesses as train_imagenet does, and prefetch keeps order and content
whether threads or processes load."""

import numpy as np
import pytest
from PIL import Image

from jaxdl.data.imagelist import Example, ImageListDataset
from jaxdl.data.pipeline import ImageListLoader, augmentation_rngs, prefetch


@pytest.fixture(scope="module")
def image_list(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    examples = []
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(folder / f"{i}.png")
        examples.append(Example(f"{i}.png", i % 3))
    mean = rng.uniform(0, 255, (40, 40, 3)).astype(np.float32)
    return examples, folder, mean


def test_loader_matches_the_image_list_dataset_with_train_imagenets_rngs(image_list):
    examples, folder, mean = image_list
    loader = ImageListLoader(examples, folder, mean, 32, seed=5)
    indices = np.array([4, 0, 2])
    images, labels = loader(indices, 7)
    expected = ImageListDataset(examples, folder, mean, 32).batch(indices, augmentation_rngs(5, 7, 3))
    np.testing.assert_array_equal(images, expected[0])
    np.testing.assert_array_equal(labels, expected[1])
    centre = ImageListLoader(examples, folder, mean, 32, train=False)(indices, 7)[0]
    np.testing.assert_array_equal(centre, ImageListDataset(examples, folder, mean, 32).batch(indices)[0])


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_prefetch_yields_every_batch_in_request_order(image_list, kind):
    examples, folder, mean = image_list
    loader = ImageListLoader(examples, folder, mean, 32)
    requests = [(np.array([i % 6, (i + 1) % 6]), i) for i in range(7)]
    put_calls = []
    got = list(prefetch(loader, requests, workers=2, kind=kind, depth=3,
                        put=lambda batch: put_calls.append(1) or batch))
    assert len(got) == 7 and len(put_calls) == 7
    for (indices, iteration), (images, labels) in zip(requests, got, strict=True):
        expected = loader(indices, iteration)
        np.testing.assert_array_equal(images, expected[0])
        np.testing.assert_array_equal(labels, expected[1])


def test_prefetch_refuses_bad_settings(image_list):
    with pytest.raises(ValueError, match="kind"):
        next(prefetch(lambda i, t: None, [(np.arange(1), 0)], kind="fiber"))
    with pytest.raises(ValueError, match="depth"):
        next(prefetch(lambda i, t: None, [(np.arange(1), 0)], depth=0))
