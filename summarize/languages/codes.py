"""The language table: the user's ISO codes, their canonical form and English names.

Users always write plain ISO codes (``ko``, ``kor``, ``KO``, ``zh-TW``, ``pt-BR``); this module
turns them into the canonical code used everywhere (see :func:`normalize_lang`) and holds the
one rule for when two codes name the same language (:func:`same_language`). How each
translation-model family spells a language is :mod:`summarize.languages.families`'.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from summarize.errors import UnsupportedLanguageError

# canonical  iso639-3  nllb-200  mbart-50  other-codes(comma-separated)  English name
# "-" marks an empty column. Other codes are ISO 639-2/B, legacy 639-1, the individual
# 639-3 language NLLB uses for a macrolanguage, and a few common region/script forms.
_TABLE = """
af  afr  afr_Latn  af_ZA  -                 Afrikaans
ak  aka  aka_Latn  -      -                 Akan
am  amh  amh_Ethi  -      -                 Amharic
ar  ara  arb_Arab  ar_AR  arb               Arabic
as  asm  asm_Beng  -      -                 Assamese
ast ast  ast_Latn  -      -                 Asturian
az  aze  azj_Latn  az_AZ  azj               Azerbaijani
ba  bak  bak_Cyrl  -      -                 Bashkir
be  bel  bel_Cyrl  -      -                 Belarusian
bg  bul  bul_Cyrl  -      -                 Bulgarian
bm  bam  bam_Latn  -      -                 Bambara
bn  ben  ben_Beng  bn_IN  -                 Bengali
bo  bod  bod_Tibt  -      tib               Tibetan
br  bre  -         -      -                 Breton
bs  bos  bos_Latn  -      -                 Bosnian
ca  cat  cat_Latn  -      -                 Catalan
ceb ceb  ceb_Latn  -      -                 Cebuano
cs  ces  ces_Latn  cs_CZ  cze               Czech
cy  cym  cym_Latn  -      wel               Welsh
da  dan  dan_Latn  -      -                 Danish
de  deu  deu_Latn  de_DE  ger               German
dz  dzo  dzo_Tibt  -      -                 Dzongkha
ee  ewe  ewe_Latn  -      -                 Ewe
el  ell  ell_Grek  -      gre               Greek
en  eng  eng_Latn  en_XX  -                 English
eo  epo  epo_Latn  -      -                 Esperanto
es  spa  spa_Latn  es_XX  -                 Spanish
et  est  est_Latn  et_EE  ekk               Estonian
eu  eus  eus_Latn  -      baq               Basque
fa  fas  pes_Arab  fa_IR  per,pes           Persian
ff  ful  fuv_Latn  -      fuv               Fulah
fi  fin  fin_Latn  fi_FI  -                 Finnish
fj  fij  fij_Latn  -      -                 Fijian
fo  fao  fao_Latn  -      -                 Faroese
fr  fra  fra_Latn  fr_XX  fre               French
fy  fry  -         -      -                 Western Frisian
ga  gle  gle_Latn  -      -                 Irish
gd  gla  gla_Latn  -      -                 Scottish Gaelic
gl  glg  glg_Latn  gl_ES  -                 Galician
gn  grn  grn_Latn  -      -                 Guarani
gu  guj  guj_Gujr  gu_IN  -                 Gujarati
ha  hau  hau_Latn  -      -                 Hausa
he  heb  heb_Hebr  he_IL  iw                Hebrew
hi  hin  hin_Deva  hi_IN  -                 Hindi
hr  hrv  hrv_Latn  hr_HR  -                 Croatian
ht  hat  hat_Latn  -      -                 Haitian Creole
hu  hun  hun_Latn  -      -                 Hungarian
hy  hye  hye_Armn  -      arm               Armenian
id  ind  ind_Latn  id_ID  in                Indonesian
ig  ibo  ibo_Latn  -      -                 Igbo
ilo ilo  ilo_Latn  -      -                 Ilocano
is  isl  isl_Latn  -      ice               Icelandic
it  ita  ita_Latn  it_IT  -                 Italian
ja  jpn  jpn_Jpan  ja_XX  -                 Japanese
jv  jav  jav_Latn  -      -                 Javanese
ka  kat  kat_Geor  ka_GE  geo               Georgian
kk  kaz  kaz_Cyrl  kk_KZ  -                 Kazakh
km  khm  khm_Khmr  km_KH  -                 Khmer
kn  kan  kan_Knda  -      -                 Kannada
ko  kor  kor_Hang  ko_KR  -                 Korean
ks  kas  kas_Arab  -      -                 Kashmiri
ku  kur  kmr_Latn  -      kmr               Kurdish
ky  kir  kir_Cyrl  -      -                 Kyrgyz
lb  ltz  ltz_Latn  -      -                 Luxembourgish
lg  lug  lug_Latn  -      -                 Ganda
ln  lin  lin_Latn  -      -                 Lingala
lo  lao  lao_Laoo  -      -                 Lao
lt  lit  lit_Latn  lt_LT  -                 Lithuanian
lv  lav  lvs_Latn  lv_LV  lvs               Latvian
mg  mlg  plt_Latn  -      plt               Malagasy
mi  mri  mri_Latn  -      mao               Maori
mk  mkd  mkd_Cyrl  mk_MK  mac               Macedonian
ml  mal  mal_Mlym  ml_IN  -                 Malayalam
mn  mon  khk_Cyrl  mn_MN  khk               Mongolian
mr  mar  mar_Deva  mr_IN  -                 Marathi
ms  msa  zsm_Latn  -      may,zsm           Malay
mt  mlt  mlt_Latn  -      -                 Maltese
my  mya  mya_Mymr  my_MM  bur               Burmese
ne  nep  npi_Deva  ne_NP  npi               Nepali
nl  nld  nld_Latn  nl_XX  dut,nl-be         Dutch
nn  nno  nno_Latn  -      -                 Norwegian Nynorsk
no  nor  nob_Latn  -      nb,nob            Norwegian
nso nso  nso_Latn  -      ns                Northern Sotho
ny  nya  nya_Latn  -      -                 Chichewa
oc  oci  oci_Latn  -      -                 Occitan
om  orm  gaz_Latn  -      gaz               Oromo
or  ori  ory_Orya  -      ory               Odia
pa  pan  pan_Guru  -      -                 Punjabi
pl  pol  pol_Latn  pl_PL  -                 Polish
ps  pus  pbt_Arab  ps_AF  pbt               Pashto
pt  por  por_Latn  pt_XX  pt-br,pt-pt       Portuguese
qu  que  quy_Latn  -      quy               Quechua
rn  run  run_Latn  -      -                 Rundi
ro  ron  ron_Latn  ro_RO  rum,mo,mol        Romanian
ru  rus  rus_Cyrl  ru_RU  -                 Russian
rw  kin  kin_Latn  -      -                 Kinyarwanda
sa  san  san_Deva  -      -                 Sanskrit
sc  srd  srd_Latn  -      -                 Sardinian
sd  snd  snd_Arab  -      -                 Sindhi
sg  sag  sag_Latn  -      -                 Sango
si  sin  sin_Sinh  si_LK  -                 Sinhala
sk  slk  slk_Latn  -      slo               Slovak
sl  slv  slv_Latn  sl_SI  -                 Slovenian
sm  smo  smo_Latn  -      -                 Samoan
sn  sna  sna_Latn  -      -                 Shona
so  som  som_Latn  -      -                 Somali
sq  sqi  als_Latn  -      alb,als           Albanian
sr  srp  srp_Cyrl  -      -                 Serbian
ss  ssw  ssw_Latn  -      -                 Swati
st  sot  sot_Latn  -      -                 Southern Sotho
su  sun  sun_Latn  -      -                 Sundanese
sv  swe  swe_Latn  sv_SE  -                 Swedish
sw  swa  swh_Latn  sw_KE  swh               Swahili
ta  tam  tam_Taml  ta_IN  -                 Tamil
te  tel  tel_Telu  te_IN  -                 Telugu
tg  tgk  tgk_Cyrl  -      -                 Tajik
th  tha  tha_Thai  th_TH  -                 Thai
ti  tir  tir_Ethi  -      -                 Tigrinya
tk  tuk  tuk_Latn  -      -                 Turkmen
tl  tgl  tgl_Latn  tl_XX  fil               Tagalog
tn  tsn  tsn_Latn  -      -                 Tswana
tr  tur  tur_Latn  tr_TR  -                 Turkish
ts  tso  tso_Latn  -      -                 Tsonga
tt  tat  tat_Cyrl  -      -                 Tatar
ug  uig  uig_Arab  -      -                 Uyghur
uk  ukr  ukr_Cyrl  uk_UA  -                 Ukrainian
ur  urd  urd_Arab  ur_PK  -                 Urdu
uz  uzb  uzn_Latn  -      uzn               Uzbek
vi  vie  vie_Latn  vi_VN  -                 Vietnamese
wo  wol  wol_Latn  -      -                 Wolof
xh  xho  xho_Latn  xh_ZA  -                 Xhosa
yi  yid  ydd_Hebr  -      ydd,ji            Yiddish
yo  yor  yor_Latn  -      -                 Yoruba
yue yue  yue_Hant  -      zh-yue            Cantonese
zh  zho  zho_Hans  zh_CN  chi,cmn,zh-cn,zh-sg,zh-hans,cmn-hans,zho-hans  Chinese
zh-Hant - zho_Hant -      zh-tw,zh-hk,zh-mo,cmn-hant,zho-hant            Chinese (Traditional)
zu  zul  zul_Latn  -      -                 Zulu
"""


class Language(NamedTuple):
    """One row of the language table.

    Attributes:
        code: Canonical user-facing code (ISO 639-1 when one exists, else ISO 639-3).
        iso3: ISO 639-3 (639-2/T) code, or "" when the row is a script variant.
        nllb: NLLB-200 code (``kor_Hang``), or "" when NLLB lacks the language.
        mbart50: mBART-50 code (``ko_KR``), or "" when mBART-50 lacks the language.
        aliases: Other spellings that mean this language (lower case, ``-`` separated).
        name: English name.
    """

    code: str
    iso3: str
    nllb: str
    mbart50: str
    aliases: tuple[str, ...]
    name: str


def _parse_table(text: str) -> tuple[Language, ...]:
    rows = []
    for line in text.strip().splitlines():
        code, iso3, nllb, mbart, aliases, name = line.split(None, 5)
        rows.append(
            Language(
                code=code,
                iso3="" if iso3 == "-" else iso3,
                nllb="" if nllb == "-" else nllb,
                mbart50="" if mbart == "-" else mbart,
                aliases=() if aliases == "-" else tuple(aliases.split(",")),
                name=name.strip(),
            )
        )
    return tuple(rows)


LANGUAGES: tuple[Language, ...] = _parse_table(_TABLE)
_BY_CODE: dict[str, Language] = {lang.code: lang for lang in LANGUAGES}


def _build_aliases() -> dict[str, str]:
    aliases: dict[str, str] = {}
    for lang in LANGUAGES:
        keys = [lang.code, lang.iso3, *lang.aliases, lang.name]
        if lang.nllb:
            keys.append(lang.nllb.split("_")[0])
        for key in keys:
            if key:
                aliases.setdefault(key.lower(), lang.code)
    return aliases


_ALIASES: dict[str, str] = _build_aliases()

_NLLB_TOKEN = re.compile(r"[a-z]{3}_[A-Z][a-z]{3}")
_M2M_TOKEN = re.compile(r"__([a-z]{2,3})__")
_MBART_TOKEN = re.compile(r"[a-z]{2}_[A-Z]{2}")
_MARIAN_TOKEN = re.compile(r">>([^<>\s]+)<<")
_MADLAD_TOKEN = re.compile(r"<2([A-Za-z]{2,3}(?:[_-][A-Za-z0-9]+)*)>")
_HANT_SUBTAGS = {"hant", "tw", "hk", "mo"}


def normalize_lang(code: str) -> str:
    """Turn a language code as a user wrote it into the canonical code used everywhere.

    Args:
        code: ISO 639-1 (``ko``), 639-3 (``kor``), 639-2/B (``ger``), a BCP-47 form
            (``zh-TW``, ``pt-BR``), an English name (``Korean``) or a model-native code
            (``kor_Hang``, ``ko_KR``, ``__ko__``, ``>>kor<<``, ``<2ko>``); any case.

    Returns:
        ISO 639-1 when the language has one (``ko``), else ISO 639-3 (``ceb``); ``zh-Hant``
        for Traditional Chinese; an NLLB code outside the table (``ary_Arab``) unchanged.

    Raises:
        UnsupportedLanguageError: The code is not a known language; the message names it.
    """
    raw = code.strip() if isinstance(code, str) else ""
    if not raw:
        raise UnsupportedLanguageError(f"empty language code {code!r}")
    inner = _unwrap(raw)
    key = inner.replace("_", "-").lower()
    if key in _ALIASES:
        return _ALIASES[key]
    base, _, rest = key.partition("-")
    if base in _ALIASES:
        canon = _ALIASES[base]
        if canon == "zh" and _HANT_SUBTAGS.intersection(rest.split("-")):
            return "zh-Hant"
        return canon
    if _NLLB_TOKEN.fullmatch(inner):
        return inner
    raise UnsupportedLanguageError(
        f"unknown language code {code!r}; use an ISO 639-1 or 639-3 code such as 'ko' or 'kor'"
    )


def language_name(code: str) -> str:
    """English name of a language (``ko`` -> ``Korean``); the code itself when unlisted."""
    try:
        canon = normalize_lang(code)
    except UnsupportedLanguageError:
        return code
    lang = _BY_CODE.get(canon)
    return lang.name if lang else canon


def _unwrap(code: str) -> str:
    for pattern in (_MARIAN_TOKEN, _M2M_TOKEN, _MADLAD_TOKEN):
        match = pattern.fullmatch(code)
        if match:
            return match.group(1)
    return code


def same_language(a: str | None, b: str | None) -> bool:
    """Whether two codes name the same language: the one rule of the whole tool.

    Both are made canonical first (``kor`` is ``ko``, ``pt-BR`` is ``pt``, ``zh-TW`` is
    ``zh-Hant``), then compared exactly: Simplified and Traditional Chinese are different
    languages here (a Simplified text is not a Traditional translation), while regional
    variants the table folds together (``pt-BR``, ``en-US``) are the same. A code outside the
    table compares by its lower-cased spelling; a missing code is never the same.
    """
    if not a or not b:
        return False
    return _canonical_or_raw(a) == _canonical_or_raw(b)


def _canonical_or_raw(code: str) -> str:
    try:
        return normalize_lang(code)
    except UnsupportedLanguageError:
        return code.strip().lower()
