"""Reads the W&B offline runs under a directory, for test/integration/wandb.test.ts.

A `.wandb` file is W&B's record log (as in wandb's own datastore): a 7-byte header (":W&B", magic 0xBEE1, version 0),
then 32 KiB blocks of records, each a 7-byte header (CRC, little-endian length, type: 1 full, 2 first, 3 middle,
4 last) and a serialized `wandb.proto.wandb_internal_pb2.Record`. wandb 0.31 writes it from Go and ships no Python
reader, so this is one. Prints [{"runId", "config": {...}, "history": [{"step", "metrics"}]}] per offline run.
Usage: python read_offline.py WANDB_DIR
"""

import glob
import json
import struct
import sys

from wandb.proto import wandb_internal_pb2

BLOCK = 32768
HEADER = 7


def records(path: str):
    data = open(path, "rb").read()
    if data[:4] != b":W&B":
        raise SystemExit(f"{path} is not a W&B record log")
    position, pending = HEADER, b""
    while position + HEADER <= len(data):
        block_left = BLOCK - position % BLOCK
        if block_left < HEADER:
            position += block_left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[position : position + HEADER])
        if length == 0 and kind == 0:
            position += block_left
            continue
        payload = data[position + HEADER : position + HEADER + length]
        position += HEADER + length
        pending = payload if kind in (1, 2) else pending + payload
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record


def key_of(item) -> str:
    return item.key or "/".join(item.nested_key)


def read_run(path: str) -> dict:
    run = {"file": path, "runId": None, "config": {}, "history": []}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run["runId"] = record.run.run_id
            for item in record.run.config.update:
                run["config"][key_of(item)] = json.loads(item.value_json)
        elif kind == "config":
            for item in record.config.update:
                run["config"][key_of(item)] = json.loads(item.value_json)
        elif kind == "history":
            metrics = {key_of(item): json.loads(item.value_json) for item in record.history.item}
            run["history"].append({"step": record.history.step.num, "metrics": metrics})
    return run


def main() -> None:
    files = sorted(glob.glob(f"{sys.argv[1]}/wandb/offline-run-*/run-*.wandb"))
    json.dump([read_run(path) for path in files], sys.stdout)


if __name__ == "__main__":
    main()
