"""Map the user's ISO language codes onto the codes each translation-model family expects.

Users always write plain ISO codes (``ko``, ``kor``, ``KO``, ``zh-TW``, ``pt-BR``). Every
Hugging Face translation family asks for its target language differently:

=========  ====================  ==================================================
family     model code            how the target reaches generation
=========  ====================  ==================================================
marian     ``>>kor<<``           text prefix ``">>kor<< "`` (multi-target models only)
nllb       ``kor_Hang``          ``forced_bos_token_id``; source via ``src_lang``
m2m100     ``__ko__``            ``forced_bos_token_id``; source via ``src_lang="en"``
mbart50    ``ko_KR``             ``forced_bos_token_id``; source via ``src_lang``
madlad     ``<2ko>``             text prefix ``"<2ko> "``
t5         (none)                task prefix ``"translate English to German: "``
generic    (none)                nothing; the target cannot be checked
=========  ====================  ==================================================

This module never imports torch or transformers: it works on the duck-typed tokenizer and
config objects it is given (``convert_tokens_to_ids``, ``get_vocab``, ``model_type``, ...),
so the CLI's ``--help`` stays fast.

Canonical codes (what :func:`normalize_lang` returns):

* ISO 639-1 when the language has one (``kor`` -> ``ko``), else ISO 639-3 (``ceb``).
* Chinese: ``zh`` means Simplified (``zh-CN``, ``zh-Hans``, ``zh-SG``, ``cmn``, ``zho``);
  ``zh-Hant`` means Traditional (``zh-TW``, ``zh-HK``, ``zh-MO``, ``cmn_Hant``). A model
  that only knows "Chinese" (M2M100 ``__zh__``, mBART-50 ``zh_CN``) is refused for
  ``zh-Hant`` rather than silently writing Simplified.
* Other region or script subtags are dropped: ``pt-BR`` -> ``pt``, ``en-US`` -> ``en``,
  ``sr-Latn`` -> ``sr``.
* Norwegian: ``no``, ``nb``, ``nob`` and ``nor`` are all Bokmål (``no``); Nynorsk is ``nn``.
* Model-native spellings are accepted too (``kor_Hang``, ``ko_KR``, ``__ko__``, ``>>kor<<``,
  ``<2ko>``), and an NLLB code outside the table (``ary_Arab``) is kept verbatim so that
  every NLLB-200 language stays reachable.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from summarize.errors import UnsupportedLanguageError
from summarize.languages.codes import (
    _BY_CODE,
    _M2M_TOKEN,
    _MADLAD_TOKEN,
    _MARIAN_TOKEN,
    _MBART_TOKEN,
    _NLLB_TOKEN,
    LANGUAGES,
    language_name,
    normalize_lang,
    same_language,
)

logger = logging.getLogger(__name__)

FAMILIES = ("marian", "nllb", "m2m100", "mbart50", "t5", "madlad", "generic")

# mBART-50's language codes, exactly as the tokenizer spells them (the first 25 are mBART-cc25's).
MBART50_CODES = (
    "ar_AR", "cs_CZ", "de_DE", "en_XX", "es_XX", "et_EE", "fi_FI", "fr_XX", "gu_IN", "hi_IN",
    "it_IT", "ja_XX", "kk_KZ", "ko_KR", "lt_LT", "lv_LV", "my_MM", "ne_NP", "nl_XX", "ro_RO",
    "ru_RU", "si_LK", "tr_TR", "vi_VN", "zh_CN", "af_ZA", "az_AZ", "bn_IN", "fa_IR", "he_IL",
    "hr_HR", "id_ID", "ka_GE", "km_KH", "mk_MK", "ml_IN", "mn_MN", "mr_IN", "pl_PL", "ps_AF",
    "pt_XX", "sv_SE", "sw_KE", "ta_IN", "te_IN", "th_TH", "tl_XX", "uk_UA", "ur_PK", "xh_ZA",
    "gl_ES", "sl_SI",
)  # fmt: skip

# Plain T5 (t5-small/base/large) learned only these English -> X task prefixes.
T5_TASK_LANGUAGES = {"de": "German", "fr": "French", "ro": "Romanian"}

MAX_OFFERED_IN_MESSAGE = 20

_T5_TYPES = {"t5", "mt5", "umt5", "longt5", "switch_transformers"}


@dataclass(frozen=True)
class LangPlan:
    """How to ask one model for one target language.

    Attributes:
        family: Model family (one of :data:`FAMILIES`).
        target: Normalized user code of the target language.
        model_code: The model's own code for the target (``kor_Hang``, ``__ko__``,
            ``>>kor<<``, ``<2ko>``, ``ko_KR``), or None when the model takes none.
        prefix: Text to prepend to every source segment ("" if none): T5's task prefix.
        src_lang: Value to set on ``tokenizer.src_lang`` before encoding (NLLB, M2M100,
            mBART-50), else None.
        forced_bos_token_id: Token id to force as the first generated token, else None.
        prefix_token_id: Token id the encoder input starts with (multi-target Marian's
            ``>>kor<<``, MADLAD's ``<2ko>``), else None. It is put in as an id, not as
            text: tokenizers differ in whether they write a word-start piece (``▁``) before
            a tag at the start of a text, and the model was trained with the tag first.
    """

    family: str
    target: str
    model_code: str | None
    prefix: str
    src_lang: str | None
    forced_bos_token_id: int | None
    prefix_token_id: int | None = None


class _Vocab:
    """Lazy view of a tokenizer's tokens and ids, computed at most once per public call."""

    def __init__(self, tokenizer: Any, config: Any) -> None:
        self.tokenizer = tokenizer
        self.config = config
        self._tokens: set[str] | None = None

    @property
    def tokens(self) -> set[str]:
        if self._tokens is None:
            tokens: set[str] = set()
            tok = self.tokenizer
            for attr in ("lang_token_to_id", "added_tokens_encoder"):
                value = getattr(tok, attr, None)
                if isinstance(value, Mapping):
                    tokens.update(str(key) for key in value)
            codes = getattr(tok, "supported_language_codes", None)
            if isinstance(codes, (list, tuple, set)):
                tokens.update(str(code) for code in codes)
            get_vocab = getattr(tok, "get_vocab", None)
            if callable(get_vocab):
                try:
                    tokens.update(get_vocab())
                except Exception:  # a broken get_vocab only means fewer tokens
                    logger.debug("get_vocab() failed on %s", type(tok).__name__, exc_info=True)
            self._tokens = tokens
        return self._tokens

    def matching(self, pattern: re.Pattern[str]) -> list[str]:
        return sorted(token for token in self.tokens if pattern.fullmatch(token))

    def token_id(self, token: str) -> int | None:
        """Id of ``token``, or None when the tokenizer or the model does not know it."""
        tok = self.tokenizer
        try:
            tid = tok.convert_tokens_to_ids(token)
        except (KeyError, ValueError, TypeError):
            return None
        if isinstance(tid, list):
            tid = tid[0] if len(tid) == 1 else None
        if not isinstance(tid, int) or tid < 0:
            return None
        unk_id = getattr(tok, "unk_token_id", None)
        if tid == unk_id and token != str(getattr(tok, "unk_token", "")):
            return None
        vocab_size = getattr(self.config, "vocab_size", None)
        if isinstance(vocab_size, int) and vocab_size > 0 and tid >= vocab_size:
            return None
        return tid


def detect_family(config: Any, tokenizer: Any) -> str:
    """Which translation family a model belongs to.

    Rules, first match wins:

    1. Tokenizer class names: ``Nllb*`` -> nllb, ``M2M100*`` -> m2m100, ``MBart50*`` ->
       mbart50, ``Marian*`` (or ``config.model_type == "marian"``) -> marian.
    2. T5-like ``model_type`` (t5, mt5, umt5, longt5) or a ``T5*`` tokenizer: madlad when the
       vocabulary holds ``<2xx>`` tokens, else t5.
    3. Vocabulary, for tokenizers saved with a generic class: NLLB codes (``eng_Latn``) ->
       nllb; ``__en__`` tokens -> m2m100; mBART-50 codes (``en_XX``) -> mbart50; ``>>xx<<``
       tokens -> marian; ``<2xx>`` tokens -> madlad. (NLLB checkpoints report
       ``model_type == "m2m_100"``, which is why the vocabulary decides before it.)
    4. Otherwise generic.

    Args:
        config: The model config (``model_type`` is read), or None.
        tokenizer: The model's tokenizer.

    Returns:
        One of :data:`FAMILIES`.
    """
    return _detect(_Vocab(tokenizer, config))


def _detect(vocab: _Vocab) -> str:
    cls = type(vocab.tokenizer).__name__.lower()
    model_type = str(getattr(vocab.config, "model_type", "") or "").lower()
    if "nllb" in cls or model_type.startswith("nllb"):
        return "nllb"
    if "m2m100" in cls:
        return "m2m100"
    if "mbart50" in cls:
        return "mbart50"
    if "marian" in cls or model_type == "marian":
        return "marian"
    if model_type in _T5_TYPES or cls.startswith(("t5", "mt5", "umt5", "byt5")):
        return "madlad" if vocab.matching(_MADLAD_TOKEN) else "t5"
    if "eng_Latn" in vocab.tokens or len(_known_nllb(vocab)) >= 2:
        return "nllb"
    if "__en__" in vocab.tokens or len(vocab.matching(_M2M_TOKEN)) >= 2:
        return "m2m100"
    if sum(code in vocab.tokens for code in MBART50_CODES) >= 2:
        return "mbart50"
    if vocab.matching(_MARIAN_TOKEN):
        return "marian"
    if vocab.matching(_MADLAD_TOKEN):
        return "madlad"
    return "generic"


def _known_nllb(vocab: _Vocab) -> list[str]:
    known = {lang.nllb for lang in LANGUAGES if lang.nllb}
    return [tok for tok in vocab.matching(_NLLB_TOKEN) if tok in known]


def _candidates(family: str, code: str) -> list[str]:
    """Model tokens that could mean ``code``, best first (not yet checked against a vocab)."""
    lang = _BY_CODE.get(code)
    if lang is None:  # an NLLB code outside the table, e.g. ary_Arab
        base = code.split("_")[0]
        if family == "nllb":
            return [code]
        if family == "marian":
            return [f">>{code}<<", f">>{base}<<"]
        if family == "madlad":
            return [f"<2{code}>", f"<2{base}>"]
        return []
    short = [a for a in lang.aliases if len(a) == 2]
    three = [a for a in lang.aliases if len(a) == 3]
    if family == "nllb":
        return [lang.nllb] if lang.nllb else []
    if family == "mbart50":
        return [lang.mbart50] if lang.mbart50 else []
    if family == "m2m100":
        if code == "zh-Hant":
            return []
        return _unique(f"__{c}__" for c in [code, *short, *three, lang.iso3] if c)
    if family == "marian":
        if code == "zh":
            bases = ["cmn_Hans", "zho_Hans", "cmn", "zho", "zh", "zh_cn", "zh_CN"]
        elif code == "zh-Hant":
            bases = ["cmn_Hant", "zho_Hant", "zh_tw", "zh_TW", "zh_hant"]
        else:
            longer = [a.replace("-", "_") for a in lang.aliases if len(a) > 3]
            bases = [lang.iso3, *three, code, *short, *longer]
            if lang.nllb:
                bases.insert(1, lang.nllb)
        return _unique(f">>{b}<<" for b in bases if b)
    if family == "madlad":
        if code == "zh":
            bases = ["zh", "zh_Hans", "zh-Hans", "zh_CN"]
        elif code == "zh-Hant":
            bases = ["zh_Hant", "zh-Hant", "zh_TW"]
        else:
            bases = [code, *short, lang.iso3, *three]
        return _unique(f"<2{b}>" for b in bases if b)
    return []


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _pick(vocab: _Vocab, family: str, code: str) -> tuple[str, int] | None:
    """The model token (and its id) the model uses for ``code``, or None when it has none."""
    for token in _candidates(family, code):
        tid = vocab.token_id(token)
        if tid is not None:
            return token, tid
    if family == "marian" and code in _BY_CODE and code not in ("zh", "zh-Hant"):
        # Script-qualified variants such as >>srp_Cyrl<< / >>srp_Latn<<: prefer NLLB's script.
        lang = _BY_CODE[code]
        stems = {b for b in (lang.iso3, code, *lang.aliases) if b}
        variants = [
            tok
            for tok in vocab.matching(_MARIAN_TOKEN)
            if tok[2:-2].split("_")[0] in stems and "_" in tok
        ]
        script = lang.nllb.split("_")[1] if lang.nllb else ""
        variants.sort(key=lambda tok: (not tok.endswith(f"_{script}<<"), tok))
        for token in variants:
            tid = vocab.token_id(token)
            if tid is not None:
                return token, tid
    return None


def _offered(vocab: _Vocab, family: str) -> list[str] | None:
    if family == "t5":
        return sorted(T5_TASK_LANGUAGES)
    pattern = {
        "nllb": _NLLB_TOKEN,
        "m2m100": _M2M_TOKEN,
        "mbart50": _MBART_TOKEN,
        "marian": _MARIAN_TOKEN,
        "madlad": _MADLAD_TOKEN,
    }.get(family)
    if pattern is None:
        return None
    codes: set[str] = set()
    for token in vocab.matching(pattern):
        try:
            code = normalize_lang(token)
        except UnsupportedLanguageError:
            continue
        if code not in codes and _pick(vocab, family, code) is not None:
            codes.add(code)
    if not codes and family == "marian":
        return None  # a single-target Marian model
    return sorted(codes)


def supported_targets(tokenizer: Any, config: Any) -> list[str] | None:
    """The user-facing codes a model can translate into.

    Args:
        tokenizer: The model's tokenizer.
        config: The model config, or None.

    Returns:
        Sorted canonical codes (``["de", "ja", "ko"]``); None when the model names no target
        languages (single-target Marian, generic models).
    """
    vocab = _Vocab(tokenizer, config)
    return _offered(vocab, _detect(vocab))


def _model_label(model_name: str, config: Any, tokenizer: Any) -> str:
    for name in (
        model_name,
        getattr(config, "_name_or_path", None),
        getattr(config, "name_or_path", None),
        getattr(tokenizer, "name_or_path", None),
    ):
        if isinstance(name, str) and name:
            return name
    return "<unnamed model>"


def _describe(codes: list[str] | None) -> str:
    if not codes:
        return "no language codes"
    shown = ", ".join(codes[:MAX_OFFERED_IN_MESSAGE])
    more = len(codes) - MAX_OFFERED_IN_MESSAGE
    return f"{shown} (+{more} more)" if more > 0 else shown


_OPUS_NAME = re.compile(
    r"opus-mt-(?:tc-)?(?:bible-)?(?:(?:big|base|small|tiny|transformer-big)-)?(?P<pair>.+)"
)
_WMT_NAME = re.compile(r"wmt\d\d-(?P<pair>[a-z]{2,3}-[a-z]{2,3})")
# Codes OPUS-MT model names use that are not ISO codes of the same language.
_OPUS_NAME_CODES = {"jap": "ja", "zh_cn": "zh", "zh_tw": "zh-Hant"}


def _name_targets(names: Iterable[str], side: int = 1) -> tuple[set[str], bool] | None:
    """Target (``side=1``) or source (``side=0``) languages spelled in an OPUS-MT/WMT model
    name, and whether a part was unknown.

    ``opus-mt-en-de`` -> ({"de"}, False); ``opus-mt-tc-big-en-ko`` -> ({"ko"}, False);
    ``opus-mt-en-ROMANCE`` -> (set(), True). Returns None when no name has that shape.
    """
    for name in names:
        parts = re.split(r"[\\/]", name.strip())
        for part in reversed(parts):
            part = part.split("--")[-1].lower()  # hub cache folders: models--org--name
            match = _OPUS_NAME.fullmatch(part) or _WMT_NAME.fullmatch(part)
            if not match:
                continue
            pieces = match.group("pair").split("-")
            if len(pieces) < 2:
                continue
            known: set[str] = set()
            unknown = False
            for piece in re.split(r"[+]", pieces[side]):
                code = _OPUS_NAME_CODES.get(piece)
                if code is None:
                    try:
                        code = normalize_lang(piece)
                    except UnsupportedLanguageError:
                        unknown = True
                        continue
                known.add(code)
            return known, unknown
    return None


def _declared_target(tokenizer: Any, config: Any) -> str | None:
    """A single target language declared by tokenizer/config attributes, if any."""
    langs = getattr(config, "langs", None)  # FSMT: ["en", "de"]
    if isinstance(langs, (list, tuple)) and len(langs) == 2:
        candidates = [langs[1]]
    else:
        candidates = []
    candidates.append(getattr(tokenizer, "target_lang", None))
    for value in candidates:
        if isinstance(value, str) and value:
            try:
                return normalize_lang(value)
            except UnsupportedLanguageError:
                continue
    return None


def _check_name_source(names: list[str], source: str | None, label: str, family: str) -> None:
    """Refuse a source language that an OPUS-MT/WMT model's name says it does not read."""
    if source is None:
        return
    sources = _name_targets(names, side=0)
    if sources is None:
        return
    known, unknown = sources
    if known and not unknown and not any(same_language(source, k) for k in known):
        raise UnsupportedLanguageError(
            f"translator {label!r} ({family}) cannot read source language {source!r} "
            f"({language_name(source)}); it translates from: {_describe(sorted(known))}"
        )


def _plan_unlabelled(
    vocab: _Vocab, family: str, target: str, label: str, model_name: str,
    source: str | None = None,
) -> LangPlan:
    """Plan for a model that takes no target code: check what its name or config declare."""
    tok, config = vocab.tokenizer, vocab.config
    declared = _declared_target(tok, config)
    names = [model_name, getattr(config, "_name_or_path", None), getattr(tok, "name_or_path", None)]
    names = [n for n in names if isinstance(n, str) and n]
    from_name = _name_targets(names)
    known: set[str] = set()
    unknown = from_name is None
    if from_name is not None:
        known, unknown = from_name
    if declared is not None:
        known.add(declared)
    _check_name_source(names, source, label, family)
    if known and not any(same_language(target, k) for k in known) and not unknown:
        raise UnsupportedLanguageError(
            f"translator {label!r} ({family}) cannot produce {target!r} ({language_name(target)}); "
            f"it translates into: {_describe(sorted(known))}"
        )
    if target not in known:
        logger.warning(
            "cannot tell which language translator %r (%s) produces; assuming %r",
            label,
            family,
            target,
        )
    return LangPlan(family, target, None, "", None, None)


def plan_target(
    tokenizer: Any, config: Any, target: str, source: str = "en", model_name: str = ""
) -> LangPlan:
    """Work out how to make a model translate from ``source`` into ``target``.

    The target is always checked against the model's vocabulary: a code the tokenizer maps
    to the unknown token (or to an id beyond ``config.vocab_size``) is refused, because
    several families silently write the wrong language for an unknown code.

    Args:
        tokenizer: The model's tokenizer (duck-typed; transformers 5 classes work).
        config: The model config (``model_type``, ``vocab_size``, ``_name_or_path``), or None.
        target: Target language as the user wrote it (``ko``, ``kor``, ``zh-TW`` ...).
        source: Source language of the text, as the user wrote it.
        model_name: Hub id or folder of the model, for messages and for reading the target
            of single-target Marian models from names such as ``opus-mt-en-de``.

    Returns:
        The plan: prefix, ``src_lang`` and ``forced_bos_token_id`` to use.

    Raises:
        UnsupportedLanguageError: A code is unknown, or the model cannot produce ``target``
            (or read ``source``); the message names the language, the model and up to
            :data:`MAX_OFFERED_IN_MESSAGE` of the codes the model offers.
    """
    vocab = _Vocab(tokenizer, config)
    family = _detect(vocab)
    label = _model_label(model_name, config, tokenizer)
    try:
        tgt = normalize_lang(target)
        src = normalize_lang(source)
    except UnsupportedLanguageError as err:
        raise UnsupportedLanguageError(
            f"{err}; translator {label!r} ({family}) offers: {_describe(_offered(vocab, family))}"
        ) from err

    def refuse(code: str, what: str = "produce") -> UnsupportedLanguageError:
        return UnsupportedLanguageError(
            f"translator {label!r} ({family}) cannot {what} {code!r} ({language_name(code)}); "
            f"it offers: {_describe(_offered(vocab, family))}"
        )

    if family in ("nllb", "m2m100", "mbart50"):
        picked = _pick(vocab, family, tgt)
        if picked is None:
            raise refuse(tgt)
        src_picked = _pick(vocab, family, src)
        if src_picked is None:
            raise refuse(src, "read source language")
        token, tid = picked
        src_code = src_picked[0][2:-2] if family == "m2m100" else src_picked[0]
        return LangPlan(family, tgt, token, "", src_code, tid)

    if family in ("marian", "madlad"):
        if family == "madlad" or vocab.matching(_MARIAN_TOKEN):
            picked = _pick(vocab, family, tgt)
            if picked is None:
                raise refuse(tgt)
            names = [n for n in (model_name, getattr(config, "_name_or_path", None))
                     if isinstance(n, str) and n]
            _check_name_source(names, src, label, family)
            return LangPlan(family, tgt, picked[0], "", None, None, picked[1])
        return _plan_unlabelled(vocab, family, tgt, label, model_name, src)

    if family == "t5":
        if src != "en":
            raise refuse(src, "read source language")
        if tgt not in T5_TASK_LANGUAGES:
            raise refuse(tgt)
        prefix = f"translate English to {T5_TASK_LANGUAGES[tgt]}: "
        return LangPlan(family, tgt, None, prefix, None, None)

    return _plan_unlabelled(vocab, "generic", tgt, label, model_name, src)
