"""experiments.bench_alexnet: the layer shapes its breakdown times, and the CLI on a tiny batch."""

import json

from experiments import bench_alexnet


def test_breakdown_times_each_convolution_at_its_input_size():
    # Chainer's Alex on 227x227: conv1 -> 55 -> pool 27; conv2 -> 27 -> pool 13; conv3-5 stay 13
    shapes = [(spec.name, shape) for spec, shape in bench_alexnet.conv_inputs(4)]
    assert shapes == [("conv1", (4, 227, 227, 3)), ("conv2", (4, 27, 27, 96)), ("conv3", (4, 13, 13, 256)),
                      ("conv4", (4, 13, 13, 384)), ("conv5", (4, 13, 13, 384))]


def test_cli_writes_its_json_into_the_out_folder(tmp_path, capsys):
    out = tmp_path / "nested" / "bench"
    bench_alexnet.main(["--skip-torch", "--batch", "2", "--warmup", "0", "--steps", "2", "--rounds", "1",
                        "--out", str(out)])
    saved = json.loads((out / "bench_alexnet.json").read_text())
    assert saved["batch"] == 2 and len(saved["jaxdl"]["step_times_s"]) == 2
    assert saved["jaxdl"]["xla_flops_per_step"] > 0 and saved["jaxdl"]["best_images_per_sec"] > 0
    assert saved["torch"] == {"skipped": "--skip-torch"}
    assert "PyTorch side skipped" in capsys.readouterr().err
