"""Log-probabilities of token sequences under a local HF model folder, computed with transformers on the CPU.

Reads {"sequences": [[id, ...], ...]} from stdin and prints {"logprobs": [[...], ...]}: entry i of a sequence's list is
log p(token i+1 | tokens 0..i), the same pre-shifted layout as a Tinker datum's target logprobs. Used to check that a
merged model folder reproduces the engine's LoRA model.
Usage: python score_tokens.py MODEL_DIR < request.json
"""

import json
import sys

import torch
from transformers import AutoModelForCausalLM


def score(model: torch.nn.Module, sequence: list[int]) -> list[float]:
    ids = torch.tensor([sequence])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, :-1]
    logprobs = torch.log_softmax(logits.float(), dim=-1)
    return logprobs.gather(1, ids[0, 1:].unsqueeze(1)).squeeze(1).tolist()


def main() -> None:
    model = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32).eval()
    request = json.load(sys.stdin)
    print(json.dumps({"logprobs": [score(model, sequence) for sequence in request["sequences"]]}))


if __name__ == "__main__":
    main()
