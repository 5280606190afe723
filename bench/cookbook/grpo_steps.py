"""GRPO steps driven by tinker-cookbook's own RL loop (tinker_cookbook.rl.train.main) against a Tinker endpoint.

The benchmark's peer: the loop, the env (the math_rl recipe's MathEnv), its grader, the Qwen3 renderer and the
advantage computation are the cookbook's; this file only supplies a dataset from a local JSONL file, a tokenizer
from a local folder and a config with everything that would need the network turned off.

Protocol: JSON lines on stdout ({"type":"step",…} per step, then one {"type":"summary",…}); everything the
cookbook and the SDK print goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any, TextIO

for _name, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "WANDB_MODE": "disabled",
}.items():
    os.environ.setdefault(_name, _value)

SAMPLING_KEY = "time/sampling"
TRAINING_KEY = "time/do_train_step_and_get_sampling_client"
TOTAL_KEY = "time/total"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", required=True, help="the Tinker endpoint, e.g. http://127.0.0.1:18555")
    parser.add_argument("--dataset", required=True, help='JSONL of {"question","answer"}')
    parser.add_argument("--tokenizer", required=True, help="folder with tokenizer.json and tokenizer_config.json")
    parser.add_argument("--base-model", help="the model to train (default: the endpoint's first supported model)")
    parser.add_argument("--batch-size", type=int, required=True, help="prompts per step (B)")
    parser.add_argument("--group-size", type=int, required=True, help="samples per prompt (G)")
    parser.add_argument("--max-tokens", type=int, required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0, help="shuffles the problems")
    parser.add_argument("--lora-rank", type=int, default=8)
    parser.add_argument("--loss-fn", choices=["importance_sampling", "ppo"], default="importance_sampling")
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--renderer", default="qwen3")
    parser.add_argument("--log-dir", help="the cookbook's log_path (default: a fresh temporary folder)")
    return parser.parse_args(argv)


def take_stdout() -> TextIO:
    """The protocol stream: the real stdout. Anything else written to fd 1 afterwards lands on stderr."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return protocol


class Protocol:
    def __init__(self, stream: TextIO):
        self._stream = stream
        self._lock = threading.Lock()

    def emit(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._stream.write(json.dumps(event) + "\n")


@dataclass(frozen=True)
class Problem:
    question: str
    answer: str


def load_problems(path: str, seed: int) -> list[Problem]:
    problems = []
    for line in Path(path).read_text(encoding="utf8").splitlines():
        if line.strip():
            row = json.loads(line)
            problems.append(Problem(question=str(row["question"]), answer=str(row["answer"])))
    random.Random(seed).shuffle(problems)
    return problems


def served_model(base_url: str) -> str:
    url = f"{base_url.rstrip('/')}/api/v1/get_server_capabilities"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.load(response)["supported_models"][0]["model_name"]
    except (OSError, ValueError, KeyError, IndexError) as error:
        raise RuntimeError(f"could not read the served model from {url}: {error}") from error


def step_event(metrics: dict[str, Any]) -> dict[str, Any]:
    """One line of the cookbook's metrics.jsonl as a step event."""
    event: dict[str, Any] = {"type": "step", "step": metrics.get("step"), "seconds": metrics.get(TOTAL_KEY)}
    if SAMPLING_KEY in metrics:
        event["samplingSeconds"] = metrics[SAMPLING_KEY]
    if TRAINING_KEY in metrics:
        event["trainingSeconds"] = metrics[TRAINING_KEY]
    reward = metrics.get("env/all/reward/total")
    if reward is not None:
        event["meanReward"] = reward
    return event


def read_steps(metrics_file: Path) -> list[dict[str, Any]]:
    if not metrics_file.exists():
        return []
    lines = metrics_file.read_text(encoding="utf8").splitlines()
    return [step_event(json.loads(line)) for line in lines if line.strip()]


def follow_steps(metrics_file: Path, protocol: Protocol, done: threading.Event) -> threading.Thread:
    """Emits each step as the cookbook logs it (its logger cannot be swapped without patching main)."""

    def run() -> None:
        emitted = 0
        while True:
            finished = done.is_set()
            steps = read_steps(metrics_file)
            for event in steps[emitted:]:
                protocol.emit(event)
            emitted = len(steps)
            if finished:
                return
            done.wait(0.2)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def build_config(args: argparse.Namespace, base_model: str, problems: list[Problem], log_dir: str):
    # Imported here: these imports take seconds and the argument errors should not wait for them.
    import chz
    from tinker_cookbook import renderers
    from tinker_cookbook.recipes.math_rl.math_env import MathEnv
    from tinker_cookbook.rl.problem_env import ProblemGroupBuilder
    from tinker_cookbook.rl.train import Config
    from tinker_cookbook.rl.types import RLDataset, RLDatasetBuilder
    from tinker_cookbook.tokenizer_utils import get_tokenizer, register_tokenizer
    from transformers import AutoTokenizer

    register_tokenizer(base_model, cache(partial(AutoTokenizer.from_pretrained, args.tokenizer)))

    class LocalProblems(RLDataset):
        def __init__(self, renderer: Any):
            self.renderer = renderer

        def get_batch(self, index: int):
            batch = problems[index * args.batch_size : (index + 1) * args.batch_size]
            # format_coef 0: the reward is 1 when the \boxed{} answer is right, else 0.
            return [
                ProblemGroupBuilder(
                    env_thunk=partial(MathEnv, p.question, p.answer, self.renderer, format_coef=0.0),
                    num_envs=args.group_size,
                    dataset_name="local",
                )
                for p in batch
            ]

        def __len__(self) -> int:
            return len(problems) // args.batch_size

    @chz.chz
    class LocalProblemsBuilder(RLDatasetBuilder):
        renderer_name: str

        async def __call__(self):
            return LocalProblems(renderers.get_renderer(self.renderer_name, get_tokenizer(base_model))), None

    return Config(
        learning_rate=args.learning_rate,
        dataset_builder=LocalProblemsBuilder(renderer_name=args.renderer),
        model_name=base_model,
        recipe_name="mel-temporal-bench",
        max_tokens=args.max_tokens,
        log_path=log_dir,
        eval_every=0,
        save_every=0,
        renderer_name=args.renderer,
        loss_fn=args.loss_fn,
        lora_rank=args.lora_rank,
        base_url=args.base_url,
        max_steps=args.steps,
        num_groups_to_log=0,
        rollout_json_export=False,
    )


def run(args: argparse.Namespace, protocol: Protocol) -> dict[str, Any]:
    import asyncio

    from tinker_cookbook.rl.train import main as train

    started = time.monotonic()
    problems = load_problems(args.dataset, args.seed)
    if len(problems) < args.steps * args.batch_size:
        raise ValueError(f"{len(problems)} problems are fewer than {args.steps} steps x {args.batch_size}")
    base_model = args.base_model or served_model(args.base_url)
    log_dir = args.log_dir or tempfile.mkdtemp(prefix="cookbook-grpo-")
    metrics_file = Path(log_dir) / "metrics.jsonl"
    done = threading.Event()
    follower = follow_steps(metrics_file, protocol, done)
    try:
        asyncio.run(train(build_config(args, base_model, problems, log_dir)))
    finally:
        done.set()
        follower.join()
    steps = read_steps(metrics_file)
    summary: dict[str, Any] = {
        "stepSeconds": [s["seconds"] for s in steps],
        "totalSeconds": time.monotonic() - started,
        "logDir": log_dir,
    }
    for key in ("samplingSeconds", "trainingSeconds"):
        if all(key in s for s in steps):
            summary[key] = [s[key] for s in steps]
    return summary


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    protocol = Protocol(take_stdout())
    try:
        summary = run(args, protocol)
    except BaseException as error:  # noqa: BLE001 - every failure becomes the summary's error
        traceback.print_exc()
        protocol.emit({"type": "summary", "ok": False, "error": f"{type(error).__name__}: {error}"})
        return 1
    protocol.emit({"type": "summary", "ok": True, "error": None, **summary})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
