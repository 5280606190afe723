"""Create a tiny, randomly initialised Qwen3 model and its byte-level BPE tokenizer in a local folder.

Nothing is downloaded: the tokenizer is trained on a corpus built here, and the weights come from a seeded random
initialisation. The same seed and arguments give byte-identical files, so the TypeScript tokenizer, the engine and the
tests all read one model. Usage: python make_tiny_model.py OUT_DIR [--hidden-size N] [--layers N] ...
"""

import argparse
import json
import pathlib
import random

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# Qwen3-style chat template without the thinking block: what the TypeScript renderer reproduces token for token.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

WORDS = (
    "the a an of to and or if then when is are be was were it this that these those i we you my our your "
    "solve compute find simplify evaluate answer question problem solution step steps final correct incorrect "
    "judge reasoning error errors failure point latent cognitive pattern success factors analysis reflective "
    "summary subject heuristics heuristic review insight action pivot robustness factor reason effectiveness "
    "bifurcation critique verify check constraint sign fraction fractions numerator denominator common divide "
    "multiply add subtract sum difference product quotient equation variable both sides isolate expression "
    "order operations parentheses negative positive integer decimal percent result therefore so because "
    "system user assistant prior study reference information internalize experience think independently "
    "carefully mistake carry borrow distribute combine like terms reduce lowest greatest divisor multiple"
).split()


def build_corpus(seed: int) -> list[str]:
    rng = random.Random(seed)
    corpus = [f"{a} {op} {b} = " for a in range(-20, 120) for b in range(0, 60, 7) for op in "+-*/"]
    corpus += [f"\\boxed{{{rng.randint(-999, 999)}}}" for _ in range(400)]
    corpus += [f"\\frac{{{rng.randint(1, 30)}}}{{{rng.randint(2, 30)}}}" for _ in range(400)]
    corpus += [" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(3000)]
    corpus += ["### 1. Failure Point: ", "### 4. Subject Heuristics\n- [Pattern]: If ", "The answer is "]
    return corpus


def train_tokenizer(vocab_size: int, seed: int) -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(build_corpus(seed), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", type=pathlib.Path)
    parser.add_argument("--vocab-size", type=int, default=1024)
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--intermediate-size", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--kv-heads", type=int, default=2)
    parser.add_argument("--max-positions", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=0)
    # LoRA trains neither the (tied) embeddings nor the final norm. With random embeddings and a unit norm weight
    # the logits stay within about +-2.6, so no token can ever get much probability; a larger final norm weight
    # gives LoRA the dynamic range it needs to learn anything (measured: pass rate 0 at scale 1, ~0.3 at 12).
    parser.add_argument("--final-norm-scale", type=float, default=12.0)
    args = parser.parse_args()

    out: pathlib.Path = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(args.vocab_size, args.seed)
    tokenizer.save_pretrained(out)

    torch.manual_seed(args.seed)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=args.hidden_size,
        intermediate_size=args.intermediate_size,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads,
        head_dim=args.hidden_size // args.heads,
        max_position_embeddings=args.max_positions,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Qwen3ForCausalLM(config).float()
    with torch.no_grad():
        model.model.norm.weight.mul_(args.final_norm_scale)
    model.save_pretrained(out)

    # SkyRL's loader rejects a config without an explicit dtype.
    config_path = out / "config.json"
    saved = json.loads(config_path.read_text())
    saved["dtype"] = "float32"
    saved.pop("torch_dtype", None)
    config_path.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")
    parameters = sum(p.numel() for p in model.parameters())
    print(json.dumps({"model_dir": str(out), "vocab_size": len(tokenizer), "parameters": parameters}))


if __name__ == "__main__":
    main()
