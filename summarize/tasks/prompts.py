"""The tool's own prompts: what a chat model is asked to do, independent of any engine.

A chat model is asked through its own chat template (the backend renders the messages);
what goes into the messages is written here: a system text and a user turn per task. Both
can be replaced in the config file (``[summarizer]`` / ``[translator]``: ``system`` and
``prompt``), and are checked before any model loads (:func:`check_prompt`).

A prompt template names fields in braces, ``str.format`` style:

=================  ===============================================================
field              value
=================  ===============================================================
``{text}``         the text to summarize or translate (required)
``{title}``        the article's title ("" when it has none)
``{source}``       the text's language code (``en``)
``{target}``       the output's language code (``ko``; a summary's own language)
``{source_name}``  the text's language in English (``English``)
``{target_name}``  the output's language in English (``Korean``)
``{sentences}``    how many sentences a summary should have (``sentences`` setting)
=================  ===============================================================

A line whose fields are all empty (``Title: {title}`` for an article without a title) is
left out; the line with ``{text}`` always stays. Write ``{{`` and ``}}`` for literal braces.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping

from summarize.backends import Prompt, Request, Task
from summarize.languages import language_name

#: Settings of a ``[summarizer]`` / ``[translator]`` table that say how a task is asked
#: (the backend reads them; they are not generation settings).
PROMPT_KEYS = ("prefix", "system", "prompt", "sentences", "chat_template")
#: Fields a prompt template may name.
FIELDS = ("text", "title", "source", "target", "source_name", "target_name", "sentences")
#: Sentences a summary has by default.
DEFAULT_SENTENCES = 3

SUMMARY_SYSTEM = "You are a news editor who writes accurate, neutral summaries."
SUMMARY_PROMPT = (
    "Summarize the news article below in {sentences} sentences, written in {target_name}. "
    "Keep names, numbers and dates exactly as the article gives them. Answer with the "
    "summary only: no title, no introduction, no notes.\n\n"
    "Title: {title}\n\n"
    "{text}"
)
TRANSLATION_SYSTEM = "You are a professional news translator."
TRANSLATION_PROMPT = (
    "Translate the text below from {source_name} to {target_name}. Keep names, numbers and "
    "formatting (line breaks, lists, quotation marks) as they are. Answer with the "
    "{target_name} translation only, without explanations or notes.\n\n"
    "{text}"
)
_DEFAULTS: Mapping[Task, tuple[str, str]] = {
    "summarize": (SUMMARY_SYSTEM, SUMMARY_PROMPT),
    "translate": (TRANSLATION_SYSTEM, TRANSLATION_PROMPT),
}
_BLANK_LINES = re.compile(r"\n{3,}")


#: Largest chat template file read (published ones are under 20 KB).
MAX_TEMPLATE_BYTES = 1_000_000


def read_template(path: str) -> str:
    """A chat template file's text (``chat_template = "FILE.jinja"``).

    Raises:
        UsageError: The file cannot be read, is not a regular file, is larger than
            :data:`MAX_TEMPLATE_BYTES` or not UTF-8 (one line naming it).
        ConfigError: It is not a Jinja template (no tag at all).
    """
    from summarize.errors import ConfigError
    from summarize.inputs.sidefiles import read_side_file

    text = read_side_file(path, what="chat_template", max_bytes=MAX_TEMPLATE_BYTES)
    if "{{" not in text and "{%" not in text:
        raise ConfigError(f"chat_template {path}: not a Jinja template (no {{{{ or {{%)")
    return text


def fields_of(template: str) -> list[str]:
    """The field names a template uses, in order (``ValueError`` on a malformed one)."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]


def check_prompt(table: str, key: str, template: object) -> str | None:
    """Why a prompt setting is not usable, or None (checked before any model loads).

    Args:
        table: ``summarizer`` or ``translator`` (for the message).
        key: ``prompt`` or ``system``.
        template: The value from the config file.
    """
    if not isinstance(template, str) or not template.strip():
        return f"[{table}] {key} must be a non-empty string"
    try:
        names = fields_of(template)
    except ValueError as exc:
        return f"[{table}] {key} is not a valid template ({exc}); write {{{{ and }}}} for braces"
    for name in names:
        if name not in FIELDS:
            return (f"[{table}] {key} names the field {{{name}}}; expected fields: "
                    + ", ".join(f"{{{f}}}" for f in FIELDS))
    if key == "prompt" and "text" not in names:
        return f"[{table}] prompt must contain {{text}}, where the text goes"
    return None


def request_fields(request: Request, sentences: int | None = None) -> dict[str, str]:
    """The values of every template field for one request."""
    return {
        "text": request.text, "title": request.title,
        "source": request.source_lang, "target": request.target_lang,
        "source_name": language_name(request.source_lang),
        "target_name": language_name(request.target_lang),
        "sentences": str(sentences or DEFAULT_SENTENCES),
    }


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill a template, leaving out lines whose fields are all empty (never ``{text}``'s)."""
    lines = []
    for line in template.split("\n"):
        names = fields_of(line)
        if names and "text" not in names and all(not values.get(n) for n in names):
            continue
        lines.append(line.format(**values))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n") if lines else ""


def messages_for(request: Request, prompt: Prompt | None = None) -> tuple[str, str]:
    """The system text and the user turn asking for ``request`` (the user's prompt settings
    over the defaults)."""
    prompt = prompt or Prompt()
    system, template = _DEFAULTS[request.task]
    values = request_fields(request, prompt.sentences)
    return (render(prompt.system if prompt.system is not None else system, values),
            render(prompt.template if prompt.template is not None else template, values))
