"""Print what a SkyRL training checkpoint holds, as JSON: how many optimizer updates its Adam state has seen.

Usage: python checkpoint_info.py CHECKPOINT_DIR   (e.g. <checkpoints_base>/<model_id>/<name>.tar.gz)
The count is the optimizer's own step counter, so it tells how many optimizer steps produced these weights,
independently of anything the orchestrator recorded.
"""

import json
import sys
import warnings

import numpy as np
from flax.training import checkpoints


def counts(tree, path=""):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from counts(value, f"{path}/{key}")
    elif path.endswith("/count") or path.endswith("/count/value"):
        yield path, int(np.asarray(tree).max())


def main() -> None:
    warnings.filterwarnings("ignore")
    restored = checkpoints.restore_checkpoint(ckpt_dir=sys.argv[1], target=None, prefix="checkpoint_")
    if restored is None:
        sys.exit(f"no checkpoint in {sys.argv[1]}")
    found = dict(counts(restored))
    print(json.dumps({"optimizer_steps": max(found.values()) if found else None, "counters": found}))


if __name__ == "__main__":
    main()
