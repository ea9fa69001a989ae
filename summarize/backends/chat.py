"""How a chat model is asked: the tool's prompts rendered through the model's own chat
template, token counts, stop tokens and cleaned answers. No torch: the torch engine
(:mod:`summarize.backends.chat_torch`) and the vLLM engine share it, so both read exactly
the same tokens for a request.

Published chat templates differ, and each difference is handled here:

* no system role (Gemma 3 folds it into the user turn itself; a template that refuses a
  system message gets the system text folded into the user turn by us);
* a translation-only template (TranslateGemma): one user turn whose content is a list with
  one ``{type, source_lang_code, target_lang_code, text}`` entry and no instruction of
  ours, with language codes from the template's own table (``zh`` not ``zh-CN``);
* hybrid thinking (Qwen3, SmolLM3, Gemma 4): ``enable_thinking=False``; a thought that
  still appears (``<think>…</think>``, ``<|channel>…<channel|>``) is removed from answers;
* templates that write BOS themselves: the rendered text is tokenized without adding
  special tokens, so there is never a second BOS;
* dates written into the prompt (Llama 3.x, SmolLM3): a fixed date, so that a prompt does
  not change from one day to the next (reproducible outputs, prefix-cache hits);
* content that must be a plain string (Qwen3 renders list content as an empty turn);
* stop tokens beyond ``eos`` (``<end_of_turn>``, ``<|im_end|>``, ``<|eot_id|>``,
  ``<turn|>``), from the generation config and the template's end-of-turn tokens.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from summarize.backends import BackendInfo, Prompt, Request, Task, TaskDefaults
from summarize.backends.hf_common import quietly
from summarize.errors import ConfigError, ModelLoadError, UnsupportedLanguageError
from summarize.languages import language_name
from summarize.tasks.prompts import messages_for
from summarize.text.chatter import clean_output

#: The date a template that writes "Today Date" sees (Llama 3.x, SmolLM3).
PROMPT_DATE = datetime.datetime(2026, 1, 1)
#: End-of-turn tokens of published templates: generation stops at any the tokenizer has.
END_OF_TURN = ("<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|eom_id|>", "<turn|>",
               "<|end|>", "<|endoftext|>", "<|end_of_text|>", "<eos>")
#: Output limits of a chat model when the user sets none: a summary, and a translation's
#: cap (each unit's own limit is 3x its tokens + 16, below this).
SUMMARY_TOKENS = 256
TRANSLATION_CAP = 1024
#: Most input tokens of one request when the user sets none (the model's context window,
#: less the output, bounds it too): a whole article for a summary, a paragraph (split at
#: sentence ends when longer) for a translation.
SUMMARY_INPUT = 8192
TRANSLATION_INPUT = 1024


def context_window(config: Any) -> int:
    """The model's context window in tokens (its text config's, for a multimodal one)."""
    text = getattr(config, "text_config", None) or config
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(text, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return 4096


def template_tokens(tokenizer: Any) -> tuple[str, ...]:
    """The special and added tokens a decoded answer may still hold, longest first."""
    tokens = set(getattr(tokenizer, "all_special_tokens", []) or [])
    added = getattr(tokenizer, "added_tokens_decoder", None) or {}
    tokens.update(str(tok) for tok in added.values() if getattr(tok, "special", False))
    tokens.update(t for t in END_OF_TURN if t in (tokenizer.get_vocab() or {}))
    return tuple(sorted((t for t in tokens if t), key=len, reverse=True))


def clean_answer(text: str, tokens: Sequence[str] = (), source: str | None = None) -> str:
    """An answer without a thought, template tokens, a preamble or quotes around it all
    (:func:`summarize.text.chatter.clean_output`; quotes stay when ``source`` had them)."""
    return clean_output(text, template_tokens=tokens, source=source).strip()


class ChatAsking:
    """The contract's asking side for a chat model (torch and vLLM engines).

    Call :meth:`_init_chat` from ``__init__``; the instance needs ``tokenizer`` (with a
    chat template), ``config``, ``generation_config`` and ``info``.
    """

    translation_unit = "paragraph"
    max_output_tokens: int | None = None
    tokenizer: Any
    config: Any
    generation_config: Any
    info: BackendInfo

    def _init_chat(self, model_id: str, prompts: Mapping[str, Prompt] | None,
                   role: str) -> None:
        self._prompts = dict(prompts or {})
        template = getattr(self.tokenizer, "chat_template", None)
        if isinstance(template, dict):  # several named templates: the default one
            template = template.get("default") or next(iter(template.values()), None)
        if not template:
            raise ModelLoadError(no_template_message(role, model_id, self.config))
        self._template = str(template)
        #: TranslateGemma's template: structured content, its own instruction and codes.
        self.translation_only = "source_lang_code" in self._template
        if self.translation_only and "summarize" in self._prompts:
            raise ModelLoadError(
                f"summarizer '{model_id}' has a translation-only chat template (TranslateGemma:"
                " source and target language codes, no instruction); use it as --translator")
        self._context = context_window(self.config)
        self._tokens = template_tokens(self.tokenizer)
        self._stops = stop_ids(self.tokenizer, self.generation_config)
        self._codes: dict[str, str] = {}
        self._system_ok = self._accepts_system()
        self._overheads: dict[Request, int] = {}
        self._limits: dict[str, int] = {}
        for task, prompt in self._prompts.items():
            cap = prompt.max_input_tokens
            if cap is not None and cap >= self._context:
                raise ConfigError(
                    f"max_input_tokens = {cap}: model '{model_id}' has a context window of "
                    f"{self._context} tokens (input and output); set a smaller value")
            if cap is not None:
                self._limits[task] = cap

    # -- the contract -------------------------------------------------------------------------
    def task_defaults(self, task: Task) -> TaskDefaults:
        """No generation settings of the model's (its sampling settings are not used:
        greedy decoding unless the user asks), and the tool's output limits, or the model's
        own ``max_new_tokens`` when its generation config sets a smaller one."""
        limit = SUMMARY_TOKENS if task == "summarize" else TRANSLATION_CAP
        own = getattr(self.generation_config, "max_new_tokens", None)
        if isinstance(own, int) and 0 < own < limit:
            limit = own
        return TaskDefaults({}, limit)

    def input_limit(self, task: Task, max_new_tokens: int) -> int:
        """What the context window leaves beside the output, capped by the task's setting
        (by default a whole article for a summary, a paragraph for a translation)."""
        cap = self._limits.get(task, SUMMARY_INPUT if task == "summarize" else TRANSLATION_INPUT)
        return max(1, min(cap, self._context - max_new_tokens))

    def summarizes(self, lang: str) -> bool:
        """A chat model summarizes in the article's own language (no pivot)."""
        return not self.translation_only

    def check_languages(self, task: Task, source: str, target: str) -> None:
        """A translation-only template must know both codes; any other renders any pair."""
        if task == "translate" and self.translation_only:
            self._code(source)
            self._code(target)
        elif task == "summarize" and self.translation_only:
            raise UnsupportedLanguageError(
                f"'{self.info.model_id}' only translates; it cannot summarize")

    def count_tokens(self, requests: Sequence[Request]) -> list[int]:
        """Tokens of each rendered prompt (template and instruction included)."""
        return [len(row) for row in self._ids(requests)]

    def prompt_tokens(self, request: Request) -> int:
        """Tokens of the prompt around the text: the same request with no text."""
        empty = Request(request.task, "", request.source_lang, request.target_lang,
                        request.title)
        if empty not in self._overheads:
            self._overheads[empty] = self.count_tokens([empty])[0]
        return self._overheads[empty]

    # -- rendering ------------------------------------------------------------------------------
    def messages(self, request: Request) -> list[dict[str, Any]]:
        """The conversation asking for ``request``."""
        if self.translation_only:
            return [{"role": "user", "content": [{
                "type": "text", "source_lang_code": self._code(request.source_lang),
                "target_lang_code": self._code(request.target_lang), "text": request.text}]}]
        system, user = messages_for(request, self._prompts.get(request.task))
        if not system:
            return [{"role": "user", "content": user}]
        if self._system_ok:
            return [{"role": "system", "content": system},
                    {"role": "user", "content": user}]
        return [{"role": "user", "content": f"{system}\n\n{user}"}]

    def render(self, request: Request) -> str:
        """The prompt text of ``request``, as the model's chat template writes it."""
        return self._apply(self.messages(request))

    def _apply(self, messages: list[dict[str, Any]]) -> str:
        return self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True, enable_thinking=False,
            date_string=PROMPT_DATE.strftime("%d %b %Y"),
            strftime_now=PROMPT_DATE.strftime)

    @quietly
    def _ids(self, requests: Sequence[Request]) -> list[list[int]]:
        """Token ids of each rendered prompt (no special tokens added: the template wrote
        them, BOS included where the model has one)."""
        if not requests:
            return []
        texts = [self.render(r) for r in requests]
        return [list(row) for row in
                self.tokenizer(texts, add_special_tokens=False)["input_ids"]]

    def _accepts_system(self) -> bool:
        if self.translation_only:
            return False
        try:
            self._apply([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
        except Exception:  # the template refuses a system turn (raise_exception)
            return False
        return True

    def _code(self, lang: str) -> str:
        """The translation-only template's code for ``lang`` (the first its table knows)."""
        if lang in self._codes:
            return self._codes[lang]
        base = lang.split("-")[0]
        candidates = {"zh": ["zh", "zh-Hans", "zh-CN"],
                      "zh-Hant": ["zh-Hant", "zh-TW", "zh-HK"]}.get(lang, [lang, base])
        for code in candidates:
            probe = [{"role": "user", "content": [{
                "type": "text", "source_lang_code": code, "target_lang_code": code,
                "text": "x"}]}]
            try:
                self._apply(probe)
            except Exception:  # the table does not know this code
                continue
            self._codes[lang] = code
            return code
        raise UnsupportedLanguageError(
            f"translator '{self.info.model_id}' (translation-only chat template) has no "
            f"language code for {lang!r} ({language_name(lang)})")

    def clean(self, text: str, source: str | None = None) -> str:
        """A decoded answer made presentable (see :func:`clean_answer`)."""
        return clean_answer(text, self._tokens, source)


def stop_ids(tokenizer: Any, generation_config: Any) -> list[int]:
    """Token ids that end an answer: the generation config's ``eos_token_id`` (one or a
    list), the tokenizer's eos, and every end-of-turn token of :data:`END_OF_TURN` the
    tokenizer has as a special token."""
    ids: list[int] = []
    eos = getattr(generation_config, "eos_token_id", None)
    for value in (eos if isinstance(eos, list) else [eos]):
        if isinstance(value, int):
            ids.append(value)
    if isinstance(getattr(tokenizer, "eos_token_id", None), int):
        ids.append(tokenizer.eos_token_id)
    special = set(template_tokens(tokenizer))
    for token in END_OF_TURN:
        if token in special:
            tid = tokenizer.convert_tokens_to_ids(token)
            if isinstance(tid, int) and tid >= 0:
                ids.append(tid)
    return list(dict.fromkeys(ids))


def no_template_message(role: str, model: str, config: Any) -> str:
    """One line: a decoder-only model without a chat template, and how to give it one."""
    kind = getattr(config, "model_type", "decoder-only")
    return (f"{role} '{model}' is a {kind} model with no chat template, so the tool cannot "
            "ask it for a summary or a translation; use its instruction-tuned (chat) "
            "version, or give it a template: save a chat_template.jinja file in the model "
            "folder, or set chat_template = \"FILE.jinja\" in the config file's "
            f"[{'summarizer' if role == 'summarizer' else 'translator'}] table")
