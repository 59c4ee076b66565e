"""Every module in experiments/ is a CLI: `--help` works, names `python -m experiments.NAME`, shows
defaults, and every flag has help text; jaxdl.cli imports no JAX (the first line comes at once)."""

import argparse
import importlib
import pkgutil
import subprocess
import sys

import pytest

import experiments
from jaxdl import cli

CLIS = sorted(m.name for m in pkgutil.iter_modules(experiments.__path__))


def test_experiments_holds_only_the_known_clis():
    assert CLIS == ["batch_norm", "bench_alexnet", "bench_compare", "bench_course", "bench_grid", "bench_optimizers",
                    "benchmark", "compare_optimizers", "compute_mean",
                    "convnets", "optimizers", "overfitting", "train_imagenet", "vanishing_gradient"]


@pytest.mark.parametrize("name", CLIS)
def test_help_names_the_command_and_every_flag_has_help(name, capsys, monkeypatch):
    module = importlib.import_module(f"experiments.{name}")
    parsers = []
    parse = argparse.ArgumentParser.parse_args

    def recording(self, args=None, namespace=None):
        parsers.append(self)
        return parse(self, args, namespace)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", recording)
    with pytest.raises(SystemExit) as exit_:
        (getattr(module, "parse_args", None) or module.main)(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: python -m experiments.{name} ")
    (parser,) = parsers
    undocumented = [action.option_strings or action.dest for action in parser._actions if not action.help]
    assert undocumented == []
    with_defaults = [a for a in parser._actions if a.option_strings and a.default not in (None, argparse.SUPPRESS)
                     and a.help != argparse.SUPPRESS
                     and not isinstance(a, (argparse._StoreTrueAction, argparse._HelpAction))]
    for action in with_defaults:
        assert f"(default: {action.default})" in " ".join(text.split()), action.option_strings


def test_cli_module_starts_without_jax():
    code = "import sys, jaxdl.cli, experiments.vanishing_gradient; print('jax' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "False"


def test_config_from_takes_flags_of_the_same_names_and_keeps_defaults_for_none():
    from jaxdl.course.vanishing_gradient import Config

    args = argparse.Namespace(steps=30, hidden=[8, 4], data_dir=None, out="ignored", lr=0.5)
    config = cli.config_from(args, Config)
    assert (config.steps, config.hidden, config.lr, config.data_dir, config.eval_every) == (30, (8, 4), 0.5, None, 100)
