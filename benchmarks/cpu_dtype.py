"""bfloat16 against float32 for the torch engine on this CPU, side by side in one process.

Issue "Fast on every CPU" asks for bfloat16 compute where the CPU has native support and the
outputs agree with float32. This measures both on the same random-weight models of the
published sizes the bench uses (opus-mt for translation, distilbart for summaries, and the
SmolLM2-135M chat shape through its chat template for both), the same
text and forced output lengths, alternating the two dtypes ``--rounds`` times (the fastest
round of each counts), and prints the CPU's features, each dtype's tokens/s, the ratio and
how many greedy outputs are equal to float32's.

    python benchmarks/cpu_dtype.py [--sentences 300] [--articles 6] [--rounds 2] [--no-chat]
"""

from __future__ import annotations

import argparse

from summarize.devtools.bench.data import load_articles, load_sentences
from summarize.devtools.bench.engine import engine_summarize, engine_translate
from summarize.devtools.bench.harness import cpu_info
from summarize.devtools.bench.models import ensure_chat_model, ensure_model

DTYPES = ("float32", "bfloat16")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=300)
    parser.add_argument("--articles", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--chat", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    info = cpu_info()
    print(f"machine: {info['cpu']} ({', '.join(info['cpu_features'])})")
    jobs = []
    if args.sentences:
        jobs.append(("translate", ensure_model("marian"), load_sentences(args.sentences), 24,
                     engine_translate))
    if args.articles:
        jobs.append(("summarize", ensure_model("bart"), load_articles(args.articles), 48,
                     engine_summarize))
    if args.chat and args.sentences:
        jobs.append(("chat-translate", ensure_chat_model(), load_sentences(args.sentences), 24,
                     engine_translate))
    if args.chat and args.articles:
        jobs.append(("chat-summarize", ensure_chat_model(), load_articles(args.articles), 48,
                     engine_summarize))
    for name, model, items, tokens, run in jobs:
        best: dict[str, dict] = {}
        for _ in range(args.rounds):
            for dtype in DTYPES:
                got = run(str(model), items, new_tokens=tokens, dtype=dtype,
                          threads=args.threads)
                if dtype not in best or got["seconds"] < best[dtype]["seconds"]:
                    best[dtype] = got
        base = best["float32"]
        print(f"\n{name}: {len(items)} items x {tokens} tokens, fastest of {args.rounds}")
        for dtype in DTYPES:
            got = best[dtype]
            rate = got["output_tokens"] / got["seconds"]
            equal = sum(a == b for a, b in zip(got["outputs"], base["outputs"], strict=True))
            print(f"  {dtype:9} {got['seconds']:7.2f} s {rate:9.1f} tok/s  "
                  f"x float32 {base['seconds'] / got['seconds']:.2f}  "
                  f"equal to float32 {equal}/{len(items)}")


if __name__ == "__main__":
    main()
