"""The naive side: one item at a time through tokenizer, ``model.generate`` and decode, the
loop the transformers documentation shows.

A seq2seq model is loaded with ``AutoModelForSeq2SeqLM``; a chat model with
``AutoModelForCausalLM``, its prompt rendered through its chat template (the tool's own
messages, so both sides read the same tokens). The engine's task objects
(:class:`~summarize.tasks.summarize.Summarizer`, :class:`~summarize.tasks.translate.Translator`)
are built over the same objects only to read the same generation settings, prompts and
input windows, so that both sides do exactly the same work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from summarize.devtools.bench.harness import (
    generation_settings,
    side_result,
    timed,
    warm_settings,
)
from summarize.devtools.bench_command import DEFAULT_TARGET


class NaiveModel:
    """A model and tokenizer loaded the documented way, plus the engine's own settings.

    The tokenizer and model come straight from ``from_pretrained``; the engine's backend
    object is built over them only to read the same generation settings, prefix and input
    windows. Inside the timed loop only tokenizer work of the engine runs (rendering and
    counting tokens, ``Summarizer.chunk`` for the partial summaries of long articles).
    """

    def __init__(self, model_dir: str, device: str, dtype: str, threads: int):
        import torch
        from transformers import (
            AutoConfig,
            AutoModelForCausalLM,
            AutoModelForSeq2SeqLM,
            AutoTokenizer,
        )
        from transformers.utils import logging as hf_logging

        from summarize.backends import Prompt
        from summarize.backends.hf_common import is_seq2seq
        from summarize.backends.hf_torch import select_device, select_dtype

        hf_logging.set_verbosity_error()
        torch.set_num_threads(threads)
        self.torch = torch
        self.device = select_device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        config = AutoConfig.from_pretrained(model_dir)
        self.chat = not is_seq2seq(config)
        config_dtype = select_dtype(dtype, self.device, config.model_type)
        loader = AutoModelForCausalLM if self.chat else AutoModelForSeq2SeqLM
        self.model = loader.from_pretrained(model_dir, dtype=config_dtype)
        self.model.to(self.device).eval()
        prompts = {"summarize": Prompt(), "translate": Prompt()}
        kwargs = {"path": model_dir, "revision": None, "license": None, "prompts": prompts}
        if self.chat:
            from summarize.backends.chat_torch import ChatTorch

            # the tool's generation config (greedy, its stop ids), as the engine uses it
            self.backend: Any = ChatTorch(model_dir, self.tokenizer, self.model, **kwargs)
        else:
            from summarize.backends.hf_torch import Seq2SeqTorch

            self.backend = Seq2SeqTorch(model_dir, self.tokenizer, self.model, **kwargs)

    def generate_kwargs(self, settings: dict[str, Any], plan: Any = None) -> dict[str, Any]:
        """The ``generate`` arguments: the task's settings, no forced EOS, and for a
        seq2seq model the plan's source language on the tokenizer and its forced target
        token (as the docs do)."""
        kwargs = {**settings}
        if self.chat:
            return kwargs
        kwargs["forced_eos_token_id"] = None
        if plan is None:
            return kwargs
        if plan.src_lang is not None and hasattr(self.tokenizer, "src_lang"):
            self.tokenizer.src_lang = plan.src_lang
        if plan.forced_bos_token_id is not None:
            kwargs["forced_bos_token_id"] = plan.forced_bos_token_id
        return kwargs

    def generate_one(self, request: Any, kwargs: dict[str, Any], limit: int
                     ) -> tuple[str, int]:
        """One request through tokenizer -> generate -> decode; returns (text, output
        tokens). The input ids are the engine's own for the request (its prefix, language
        tag and special tokens, or its rendered chat prompt), so both sides read the same
        tokens."""
        from summarize.backends.hf_common import cut_outputs, end_ids

        torch = self.torch
        if self.chat:
            [ids] = self.backend._ids([request])
        else:
            [ids], _ = self.backend._ids([request])
        inputs = torch.tensor([ids], device=self.device)
        with torch.inference_mode():
            out = self.model.generate(input_ids=inputs, attention_mask=torch.ones_like(inputs),
                                      **kwargs, max_new_tokens=limit)
        # counted as the engine counts its outputs (same cut, padding excluded)
        config = self.model.generation_config
        if self.chat:
            new = out[0, len(ids):].tolist()
            [tokens], _, n_out = cut_outputs([new], [limit], end_ids(config),
                                             config.pad_token_id, skip=0)
            decoded = self.tokenizer.decode(tokens, skip_special_tokens=False,
                                            clean_up_tokenization_spaces=False)
            return self.backend.clean(decoded, request.text), n_out
        [tokens], _, n_out = cut_outputs([out[0].tolist()], [limit], end_ids(config),
                                         config.pad_token_id)
        decoded = self.tokenizer.decode(tokens, skip_special_tokens=True)
        return decoded.strip(), n_out

    def sync(self) -> None:
        """Wait for the device (CUDA) so that the clock sees the work done."""
        if self.device.type == "cuda":
            self.torch.cuda.synchronize()


def naive_translate(model_dir: str, sentences: Sequence[str], *, new_tokens: int,
                    target: str = DEFAULT_TARGET, device: str = "cpu", dtype: str = "auto",
                    threads: int = 2, repeat: int = 1) -> dict[str, Any]:
    """Translate sentence by sentence, batch size 1, as the transformers docs show it.

    A sentence longer than the model's input is cut where the engine's
    ``Translator._fit`` cuts it and the pieces' translations are joined the engine's way,
    so that both sides translate exactly the same segments.

    Returns:
        The side's result: seconds of the loop, output and input tokens, outputs.
    """
    from summarize.tasks.batching import TokenBudget
    from summarize.tasks.translate import Translator
    from summarize.text import join_sentences

    nm = NaiveModel(model_dir, device, dtype, threads)
    task = Translator(nm.backend, target, generation_settings(new_tokens), TokenBudget(1),
                      source_lang="en")
    plan = None if nm.chat else nm.backend.plan("en", target)
    kwargs = nm.generate_kwargs(task.settings, plan)
    segments = [[task.request(piece, "en") for piece in task._fit(s, "en")] for s in sentences]
    nm.generate_one(segments[0][0], warm_settings(kwargs), 2)  # warm-up, as the engine gets
    nm.sync()

    def work() -> dict[str, Any]:
        outputs: list[str] = []
        n_out = n_in = calls = 0
        for pieces in segments:
            translated = []
            for request in pieces:
                n = nm.backend.count_tokens([request])[0]
                decoded, tokens = nm.generate_one(request, kwargs, task._limit(n, "en"))
                translated.append(decoded)
                n_in += n
                n_out += tokens
                calls += 1
            outputs.append(join_sentences(translated, task.target))
        return {"outputs": outputs, "output_tokens": n_out, "input_tokens": n_in,
                "calls": calls}

    return side_result("naive", timed(work, repeat, nm.sync), len(sentences))


def naive_summarize(model_dir: str, articles: Sequence[str], *, new_tokens: int,
                    device: str = "cpu", dtype: str = "auto", threads: int = 2,
                    repeat: int = 1) -> dict[str, Any]:
    """Summarize article by article, batch size 1, over the engine's own windows.

    An article longer than the model's input is cut into the windows the engine's
    ``Summarizer.chunk`` makes; each window is summarized alone and the joined partial
    summaries are summarized again, as the engine does, so both sides do the same work.
    """
    from summarize.tasks.batching import TokenBudget
    from summarize.tasks.summarize import Summarizer

    nm = NaiveModel(model_dir, device, dtype, threads)
    task = Summarizer(nm.backend, generation_settings(new_tokens), TokenBudget(1))
    kwargs = nm.generate_kwargs(task.settings)
    nm.generate_one(task.request(articles[0][:200]), warm_settings(kwargs), 2)  # warm-up
    nm.sync()

    def work() -> dict[str, Any]:
        outputs: list[str] = []
        n_out = n_in = calls = windows = 0
        for article in articles:
            pieces = task.chunk(article)
            windows += len(pieces)
            while True:
                parts = []
                for piece in pieces:
                    request = task.request(piece)
                    n_in += nm.backend.count_tokens([request])[0]
                    decoded, tokens = nm.generate_one(request, kwargs, task.max_new)
                    parts.append(decoded)
                    n_out += tokens
                    calls += 1
                if len(parts) == 1:
                    outputs.append(parts[0])
                    break
                pieces = task.chunk(" ".join(p for p in parts if p))
        return {"outputs": outputs, "output_tokens": n_out, "input_tokens": n_in,
                "calls": calls, "windows": windows}

    result = timed(work, repeat, nm.sync)
    return side_result("naive", result, len(articles), windows=result["windows"])
