"""Bot settings: every value checked at start, one line naming the variable, no token in repr."""

from __future__ import annotations

import pytest
import torch

from bot.__main__ import share_cores
from bot.settings import Settings


@pytest.mark.parametrize(
    "env, message",
    [
        ({"EXPRESSIONS_BATCH_WINDOW_MS": "inf"}, "EXPRESSIONS_BATCH_WINDOW_MS must be a finite number"),
        ({"EXPRESSIONS_BATCH_WINDOW_MS": "nan"}, "EXPRESSIONS_BATCH_WINDOW_MS must be a finite number"),
        ({"EXPRESSIONS_BATCH_WINDOW_MS": "1e9"}, "EXPRESSIONS_BATCH_WINDOW_MS must be from 0 to 1000"),
        ({"EXPRESSIONS_BATCH_WINDOW_MS": "-1"}, "must be from 0 to 1000"),
        ({"EXPRESSIONS_BATCHING": "maybe"}, "EXPRESSIONS_BATCHING must be one of 1, true"),
        ({"EXPRESSIONS_QUEUE_DEPTH": "0"}, "EXPRESSIONS_QUEUE_DEPTH must be from 1"),
        ({"EXPRESSIONS_QUEUE_DEPTH": "2.5"}, "EXPRESSIONS_QUEUE_DEPTH must be a whole number"),
        ({"EXPRESSIONS_PER_USER": "1000"}, "EXPRESSIONS_PER_USER must be from 1 to 100"),
        ({"EXPRESSIONS_DRAW_TIMEOUT_S": "0"}, "EXPRESSIONS_DRAW_TIMEOUT_S must be from 1 to 600"),
        ({"EXPRESSIONS_SHUTDOWN_TIMEOUT_S": "inf"}, "EXPRESSIONS_SHUTDOWN_TIMEOUT_S must be a finite number"),
        ({"EXPRESSIONS_DEVICE": "tpu"}, "EXPRESSIONS_DEVICE must be one of auto, cpu, cuda"),
        ({"EXPRESSIONS_DEV_GUILD": "abc"}, "EXPRESSIONS_DEV_GUILD must be a whole number"),
        ({"EXPRESSIONS_WORKERS": "0"}, "EXPRESSIONS_WORKERS must be from 1 to 256"),
        ({"EXPRESSIONS_FAKE_DISCORD_URL": "http://discord.example.com"}, "must be on this machine"),
        ({"EXPRESSIONS_METRICS_PORT": "http"}, "EXPRESSIONS_METRICS_PORT must be a whole number"),
        ({"EXPRESSIONS_METRICS_PORT": "0"}, "EXPRESSIONS_METRICS_PORT must be from 1 to 65535"),
        ({"EXPRESSIONS_METRICS_PORT": "70000"}, "EXPRESSIONS_METRICS_PORT must be from 1 to 65535"),
        ({"EXPRESSIONS_METRICS_HOST": "a b"}, "EXPRESSIONS_METRICS_HOST must be an address"),
        ({"EXPRESSIONS_LOG_FORMAT": "xml"}, "EXPRESSIONS_LOG_FORMAT must be one of text, json"),
    ],
)
def test_bad_settings_are_one_clear_line(env, message):
    with pytest.raises(ValueError, match=message) as e:
        Settings.from_env(env)
    assert "\n" not in str(e.value)


def test_good_settings_parse():
    s = Settings.from_env(
        {"EXPRESSIONS_BATCHING": "off", "EXPRESSIONS_BATCH_WINDOW_MS": "2.5", "EXPRESSIONS_DEV_GUILD": " 123 "}
    )
    assert s.batching is False and s.batch_window_ms == 2.5 and s.dev_guild == 123
    assert s.metrics_port is None and s.metrics_host == "127.0.0.1" and s.log_format == "text", "metrics off by default"
    assert Settings.from_env({}) == Settings()


def test_the_token_never_shows_in_repr():
    s = Settings.from_env({"DISCORD_TOKEN": "secret-token-value"})
    assert s.token == "secret-token-value" and "secret-token-value" not in repr(s) and "secret" not in str(s)


def test_scaling_settings():
    s = Settings.from_env(
        {"EXPRESSIONS_BACKEND": "ray", "EXPRESSIONS_SHARD_COUNT": "4", "EXPRESSIONS_SHARD_IDS": "0-1,3"}
    )
    assert s.backend == "ray" and s.shard_ids == (0, 1, 3) and s.precision == "fp32"
    for env, message in [
        ({"EXPRESSIONS_BACKEND": "spark"}, "EXPRESSIONS_BACKEND must be one of local, ray"),
        ({"EXPRESSIONS_SHARD_IDS": "0"}, "EXPRESSIONS_SHARD_IDS needs EXPRESSIONS_SHARD_COUNT"),
        ({"EXPRESSIONS_SHARD_COUNT": "2", "EXPRESSIONS_SHARD_IDS": "1,2"}, "distinct shard numbers from 0 to 1"),
        ({"EXPRESSIONS_SHARD_COUNT": "2", "EXPRESSIONS_SHARD_IDS": "0,0"}, "distinct shard numbers"),
        ({"EXPRESSIONS_SHARD_COUNT": "2", "EXPRESSIONS_SHARD_IDS": "0-99999999999"}, "looks like 0,1 or 0-3"),
        ({"EXPRESSIONS_RAY_REPLICAS": "4", "EXPRESSIONS_RAY_MAX_REPLICAS": "2"}, "must be at least"),
        ({"EXPRESSIONS_PRECISION": "fp16"}, "EXPRESSIONS_PRECISION must be one of fp32, bf16"),
    ]:
        with pytest.raises(ValueError, match=message):
            Settings.from_env(env)


def test_generator_workers_share_out_the_cores():
    cores = torch.get_num_threads()
    s = Settings.from_env({"EXPRESSIONS_DEVICE": "cpu"})
    assert s.inference_workers() == cores and s.torch_threads() == 1, "a worker per core by default"
    s = Settings.from_env({"EXPRESSIONS_DEVICE": "cpu", "EXPRESSIONS_WORKERS": "1"})
    assert s.inference_workers() == 1 and s.torch_threads() == cores, "one worker gets every core"
    try:
        fixed = share_cores(Settings(device="cpu"))
        assert fixed.workers == cores and torch.get_num_threads() == 1
        assert fixed.inference_workers() == cores, "fixed before torch's threads were shared out"
    finally:
        torch.set_num_threads(cores)
