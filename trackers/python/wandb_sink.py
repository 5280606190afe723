"""Sends a MEL run's recorded steps to Weights & Biases with the official `wandb` client (trackers/wandb.ts).

Reads one JSON request on stdin: {"runId", "name", "config", "rows": [{"step", "metrics"}]}. The W&B run id is
`runId`, the MEL run id, resumed with resume="allow", so a resumed or re-attached MEL run continues the same W&B run.
Only steps W&B does not hold yet are logged: from the run's own next step (online, the server's count) and from the
step this helper last logged for the run (a marker beside W&B's own files, which is what keeps offline mode, where
every init is a new local run, from logging a step twice). Project, entity, mode and key
come from W&B's own variables (WANDB_PROJECT, WANDB_ENTITY, WANDB_MODE, WANDB_API_KEY, WANDB_DIR).
Prints {"logged": [steps]} on stdout.
"""

import json
import pathlib
import sys

import wandb


def marker_file(run: "wandb.Run") -> pathlib.Path:
    """Beside W&B's own files for the run (WANDB_DIR/wandb/, by default under the working directory)."""
    return pathlib.Path(run.settings.wandb_dir) / "mel-logged" / f"{run.id}.json"


def main() -> None:
    request = json.load(sys.stdin)
    run = wandb.init(
        id=request["runId"],
        name=request["name"],
        resume="allow",
        config=request["config"],
        settings=wandb.Settings(console="off", x_disable_stats=True, x_disable_meta=True),
    )
    marker = marker_file(run)
    logged_before = json.loads(marker.read_text())["nextStep"] if marker.exists() else 0
    start = max(run.step, logged_before)
    logged = []
    try:
        for row in sorted(request["rows"], key=lambda r: r["step"]):
            if row["step"] < start:
                continue
            run.log(row["metrics"], step=row["step"])
            logged.append(row["step"])
    finally:
        run.finish()
    if logged:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"nextStep": logged[-1] + 1}))
    json.dump({"logged": logged}, sys.stdout)


if __name__ == "__main__":
    main()
