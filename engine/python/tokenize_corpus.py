"""Tokenize texts with the engine's own Python tokenizer, for the TypeScript parity test.

Usage: python tokenize_corpus.py <model_dir>  < texts.json  > ids.json
Reads a JSON list of strings and writes a JSON list of token id lists. The tokenizer is loaded the way SkyRL's
engine loads it (transformers.AutoTokenizer over the local model directory), with no special tokens added.
"""

import json
import sys

from transformers import AutoTokenizer


def main() -> None:
    tokenizer = AutoTokenizer.from_pretrained(sys.argv[1])
    texts = json.load(sys.stdin)
    ids = [tokenizer.encode(text, add_special_tokens=False) for text in texts]
    json.dump(ids, sys.stdout)


if __name__ == "__main__":
    main()
