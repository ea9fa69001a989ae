"""Settings: one table of every setting (:mod:`.table`), the typed RunConfig it fills
(:mod:`.config`), the config file and flags merged (:mod:`.files`), and the checks that run
before anything is read or any model loads (:mod:`.validate`)."""

from summarize.settings.config import RayConfig, RoleConfig, RunConfig, TranslateWhat
from summarize.settings.files import build_config, load_config_file, parse_translators
from summarize.settings.table import SETTINGS, Setting, all_settings, markdown_table
from summarize.settings.validate import TASK_KEYS, split_langs, validate_config

__all__ = ["SETTINGS", "TASK_KEYS", "RayConfig", "RoleConfig", "RunConfig", "Setting",
           "TranslateWhat", "all_settings", "build_config", "load_config_file",
           "markdown_table", "parse_translators", "split_langs", "validate_config"]
