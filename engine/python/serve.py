"""Start SkyRL's Tinker API server without `uv`.

SkyRL's API process launches its engine subprocess by re-reading its parent's `uv run ...` command line, so a plain
`python -m skyrl.tinker.api` refuses to start. This launcher swaps that one hook for a command that runs the engine
with this same interpreter, then serves the unchanged FastAPI app. The hook is private to SkyRL: re-check it when the
pinned version in requirements.txt changes.
"""

import argparse
import sys

import uvicorn
import skyrl.tinker.api as api
from skyrl.tinker.config import EngineConfig, add_model, config_to_argv


def engine_command(_parent_cmd: list[str], engine_config: EngineConfig) -> list[str]:
    return [sys.executable, "-m", "skyrl.tinker.engine", *config_to_argv(engine_config)]


def main() -> None:
    parser = argparse.ArgumentParser(description="SkyRL Tinker API server (mel-temporal launcher)")
    add_model(parser, EngineConfig)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    api._build_uv_run_cmd_engine = engine_command
    api.app.state.engine_config = EngineConfig.model_validate(
        {key: value for key, value in vars(args).items() if key in EngineConfig.model_fields}
    )
    uvicorn.run(api.app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
