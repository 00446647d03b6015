"""Personal data in free text: find it and replace it with a placeholder, offline.

What is masked (placeholder in brackets):

- web addresses [url] and emails [email], also written ``name (at) example (dot) com``;
- bank and card numbers: IBANs of every IBAN country (length and mod-97 checksum, python-stdnum)
  [iban], payment cards (13-19 digits, Luhn) [card];
- national ID numbers with their checksums where one exists (python-stdnum): Dutch BSN, German
  tax id, French NIR, Spanish DNI/NIE, Italian codice fiscale, Polish PESEL, Belgian national
  number, Swedish personnummer, Danish CPR, UK NHS number; by format: UK National Insurance and
  US social security numbers [id number];
- phone numbers in international and national formats of the UK, US, Germany, France, the
  Netherlands, Spain, Italy and more (libphonenumber's matcher, plus any run of 8+ digits)
  [phone]; any other run of 9+ digits [number];
- street addresses in English, German, Dutch, French, Spanish and Italian forms, PO boxes
  [address]; postcodes of the UK, Netherlands, Canada, and US ZIP / 5-digit codes next to a state
  or a town name [postcode];
- person names [name]: after a title (Mr, Mrs, Dr, Herr, Mme ...), after a cue (ask for, spoke
  with, thanks to, my name is ...), given names from a bundled list of about 8,000 names of 32
  countries (with the following surname), names that are also English words (Will, Grace) only
  with a surname or cue; not words in capitals, nationalities, title-case function words or a
  noun after an article unless a cue precedes, nor places after a preposition of place (see
  :func:`helpers.ingest.pii_extra.place_spans` and
  :func:`helpers.ingest.pii_extra.after_place_preposition`).

Everything runs on bundled data: nothing is downloaded. The recall and the share of ordinary
comments altered are measured on the sample generator's planted, labelled personal data
(tests/test_privacy_text.py); name recall and precision on labelled real text in French
(tests/test_privacy_real.py) and in English, German, Portuguese and Danish
(tests/test_privacy_uner.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
import phonenumbers
from phonenumbers import phonenumbermatcher as _pn_matcher
from phonenumbers import phonenumberutil as _pn_util
from stdnum import iban, luhn
from stdnum.be import nn as be_nn
from stdnum.de import idnr as de_idnr
from stdnum.dk import cpr as dk_cpr
from stdnum.es import dni as es_dni
from stdnum.es import nie as es_nie
from stdnum.exceptions import InvalidChecksum, ValidationError
from stdnum.fr import nir as fr_nir
from stdnum.gb import nhs as gb_nhs
from stdnum.it import codicefiscale as it_cf
from stdnum.nl import bsn as nl_bsn
from stdnum.pl import pesel as pl_pesel
from stdnum.se import personnummer as se_pnr

from helpers.ingest import pii_extra
from helpers.ingest.pii_extra import MaskContext

NAMES_DIR = Path(__file__).with_name("names")
PLACEHOLDERS = ("[url]", "[email]", "[handle]", "[iban]", "[card]", "[id number]", "[date of birth]",
                "[phone]", "[number]", "[address]", "[postcode]", "[company]", "[name]")
PLACEHOLDER = re.compile(r"\[(?:url|email|handle|iban|card|id number|date of birth|phone|number|"
                         r"address|postcode|company|name)\]")

_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_EMAIL_SPELT = re.compile(r"\b[\w.+-]+\s*[(\[{]\s*at\s*[)\]}]\s*[\w-]+(?:\s*(?:[(\[{]\s*dot\s*[)\]}]|\.)\s*[a-z]{2,})+",
                          re.I)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]){10,30}\b")
_IBAN_LOWER = re.compile(r"\b[a-z]{2}\d{2}[a-z0-9]{10,30}\b")
_POSSESSIVE = re.compile(r"['’]s?$")  # "Dan's" -> Dan; "Dans" (French 'in') stays Dans
# 30/04/2014, 2014-04-30, 2020/2021, a typed 26/04/21014: dates and years, not phones
_DATE = re.compile(r"\d{1,4}[/.\-]\d{1,2}[/.\-]\d{1,5}|(?:19|20)\d\d\s?[/\-]\s?(?:19|20)\d\d")
_DIGITS = re.compile(r"(?<![\w+])\+?\(?\d[\d\s().\-/]{6,}\d(?![\w])")
_LONG_NUMBER = re.compile(r"(?<![\w])\d(?:[ .\-]?\d){8,}(?![\w])")
_NINO = re.compile(r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][ -]?\d{2}[ -]?\d{2}[ -]?\d{2}[ -]?[A-D]\b",
                   re.I)
_SSN = re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b")
_ES_ID = re.compile(r"\b[XYZ0-9]\d{7}-?[A-Z]\b")
_IT_CF = re.compile(r"\b[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z]\b")
_ID_DIGITS = re.compile(r"(?<![\w])\d(?:[ .\-]?\d){8,14}(?![\w])")


def _month_day(digits: str, month: int, day: int) -> bool:
    """Whether `digits` (ASCII) can hold a month and a day at these places; runs of other
    digits are left to the check."""
    return not digits.isascii() or ("01" <= digits[month:month + 2] <= "12"
                                    and "01" <= digits[day:day + 2] <= "31")


def _se_pnr_ok(digits: str) -> bool:
    """A Swedish personnummer (its birth date first: a cheap test of most phone numbers)."""
    at = len(digits) - 8
    return _month_day(digits, at, at + 2) and se_pnr.is_valid(digits)


def _dk_cpr_ok(digits: str) -> bool:
    """A Danish CPR number (its birth date first, as for :func:`_se_pnr_ok`)."""
    return _month_day(digits, 2, 0) and dk_cpr.is_valid(digits)


_ID_CHECKS: tuple[Callable[[str], bool], ...] = (
    nl_bsn.is_valid, de_idnr.is_valid, fr_nir.is_valid, pl_pesel.is_valid, be_nn.is_valid,
    _se_pnr_ok, _dk_cpr_ok, gb_nhs.is_valid)
#: Digits each national-ID check accepts (its validator's length rule, after its separators
#: are removed): a run of any other length is not tried.
_ID_LENGTHS: dict[Callable[[str], bool], tuple[int, ...]] = {
    nl_bsn.is_valid: tuple(range(1, 10)), de_idnr.is_valid: (11,), fr_nir.is_valid: (15,),
    pl_pesel.is_valid: (11,), be_nn.is_valid: (11,), _se_pnr_ok: (10, 12), _dk_cpr_ok: (10,),
    gb_nhs.is_valid: (10,)}
_PHONE_REGIONS = ("GB", "US", "DE", "FR", "NL", "ES", "IT", "BE", "IE", "AT", "CH", "SE", "PL")

_CAP = r"[A-ZÀ-ÖØ-Þ][\w'’-]*"
_STREET_EN = (r"Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Court|Ct|Place|Pl|"
              r"Square|Sq|Close|Crescent|Terrace|Parkway|Pkwy|Highway|Hwy|Row|Mews|Gardens|Walk|Hill|"
              r"Grove|Park")
_ADDRESSES = [
    # 42 Baker Street, London NW1 6XE / 1600 Elm Avenue, Springfield
    re.compile(rf"\b\d{{1,5}}[A-Za-z]?,?\s+(?:{_CAP}\s+){{1,3}}(?:{_STREET_EN})\b\.?"
               rf"(?:,?\s+{_CAP}(?:\s+{_CAP})?)?", re.U),
    # Hauptstraße 12, Keizersgracht 123, Bahnhofstr. 5
    re.compile(r"\b[A-ZÄÖÜ][\wäöüß-]*(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer|"
               r"straat|laan|gracht|plein|kade|singel|dijk|steeg|markt)\s+\d{1,4}\s?[a-zA-Z]?\b", re.U),
    # 12 rue de la Paix / 5 avenue Victor Hugo
    re.compile(rf"\b\d{{1,4}}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|av\.|boulevard|bd|place|chemin|allée|"
               rf"impasse|quai|route|cours)\s+(?:(?:de|du|des|la|le|l'|d')\s*)*{_CAP}(?:[\s-]+{_CAP})*",
               re.U | re.I),
    # Calle Mayor 5 / Via Roma 10 / Piazza di Spagna 3
    re.compile(rf"\b(?:Calle|C/|Avenida|Avda\.|Plaza|Paseo|Carrer|Via|Viale|Piazza|Corso|Largo)\s+"
               rf"(?:(?:de|del|la|las|los|di|della|dei|delle)\s+)*{_CAP}(?:\s+{_CAP})*,?\s*(?:n\.?\s*)?"
               rf"\d{{1,4}}\b", re.U),
    re.compile(r"\bP\.?\s?O\.?\s?Box\s+\d+\b", re.I),
    # 2231 maple avenue, columbus (US, in lower case; not "2 hours down the road")
    re.compile(r"\b\d{1,5}\s+(?:(?!(?:the|a|an|on|in|of|to|for|at|by|down|up|and|or|with|from|"
               r"hours?|minutes?|mins?|days?|weeks?|months?|years?|times?|miles?|km|blocks?)\b)"
               r"[a-z][\w'-]*\s+){1,3}(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|"
               r"blvd|way|court|ct|place|pl|parkway|pkwy|highway|hwy|terrace|circle|cir)\b\.?",
               re.I | re.U),
]
_POSTCODES = [
    re.compile(r"\b(?:GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})\b"),   # UK
    re.compile(r"\b[1-9]\d{3} ?(?!SA|SD|SS|MB|GB|KB|TB|AM|PM|AD|BC)[A-Z]{2}\b"),             # NL
    re.compile(r"\b[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d\b"),     # CA
    re.compile(r"\b[A-Z]{2} \d{5}(?:-\d{4})?\b"),                                           # US
    re.compile(r"\b\d{5}(?=\s+[A-ZÀ-Þ][a-zà-ÿ]{2,})", re.U),                                # DE/FR/ES/IT
]
_TITLE_WORDS = (r"Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Herrn|Herr|Hr|Frau|Fr|Mme|Mlle|Monsieur|Madame|Señora|Señor|Sr|Sra|"
                r"Dhr|Mevr|Sig|Sig\.ra|Signora|Signor")
_TITLE = re.compile(rf"\b(?:{_TITLE_WORDS})\.?\s+{_CAP}(?:\s+{_CAP})?", re.U)
_CUES = ("ask for", "asked for", "asking for", "speak to", "speak with", "spoke to", "spoke with",
         "talk to", "talked to", "talk with", "talked with", "contact", "contacted", "call",
         "called", "email", "emailed", "thanks to", "thank you", "thanks", "thx", "cheers",
         "my name is", "name is", "i am", "i'm", "named", "cc", "attn", "dear", "hi", "hello",
         "manager", "consultant", "rep", "agent", "engineer", "colleague", "ask", "pass this on to",
         "handled by", "helped by", "assigned to", "via", "manager is", "rep is", "contact is",
         "consultant is", "agent is", "engineer is", "this is", "it was", "copy", "cc'd", "ask")
_CUE = re.compile(r"(?:^|[\s,(])(?:" + "|".join(re.escape(c) for c in _CUES) + r")[\s,:]+$", re.I)
_WORD = re.compile(rf"{_CAP}", re.U)
# de Vries, van der Berg, von und zu; not German "der"/"zu" alone ("Elliott der Beerdigung")
_PARTICLES = re.compile(rf"^(?:\s+(?:de|van|von|di|da|del|della|le|la|du|ten|ter|y|bin|al)"
                        rf"(?:\s+(?:der|den|de|la|und|zu))*)+\s+{_CAP}", re.U)
_AFTER_NAME = re.compile(r"^\s+(?:from|in|at|of)\s+(?:the\s+|your\s+|our\s+)?(?:support|sales|onboarding|"
                         r"service|billing|accounts?|implementation|customer|(?-i:IT))\b", re.I)
# Capitalised words that are not names in survey comments (sentence starts aside).
_NOT_NAMES = frozenset("""
I I'm I've I'd I'll OK Ok The A An And But Or So If Then When While After Before Since Because
My Our Your Their His Her We They He She It Its This That These Those There Here What Who Why How
Everything Nothing Nobody Somebody Everyone Anyone No Yes Not Very Really Great Good Bad Thanks
Thank Please Sales Support Service Customer Success Account Manager Team Teams Onboarding Product
Implementation Training Billing Invoice Price Pricing App Website Delivery Store Online Phone
Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June
July August September October November December Q1 Q2 Q3 Q4 CEO CTO CFO VP IT HR API CRM ERP SSO
UK US USA EU Europe America Asia Africa London Paris Berlin Amsterdam Madrid Rome New York Acme
Cloud Northwind Contoso Globex Initech Microsoft Google Apple Amazon Salesforce Slack Zoom Excel
Outlook Windows Android iOS SAP Oracle Christmas Easter Black Street Road Avenue Lane Drive Way
NPS CSAT CES SLA KPI ROI Someone Somebody People Guys Folks Staff Everybody Agents Engineers
Nobody's Anybody Whoever Anyone's Management Leadership Finance Legal Procurement Marketing
Janvier Février Mars Avril Mai Juin Juillet Août Septembre Octobre Novembre Décembre Lundi Mardi
Mercredi Jeudi Vendredi Samedi Dimanche Januar Februar März Juni Juli Oktober Dezember Montag
Dienstag Mittwoch Donnerstag Freitag Samstag Sonntag Enero Febrero Marzo Abril Mayo Junio Julio
Agosto Septiembre Octubre Noviembre Diciembre Gennaio Febbraio Aprile Maggio Giugno Luglio
Settembre Ottobre Dicembre Januari Februari Maart Augustus Noël Navidad Weihnachten Pâques
""".split())
#: Capitalised words that do not start a name (title-case text, sentence starts, months,
#: nationalities); they can still be a surname (George Best, Jimmy Durante, Oliver North).
_NOT_FIRST = frozenset("""
For From With Of To In On At By About All Both Some One Any Each Also Just Only Most Many Much
More Best Worst Nice Excellent Fantastic Amazing Awesome Wonderful Perfect Terrible Horrible
Der Die Das Den Dem Des Ein Eine Als Wenn Weil Obwohl Während Nachdem Damit Dass Bei Mit Von
Für Auf Aus Nach Vor Zu Um Über Unter Durante Em Para Com Por Sem Sobre Entre Depois Antes
Quando Como Mas Desde Até Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec American British
English French German Italian Spanish Dutch Chinese Japanese Indian Mexican Canadian European
Asian African Irish Scottish Swiss Polish Russian Greek Turkish Brazilian Portuguese Swedish
Danish Norwegian Finnish Belgian Austrian Australian Korean Mediterranean North South East West
""".split()) | _NOT_NAMES
#: Words after which a capitalised word is a noun or a title, not the start of a person's name
#: ("den Schotten James Watt", "die Top-Favoritin Sara Errani", "the Sushi Lover").
_DETERMINER = re.compile(r"(?:^|[\s(„\"])(?:the|a|an|der|die|das|den|dem|des|ein|eine|einen|einem|einer|"
                         r"eines|zum|zur|im|vom|beim|het|een|o|os|um|uma|el|los|las|il|gli)\s+$", re.I)
#: Articles that never stand before a person's name ("das Beste", "ein Schotte", "een Marktplaats").
_ARTICLE = re.compile(r"(?:^|[\s(„\"])(?:das|ein|eine|einen|einem|einer|eines|het|een)\s+$", re.I)


#: Whitespace as Python's ``\s`` reads it, in RE2 (whose ``\s`` is ASCII only).
_WS = r"[\s\p{Z}\x{0B}\x{1C}-\x{1F}\x{85}]"
#: Per step of :func:`mask_text`, what any text it can change holds (RE2, run by Arrow over all
#: texts at once; :func:`may_match`). Each gate is a pattern without anchors or look-arounds that
#: can match neither "[" nor "]" nor only lower-case letters and spaces: a step replaces what it
#: finds by a placeholder ("[name]"), so a gate that matches a text after earlier steps matched
#: the text as it came in (tests/test_privacy_gates.py checks every gate against its step).
GATES: dict[str, str] = {
    "digit": r"[\p{Nd}\p{No}]",
    "iban": r"[A-Z]{2}\p{Nd}{2}",
    "iban_lower": r"[a-z]{2}\p{Nd}{2}[a-z0-9]{10}",
    "nine_digits": r"\p{Nd}(?:[ .\-]?\p{Nd}){8}",
    "intl_phone": r"\+\p{Nd}",
    "nino": r"\p{Nd}{2}[ -]?\p{Nd}{2}[ -]?\p{Nd}{2}",
    "ssn": r"\p{Nd}{3}-\p{Nd}{2}-\p{Nd}{4}",
    "es_id": r"\p{Nd}{7}-?[A-Z]",
    "it_cf": r"[A-Z]{6}\p{Nd}{2}[A-Z]\p{Nd}{2}[A-Z]\p{Nd}{3}[A-Z]",
    "postcode0": r"GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\p{Nd}[A-Z\p{Nd}]? ?\p{Nd}[ABD-HJLNP-UW-Z]{2}",
    "postcode1": r"[1-9]\p{Nd}{3} ?[A-Z]{2}",
    "postcode2": r"[ABCEGHJ-NPRSTVXY]\p{Nd}[ABCEGHJ-NPRSTV-Z] ?\p{Nd}[ABCEGHJ-NPRSTV-Z]\p{Nd}",
    "postcode3": r"[A-Z]{2} \p{Nd}{5}",
    "postcode4": rf"\p{{Nd}}{{5}}{_WS}+[A-ZÀ-Þ][a-zà-ÿ]{{2}}",
    "address0": rf"\p{{Nd}}[A-Za-z]?,?{_WS}+[A-ZÀ-ÖØ-Þ]",
    "address1": r"(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer|straat|laan|gracht|plein|"
                rf"kade|singel|dijk|steeg|markt){_WS}+\p{{Nd}}",
    "address2": rf"\p{{Nd}}(?:{_WS}?\pL{{3}})?,?{_WS}+\pL",
    "address3": rf"(?:Calle|C/|Avenida|Avda\.|Plaza|Paseo|Carrer|Via|Viale|Piazza|Corso|Largo){_WS}",
    "address4": rf"\pL\.?{_WS}?\pL\.?{_WS}?\pL{{3}}{_WS}+\p{{Nd}}",
    "address5": rf"\p{{Nd}}{_WS}+\pL",
    "title": rf"(?:{_TITLE_WORDS})\.?{_WS}+[A-ZÀ-ÖØ-Þ]",
    **pii_extra.NUMBER_GATES,
    **pii_extra.LOWER_NAME_GATES,
}
_BIT = {name: 1 << k for k, name in enumerate(GATES)}
#: Bit of :func:`may_match` for a text that may hold a company name of its context.
COMPANY_BIT = 1 << len(GATES)
_BIT_LOWER = len(GATES) - len(pii_extra.LOWER_NAME_GATES)
_BIT_NUMBERS = _BIT_LOWER - len(pii_extra.NUMBER_GATES)
_LOWER_BITS = (1 << len(pii_extra.LOWER_NAME_GATES)) - 1
#: Every step of :func:`mask_text` (no gate known).
ALL_STEPS = -1


def may_match(texts: list[str], context: MaskContext | None = None) -> list[int]:
    """Per text, the bits of :data:`GATES` it matches (one RE2 pass per gate by Arrow), for
    :func:`mask_text`'s `may` (with the same `context`), and :data:`COMPANY_BIT` where it may
    hold a company name of `context` (every text without a context)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(texts, pa.string())
    bits = np.zeros(len(texts), np.int64)
    for name, pattern in GATES.items():
        bits[pc.match_substring_regex(arr, pattern).to_numpy(zero_copy_only=False)] |= _BIT[name]
    gate = context.companies.gate() if context is not None and context.companies is not None else None
    if context is None or (context.companies is not None and gate is None):
        bits |= COMPANY_BIT
    elif gate is not None:
        bits[pc.match_substring_regex(arr, gate).to_numpy(zero_copy_only=False)] |= COMPANY_BIT
    return bits.tolist()


@cache
def name_lists() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(given names, given names that are also English words, surnames), bundled in names/."""
    def read(name: str) -> frozenset[str]:
        return frozenset((NAMES_DIR / name).read_text(encoding="utf-8").split())
    return read("given_names.txt"), read("given_names_also_words.txt"), read("surnames.txt")


_names = name_lists


@cache
def _listed() -> tuple[frozenset[str], frozenset[str]]:
    """(given names and surnames, the same with the names that are also words), built once."""
    given, also_words, surnames = name_lists()
    return given | surnames, given | surnames | also_words


def _sub_valid(rx: re.Pattern[str], text: str, ok: Callable[[str], bool], label: str) -> str:
    return rx.sub(lambda m: label if ok(m.group()) else m.group(), text)


def _iban_ok(candidate: str) -> bool:
    """A real IBAN: known country and length; a wrong checksum still looks like one (mask it)."""
    try:
        iban.validate(candidate)
    except InvalidChecksum:
        return True
    except ValidationError:
        return False
    return True


def _card_ok(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    return 13 <= len(digits) <= 19 and luhn.is_valid(digits)


def _id_ok(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    return any(_quiet(check, digits) for check in _ID_CHECKS if len(digits) in _ID_LENGTHS[check])


def _es_ok(candidate: str) -> bool:
    return _quiet(es_dni.is_valid, candidate) or _quiet(es_nie.is_valid, candidate)


def _quiet(check: Callable[[str], bool], value: str) -> bool:
    try:
        return bool(check(value))
    except Exception:  # noqa: BLE001 - a validator that chokes on odd input means "not this kind"
        return False


_INTL_PHONE = re.compile(r"\+\d[\d ().\-]{6,18}\d")


def _international_phones(text: str) -> str:
    """Numbers written with a country code ("+49 170 1234567") that libphonenumber calls valid:
    phones, before the national-ID checks can read their digits as an ID number."""
    def one(m: re.Match[str]) -> str:
        try:
            ok = phonenumbers.is_valid_number(phonenumbers.parse(m.group(), None))
        except phonenumbers.NumberParseException:
            ok = False
        return "[phone]" if ok else m.group()
    return _INTL_PHONE.sub(one, text) if "+" in text else text


def _phones(text: str) -> str:
    """Any run of 8+ digits, and libphonenumber's matcher in each region where it can find more."""
    if sum(map(str.isdigit, text)) < 7:
        return text
    spans = _digit_runs(text)
    if _matcher_may_add(text, spans):
        for region in _PHONE_REGIONS:
            for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
                spans.append((m.start, m.end))
    return _replace_spans(text, spans, "[phone]")


def _digit_runs(text: str) -> list[tuple[int, int]]:
    """Spans of the runs of 8+ digits that are not dates."""
    return [run.span() for run in _DIGITS.finditer(text)
            if sum(map(str.isdigit, run.group())) >= 8 and not _DATE.fullmatch(run.group())]


# libphonenumber's matcher only looks at runs of digits, its punctuation (which holds "x"),
# brackets and plus signs, with an extension after them; a number it calls valid has at least
# _MIN_PHONE_DIGITS digits, and starts at a bracket, a plus sign or a digit.
_PHONE_ZONE = re.compile("[" + _pn_util._VALID_PUNCTUATION + _pn_matcher._OPENING_PARENS
                         + _pn_matcher._CLOSING_PARENS + _pn_util._PLUS_CHARS + r"\d]+", re.I)
_PHONE_CORE = re.compile("[" + _pn_matcher._OPENING_PARENS + _pn_util._PLUS_CHARS + r"\d].*\d", re.S)
_PHONE_EXTENSION = re.compile(_pn_util._EXTN_PATTERNS_FOR_MATCHING, _pn_util._REGEX_FLAGS)
_MIN_PHONE_DIGITS = 4


def _matcher_may_add(text: str, spans: list[tuple[int, int]]) -> bool:
    """Whether libphonenumber's matcher could find a phone outside `spans` (the digit runs
    masked anyway): an extension anywhere, or a stretch of its characters with 4+ digits
    that no span covers. Otherwise its matches would change nothing, so it is not run."""
    if _PHONE_EXTENSION.search(text):
        return True
    covered = _merged(spans)
    for zone in _PHONE_ZONE.finditer(text):
        core = _PHONE_CORE.search(zone.group())
        if core is None or sum(ch.isdigit() or ch in "xX" for ch in core.group()) < _MIN_PHONE_DIGITS:
            continue
        start, end = zone.start() + core.start(), zone.start() + core.end()
        if not any(a <= start and end <= b for a, b in covered):
            return True
    return False


def _merged(spans: list[tuple[int, int]]) -> list[list[int]]:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def _replace_spans(text: str, spans: list[tuple[int, int]], label: str) -> str:
    for start, end in reversed(_merged(spans)):
        text = text[:start] + label + text[end:]
    return text


def _sentence_start(text: str, at: int) -> bool:
    before = text[:at].rstrip()
    return not before or before[-1] in ".!?:;\"'(\n" or before.endswith("]")


def _lookup(word: str, listed: frozenset[str], surname: bool = False) -> str:
    """A word as the name lists spell it: a word in capitals ("DEBRA", "TODAY", "TIM") can start
    a name only when listed and longer than an acronym (then title-cased), otherwise it is
    nothing; after a name (`surname`) it stays as written (Fernand DAGON)."""
    token = _POSSESSIVE.sub("", word) if "'" in word or "’" in word else word
    if token.isupper() and len(token) > 1:
        if len(token) > 3 and token.title() in listed:
            return token.title()
        return token if surname else ""
    return token


def _joins_previous(text: str, prev: re.Match[str] | None, start: int, keep: frozenset[str],
                    listed: frozenset[str] | None) -> bool:
    """The capitalised word before a name is part of it (Leilani Quendel in onboarding), unless
    it is a known word, a noun or title after an article, or a compound (TV-Moderator); before a
    given name and surname found by the lists, only a `listed` word is (not "Witwe Anne Horton")."""
    return (prev is not None and text[prev.end():start] == " " and prev.group() not in _NOT_FIRST
            and (listed is None or _POSSESSIVE.sub("", prev.group()) in listed)
            and prev.group().lower() not in keep and "-" not in prev.group()
            and not (prev.group().isupper() and len(prev.group()) > 1)
            and not _DETERMINER.search(text[max(0, prev.start() - 12):prev.start()]))


def _names_in(text: str, keep: frozenset[str] = frozenset()) -> list[tuple[int, int]]:
    """Spans of person names (see the module docstring for the rules); words in `keep` (lower
    case) are the programme's own vocabulary, names only after a cue."""
    given, also_words, surnames = _names()
    listed, listed_or_words = _listed()
    words = list(_WORD.finditer(text))
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        w = words[i]
        token = _lookup(w.group(), listed)
        if not token or token in _NOT_FIRST:
            i += 1
            continue
        nxt = words[i + 1] if i + 1 < len(words) else None
        adjacent = nxt is not None and text[w.end():nxt.start()] == " "
        nxt_token = _lookup(nxt.group(), listed, surname=True) if adjacent and nxt else ""
        surname_next = bool(nxt_token) and nxt_token not in _NOT_NAMES  # a surname stays one
        cue = _cue_before(text, w) if token.lower() in keep else None
        if cue is False:
            i += 1    # a cue outweighs the programme's vocabulary
            continue
        listed_name = not w.group().isupper() and _listed_name(  # "QUI PAYE": a name only after a cue
            text, w, token, nxt_token if surname_next else "", (given, also_words, surnames)) \
            and not _ARTICLE.search(text[max(0, w.start() - 8):w.start()])
        if cue is None and (not listed_name or surname_next):
            cue = _cue_before(text, w)
        if cue or listed_name:
            end = nxt.end() if surname_next and nxt is not None else w.end()
            particle = _PARTICLES.match(text[end:])  # de Vries, van der Berg, di Stefano
            end += particle.end() if particle else 0
            prev = words[i - 1] if i > 0 else None
            joins = _joins_previous(text, prev, w.start(), keep,
                                    listed_or_words if surname_next and not cue else None)
            start = prev.start() if prev and joins else w.start()
            spans.append((start, end))
            i += 2 if surname_next else 1
            continue
        i += 1
    return spans


def _cue_before(text: str, w: re.Match[str]) -> bool:
    """A cue before the word ("spoke with") or "from support" after it."""
    return _may_end_in_cue(text, w.start()) and bool(_CUE.search(text[max(0, w.start() - 30):w.start()])) \
        or bool(_AFTER_NAME.match(text[w.end():]))


def _may_end_in_cue(text: str, at: int) -> bool:
    """Whether :data:`_CUE` can match the 30 characters before `at`: they end with spaces,
    commas or colons after a letter (every cue ends with a letter)."""
    start, i = max(0, at - 30), at
    while i > start and (text[i - 1].isspace() or text[i - 1] in ",:"):
        i -= 1
    return start < i < at and text[i - 1].isalpha()


def _listed_name(text: str, w: re.Match[str], token: str, surname: str,
                 lists: tuple[frozenset[str], frozenset[str], frozenset[str]]) -> bool:
    """Whether the name lists make `token` a name: a given name; a given name that is also a
    word with a listed `surname` (the next word, "" if none) or a particle after it, or with any
    surname inside a sentence; a listed surname with a listed surname inside a sentence."""
    given, also_words, surnames = lists
    if token in given:
        return True
    if token in also_words:
        return bool(surname) and (surname in surnames or not _sentence_start(text, w.start())) \
            or bool(_PARTICLES.match(text[w.end():]))
    return bool(surname) and surname in surnames and token in surnames \
        and not _sentence_start(text, w.start())


def is_person_name(value: str) -> bool:
    """A whole value written like a person's name: two to four capitalised words, the first a
    given name of the bundled lists, also a surname when the given name is an ordinary word
    ("Anna Schmidt", "Carlos López", "Will Smith"; not "New York", "Rose Garden")."""
    words = str(value).split()
    if not 2 <= len(words) <= 4 or not all(w[:1].isupper() for w in words):
        return False
    given, also_words, surnames = _names()
    first, last = words[0].rstrip(".,"), words[-1].rstrip(".,")
    return first in given and (first not in also_words or last in surnames)


def mask_text(text: str, context: MaskContext | None = None, may: int = ALL_STEPS) -> str:
    """One comment with every kind of personal data replaced by its placeholder; `context`
    adds a programme's company names and its own vocabulary (never masked as names). `may`
    (from :func:`may_match`) skips the steps whose gate the text does not match: the result is
    the same, only faster."""
    keep = context.keep if context is not None else frozenset()
    t = _emails_and_urls(text)
    t = pii_extra.mask_contacts(t)
    t = pii_extra.mask_companies(t, context, may & COMPANY_BIT)
    if may & _BIT["digit"]:
        t = _mask_digits(t, may)
    if may & _BIT["title"]:
        t = _TITLE.sub("[name]", t)
    lower = may >> _BIT_LOWER
    names = _names_in(t, keep) + (pii_extra.lower_name_spans(t, keep, lower) if lower & _LOWER_BITS else [])
    places = pii_extra.place_spans(t) if names else []
    names = [n for n in names if not any(p[0] <= n[0] and n[1] <= p[1] for p in places)
             and not pii_extra.after_place_preposition(t, n)]
    return _replace_spans(t, names, "[name]")


#: The steps of :func:`mask_text` that need a digit, in order, each with its gate.
_DIGIT_STEPS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("iban", lambda t: _sub_valid(_IBAN, t, _iban_ok, "[iban]")),
    ("iban_lower", lambda t: _sub_valid(_IBAN_LOWER, t, lambda v: _quiet(iban.is_valid, v.upper()), "[iban]")),
    ("nine_digits", lambda t: _sub_valid(_LONG_NUMBER, t, _card_ok, "[card]")),
    ("intl_phone", _international_phones),
    ("nino", lambda t: _NINO.sub("[id number]", t)),
    ("ssn", lambda t: _SSN.sub("[id number]", t)),
    ("es_id", lambda t: _sub_valid(_ES_ID, t, _es_ok, "[id number]")),
    ("it_cf", lambda t: _sub_valid(_IT_CF, t, lambda v: _quiet(it_cf.is_valid, v), "[id number]")),
    ("nine_digits", lambda t: _sub_valid(_ID_DIGITS, t, _id_ok, "[id number]")),
    *((f"postcode{k}", lambda t, rx=rx: rx.sub("[postcode]", t)) for k, rx in enumerate(_POSTCODES)),
    *((f"address{k}", lambda t, rx=rx: rx.sub("[address]", t)) for k, rx in enumerate(_ADDRESSES)),
    ("digit", _phones),
    ("nine_digits", lambda t: _LONG_NUMBER.sub("[number]", t)),
)


def _mask_digits(t: str, may: int) -> str:
    """The steps of :func:`mask_text` that need a digit: numbers, bank, card and ID numbers,
    postcodes, addresses, phones (each only where its gate in `may` is set)."""
    t = pii_extra.mask_numbers(t, may >> _BIT_NUMBERS)
    for step in _digit_steps(may):
        t = step(t)
    return t


@lru_cache(maxsize=4096)
def _digit_steps(may: int) -> tuple[Callable[[str], str], ...]:
    """The steps of :data:`_DIGIT_STEPS` whose gate is in `may`, in order."""
    return tuple(step for gate, step in _DIGIT_STEPS if may & _BIT[gate])


def _emails_and_urls(text: str) -> str:
    """Web addresses, e-mails and e-mails written with "(at)"; each pattern only where the
    characters it needs occur ("://" or "www.", "@", a bracket)."""
    t = _URL.sub("[url]", text) if "://" in text or "www." in text.lower() else text
    t = _EMAIL.sub("[email]", t) if "@" in t else t
    return _EMAIL_SPELT.sub("[email]", t) if "(" in t or "[" in t or "{" in t else t


def mask_contact_details(text: str) -> str:
    """Only the contact details of a text (web addresses, e-mails, handles, phone numbers): for
    values many respondents share, such as a segment's levels, which are no one's name."""
    t = _emails_and_urls(text)
    t = pii_extra.mask_contacts(t)
    t = _international_phones(t)
    return _phones(t)


def mask_shared_value(text: str) -> str:
    """A value many respondents share (a segment level): its contact details, names after a
    title ("Danke an Herrn Klaus Weber") and the whole value when it is written like a person's
    name ("Thomas Ashworth", a referrer); its other capitalised words stay ("Rose Garden",
    "Victoria" are levels, not people)."""
    if is_person_name(text.strip()):
        return "[name]"
    return _TITLE.sub("[name]", mask_contact_details(text))


def strip_placeholders(text: str) -> str:
    """Text without the placeholders (theme words must not be 'name' or 'address')."""
    return PLACEHOLDER.sub(" ", text)
