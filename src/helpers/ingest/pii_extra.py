"""Personal data that plain patterns miss: written in lower case, in other scripts, obfuscated.

Used by :func:`helpers.ingest.pii_text.mask_text` (see its module docstring for the full list):

- names written in lower case after a cue in English, French, Spanish, German, Italian, Dutch
  and Portuguese ("merci à sophie dupont", "thanks to john smith") or after a title ("danke an
  Herrn müller"); names in Cyrillic (two capitalised words one of which has a surname or
  patronymic ending, or a capitalised word after a cue such as "спасибо") and in Chinese (a
  common surname and one or two characters after a cue such as 感谢 / 客服 or before a title
  such as 先生 / 经理) [name];
- customer numbers (letters, a dash and 6+ digits: CUST-0048213, AC-77-1234; 4+ digits after
  "customer number", "Kundennummer", "n° client" ...) [id number]; dates after "born", "DOB",
  "geboren", "né le" ... [date of birth];
- profile addresses without a scheme (linkedin.com/in/..., facebook.com/..., github.com/...)
  [url]; e-mails written with words ("jane dot doe at acme dot com", "jane at acme.com") [email];
  social handles (@name) [handle];
- customer company names (the accounts table's ``account_name``, with and without a legal form
  such as GmbH or Inc.) [company].

:class:`MaskContext` carries what a programme adds: its company names and its own vocabulary
(``privacy.keep`` in the schema, and words that recur across its comments, see
:func:`recurring_words`), which are never masked as names.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

_L = r"[^\W\d_]"   # a letter of any script
_STOP = frozenset("""
a an the and or but for to of in on at by with from into over for is was are were be been it
this that these those all every everyone everybody team you your our my his her their them us
me him we they he she i de du des la le les l un une et ou pour par avec sur dans au aux à ce
ces tout toute toutes tous el los las del al y o por para con en su sus lo todo todos todas
der die das den dem des ein eine einen einem und oder für mit von vom zum zur im am an auf aus
bei ist war sind waren sehr nicht ganze ganzen alle allen il lo gli i per con da del della dei
di e tutti tutte het een en voor met op aan bij van alle iedereen o os as um uma com para pelo
pela todos nos na no do da dos das ao sempre very so too really just also quick fast great
""".split())
_CUE_WORDS = (
    r"thanks? to|thank you|thanks|spoke (?:to|with)|speak (?:to|with)|talked (?:to|with)|ask for|"
    r"asked for|helped by|handled by|my name is|name is|merci (?:à|a)|merci|grâce à|je m'appelle|"
    r"gracias a|gracias|me llamo|atendido por|atendida por|danke an|danke|vielen dank an|"
    r"ich heiße|mein name ist|grazie a|grazie|mi chiamo|dank aan|dank u|bedankt|mijn naam is|"
    r"obrigad[oa] (?:à|ao|a)|obrigad[oa]|meu nome é|chamo-me")
_LOWER_CUE = re.compile(rf"(?i)(?<!\w)(?:{_CUE_WORDS})\s+(?:(?:à|a|al|an|to|la|le|el)\s+)?"
                        rf"({_L}[\w'’-]*)(?:\s+({_L}[\w'’-]*))?(?:\s+({_L}[\w'’-]*))?")
_PARTICLE_WORDS = frozenset("de van der den von zu di da del della le la du ten ter dos das".split())
_TITLE_WORD = re.compile(r"Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Herrn?|Hr|Frau|Fr|Mme|Mlle|Monsieur|Madame|Señora?|"
                         r"Sra?|Dhr|Mevr|Sig|Signora?|Signor")
_TITLE_LOWER_WORDS = r"Mr|Mrs|Ms|Herrn|Herr|Frau|Mme|Mlle|Monsieur|Madame|Señora|Señor|Sra|Sr|Sig\.ra|Signora|Signor|Sig|Dhr|Mevr|Sra"
_TITLE_LOWER = re.compile(rf"\b(?:{_TITLE_LOWER_WORDS})\.?\s+([a-zà-öø-ÿß][\w'’-]+)")

_CYR_CAP = r"[А-ЯЁ][а-яё]+"
_CYR_SURNAME = re.compile(r"(?:ов|ев|ёв|ин|ын|ова|ева|ёва|ина|ына|ову|еву|ину|овой|евой|иной|овым|"
                          r"евым|ским|ский|ская|ского|ской|цкий|цкая|енко|ук|юк|ович|евич|овна|евна|"
                          r"ична|овичу|евичу|овне|евне)$")
_CYR_CUE = re.compile(r"(?i)(?:спасибо|благодарю|благодарность|менеджер[ау]?|консультант[ау]?|"
                      r"оператор[ау]?|сотрудник[ау]?|сотрудница|мастер[ау]?|курьер[ау]?|зовут|"
                      r"помог(?:ла|ли)?|специалист[ау]?)[\s,:—–-]+$")
_CYR_WORD = re.compile(_CYR_CAP)
_HAN_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
                 "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛"
                 "郝龚邵万钱严覃武戴莫孔向汤")
_HAN_STOP = "的了是很非在和与处说给为对把被先女小经老总主工顾客同也都就还又已而"
_HAN_GIVEN = rf"[{_HAN_SURNAMES}][^\W\d_{_HAN_STOP}a-zA-Z]{{1,2}}"
_HAN_NAMES = [
    re.compile(rf"(?<=感谢|谢谢|联系|我叫|我是|客服|销售|经理|顾问|师傅|同事)(?:小|老)?({_HAN_GIVEN})"),
    re.compile(rf"({_HAN_GIVEN})(?=先生|女士|小姐|经理|老师|主管|总监|工程师|师傅|顾问)"),
]

_CUSTOMER_NO = re.compile(r"\b[A-Z]{2,5}(?:-\d+){1,3}\b")
_CUSTOMER_CUE = re.compile(
    r"(?i)\b(?:customer|client|account|member|contract|policy|kunden|vertrags|klant)"
    r"[ -]?(?:number|no\.?|nr\.?|nummer|n°|#|id|ref)?\s*(?:n°|no\.?|nr\.?|#|:)?\s*"
    r"([A-Z0-9][A-Z0-9/-]*\d{4,}[A-Z0-9/-]*)|\b(?:n°|numéro|número|numero)\s+(?:de\s+)?client[e]?"
    r"\s*:?\s*([A-Z0-9][A-Z0-9/-]*\d{4,}[A-Z0-9/-]*)")
_MONTHS = (r"jan(?:uary|vier|uar|uari)?|feb(?:ruary|ruar|ruari)?|févr(?:ier)?|mar(?:ch|s)?|märz|"
           r"apr(?:il)?|avr(?:il)?|may|mai|mei|june?|juin|juni|july?|juil(?:let)?|juli|aug(?:ust)?|"
           r"août|sep(?:t|tember|tembre)?|oct(?:ober|obre)?|okt(?:ober)?|nov(?:ember|embre)?|"
           r"dec(?:ember)?|déc(?:embre)?|dez(?:ember)?|enero|febrero|marzo|abril|mayo|junio|julio|"
           r"agosto|septiembre|octubre|noviembre|diciembre|gennaio|febbraio|aprile|maggio|giugno|"
           r"luglio|settembre|ottobre|dicembre")
_DATE_ANY = (rf"\d{{1,4}}[/.\-]\d{{1,2}}[/.\-]\d{{2,4}}|\d{{1,2}}\.?\s+(?:{_MONTHS})\.?,?\s+\d{{4}}|"
             rf"(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}")
_BIRTH = re.compile(
    rf"(?i)(\b(?:date of birth|birth ?date|birthday|dob|d\.o\.b\.?|born(?: on)?|geboren(?: am)?|"
    rf"geb\.|geburtsdatum|né(?:e)? le|date de naissance|fecha de nacimiento|nacid[oa] el|"
    rf"nat[oa] il|data di nascita|geboortedatum|geboren op|data de nascimento|nascid[oa] em)"
    rf"\s*:?\s*)({_DATE_ANY})")
_PROFILE = re.compile(r"(?i)\b(?:[\w-]+\.)?(?:linkedin|facebook|fb|instagram|twitter|x|tiktok|github|"
                      r"gitlab|xing|youtube|medium|pinterest|threads|vk|t\.me|snapchat)\.(?:com|net|me|"
                      r"de|fr|es|it|nl)/\S+")
_TLD = r"(?:com|net|org|de|fr|es|it|nl|be|ch|at|uk|co|io|eu|info|pt|se|dk|no|pl|ie|us|ca)"
_EMAIL_WORDS = re.compile(
    rf"(?i)(?<![\w.])([\w.+-]+(?:\s+dot\s+[\w+-]+)*)\s+(?:at|\(at\)|\[at\])\s+"
    rf"([\w-]+(?:(?:\s+dot\s+|\.)[\w-]+)*(?:\s+dot\s+|\.){_TLD})\b")
_HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?\b")
_LEGAL_FORM = re.compile(r"(?i)[\s,]+(?:gmbh|ag|kg|inc\.?|ltd\.?|llc|plc|corp\.?|co\.?|s\.?a\.?s?|"
                         r"s\.?r\.?l\.?|s\.?p\.?a\.?|b\.?v\.?|n\.?v\.?|sarl|oy|ab|as|a/s|limited)$")


@dataclass(frozen=True)
class MaskContext:
    """What one programme adds to masking: words never masked as names (lower case) and its
    customers' company names (None when there are none)."""

    keep: frozenset[str] = frozenset()
    companies: CompanyNames | None = None

    @classmethod
    def build(cls, keep: Iterable[str] = (), companies: Iterable[str] = ()) -> MaskContext:
        """From an allow-list (``privacy.keep``) and company names (accounts' ``account_name``)."""
        names = CompanyNames(company_forms(companies))
        return cls(frozenset(w.lower() for w in keep if w), names if names.words else None)

    def with_keep(self, words: Iterable[str]) -> MaskContext:
        return dataclasses.replace(self, keep=self.keep | {w.lower() for w in words})


def company_forms(names: Iterable[str]) -> set[str]:
    """Company names as written and without their legal form (4 characters or more)."""
    forms: set[str] = set()
    for name in names:
        full = " ".join(str(name).split())
        for form in (full, _LEGAL_FORM.sub("", full)):
            if len(form) >= 4 and not form.isdigit():
                forms.add(form)
    return forms


_WORD = re.compile(r"\w+")


class CompanyNames:
    """Company names matched case-insensitively as whole words, any number of them: a text is
    searched only for the names whose first two words it holds in a row (a name's words are
    whole words of any text it is found in), longest name first, as one pattern of them all."""

    def __init__(self, forms: Iterable[str]) -> None:
        self.index = _by_first_words(list(forms))
        self.words = frozenset(k[0] for k in self.index)
        self._patterns: dict[frozenset[str], re.Pattern[str]] = {}

    def _pattern(self, text: str) -> re.Pattern[str] | None:
        tokens = _WORD.findall(text)
        if self.words.isdisjoint(map(str.lower, tokens)):   # most texts: no name's first word
            return None
        tokens = [w.lower() for w in tokens]
        forms = frozenset(f for i, w in enumerate(tokens) if w in self.words
                          for key in ((w,), (w, *tokens[i + 1:i + 2])) for f in self.index.get(key, ()))
        if not forms:
            return None
        if forms not in self._patterns:
            if len(self._patterns) > 10_000:
                self._patterns.clear()
            alts = "|".join(re.escape(f).replace(r"\ ", r"\s+") for f in sorted(forms, key=lambda f: (-len(f), f)))
            self._patterns[forms] = re.compile(rf"(?i)(?<![\w])(?:{alts})(?![\w])")
        return self._patterns[forms]

    def gate(self) -> str | None:
        """RE2 (run by Arrow) that every text holding one of the names matches, after other
        steps put placeholders in it or not: any name's first word, in any case; None when a
        word is not plain ASCII or is a placeholder's word, or too many for one pattern (every
        text may then hold a name)."""
        if len(self.words) > 2000 or not all(w.isascii() and w.replace("_", "a").isalnum() for w in self.words) \
                or self.words & {"url", "email", "handle"}:
            return None
        return key_gate(tuple(sorted(self.words)))

    def search(self, text: str) -> re.Match[str] | None:
        pattern = self._pattern(text)
        return None if pattern is None else pattern.search(text)

    def sub(self, repl: str, text: str) -> str:
        pattern = self._pattern(text)
        return text if pattern is None else pattern.sub(repl, text)


#: What _WORD finds first (`a`) and second (`b`, "" when none) in an ASCII text, in RE2 syntax.
_ASCII_FIRST_WORDS = r"^[^A-Za-z0-9_]*(?P<a>[A-Za-z0-9_]+)(?:[^A-Za-z0-9_]+(?P<b>[A-Za-z0-9_]+))?"


def _by_first_words(forms: list[str]) -> dict[tuple[str, ...], tuple[str, ...]]:
    """`forms` grouped by their first two words in lower case (the first alone in a one-word
    form), as :data:`_WORD` finds them; a form without a word is left out. The ASCII forms (an
    account master's 100k names) are keyed and grouped by Arrow at once, the others one by one."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(forms, pa.string())
    is_ascii = pc.string_is_ascii(arr)
    plain = arr.filter(is_ascii)
    words = pc.extract_regex(pc.ascii_lower(plain), _ASCII_FIRST_WORDS)
    table = pa.table({"a": pc.struct_field(words, "a"), "b": pc.struct_field(words, "b"),
                      "form": plain}).filter(words.is_valid())
    grouped = table.group_by(["a", "b"], use_threads=False).aggregate([("form", "list")])
    index: dict[tuple[str, ...], tuple[str, ...]] = {
        (a, b) if b else (a,): tuple(group) for a, b, group in zip(
            grouped["a"].to_pylist(), grouped["b"].to_pylist(), grouped["form_list"].to_pylist(),
            strict=True)}
    for form in arr.filter(pc.invert(is_ascii)).to_pylist():
        key = tuple(w.lower() for w in _WORD.findall(form)[:2])
        if key:
            index[key] = (*index.get(key, ()), form)
    return index


_BIRTH_KEYS = ("birth", "dob", "d.o.b", "born", "geb", "né", "naissance", "nacid", "nacimiento",
               "nato", "nata", "nascit", "nascid", "geboorte")
_CUSTOMER_KEYS = ("customer", "client", "account", "member", "contract", "policy", "kunden",
                  "vertrag", "klant", "n°", "numéro", "número", "numero")
_LOWER_CUE_KEYS = ("thank", "spoke", "speak", "talked", "ask", "helped", "handled", "name", "merci",
                   "grâce", "appelle", "gracias", "llamo", "atendid", "dank", "heiße", "grazie",
                   "chiamo", "bedankt", "naam", "obrigad", "nome", "chamo")


def _key_char(c: str) -> str:
    """RE2 for one character of a key, ignoring case as Python's `re` and `str.lower` do (RE2
    alone does not read the Turkish "İ" and "ı" as "i")."""
    return "[iIİı]" if c == "i" else re.escape(c)


def key_gate(keys: tuple[str, ...]) -> str:
    """RE2 (run by Arrow) that any text holding one of `keys` matches, found in the text in
    lower case (:func:`_has_any`) or by a pattern ignoring case (tests/test_privacy_gates.py)."""
    return "(?i:" + "|".join("".join(map(_key_char, key)) for key in keys) + ")"


#: Gates of :func:`lower_name_spans` (bits 1, 2, 4, 8 of its `may`), as in
#: :data:`helpers.ingest.pii_text.GATES`: a title before a lower-case word, a Cyrillic capital,
#: a common Chinese surname, a word of a cue for a lower-case name.
LOWER_NAME_GATES = {
    "title_lower": rf"(?:{_TITLE_LOWER_WORDS})\.?[\s\p{{Z}}\x{{0B}}\x{{1C}}-\x{{1F}}\x{{85}}]+[a-zà-öø-ÿß]",
    "cyrillic": "[А-ЯЁ]", "han": f"[{_HAN_SURNAMES}]", "lower_cue": key_gate(_LOWER_CUE_KEYS)}
#: Gates of :func:`mask_numbers` (bits 1, 2 of its `may`): a word of a date-of-birth cue, of a
#: customer-number cue.
NUMBER_GATES = {"birth": key_gate(_BIRTH_KEYS), "customer": key_gate(_CUSTOMER_KEYS)}


_KEY_PATTERNS: dict[tuple[str, ...], re.Pattern[str]] = {}


def _has_any(text: str, keys: tuple[str, ...]) -> bool:
    """Whether the text in lower case holds any of `keys` (one compiled pattern per key set)."""
    if keys not in _KEY_PATTERNS:
        _KEY_PATTERNS[keys] = re.compile("|".join(re.escape(k) for k in keys))
    return _KEY_PATTERNS[keys].search(text.lower()) is not None


def mask_contacts(text: str) -> str:
    """Profile addresses, e-mails written with words, handles (before the other patterns)."""
    t = _PROFILE.sub("[url]", text) if "/" in text else text
    if " at " in t.lower() or "(at)" in t or "[at]" in t:
        t = _EMAIL_WORDS.sub(_email_words, t)
    return _HANDLE.sub("[handle]", t) if "@" in t else t


def _email_words(m: re.Match[str]) -> str:
    local = m.group(1)
    written = " dot " in m.group(0).lower() or "(at)" in m.group(0) or "[at]" in m.group(0)
    if written or re.search(r"[._+\d]", local) or _is_given(local):
        return "[email]"
    return m.group(0)


def _is_given(word: str) -> bool:
    from helpers.ingest.pii_text import name_lists
    given, also_words, _ = name_lists()
    return word[:1].upper() + word[1:].lower() in given


def mask_numbers(text: str, may: int = -1) -> str:
    """Customer numbers and dates of birth (before phones and dates are read); `may`: the bits
    of :data:`NUMBER_GATES` the text matched (see :func:`helpers.ingest.pii_text.may_match`)."""
    if not any(map(str.isdigit, text)):
        return text
    t = _BIRTH.sub(lambda m: m.group(1) + "[date of birth]", text) \
        if may & 1 and _has_any(text, _BIRTH_KEYS) else text
    if may & 2 and _has_any(t, _CUSTOMER_KEYS):
        t = _CUSTOMER_CUE.sub(_customer_after_cue, t)
    if "-" not in t:
        return t
    return _CUSTOMER_NO.sub(lambda m: "[id number]" if sum(c.isdigit() for c in m.group()) >= 6
                            else m.group(), t)


def _customer_after_cue(m: re.Match[str]) -> str:
    group = 1 if m.group(1) else 2
    start, end = m.span(group)
    s = m.group(0)
    offset = m.start()
    return s[:start - offset] + "[id number]" + s[end - offset:]


def mask_companies(text: str, ctx: MaskContext | None, may: int = -1) -> str:
    """Customers' company names (`may`: 0 when the text's gate showed it holds none)."""
    if not may or ctx is None or ctx.companies is None:
        return text
    return ctx.companies.sub("[company]", text)


def lower_name_spans(text: str, keep: frozenset[str] = frozenset(), may: int = -1
                     ) -> list[tuple[int, int]]:
    """Names in lower case after a cue or a title, in Cyrillic and in Chinese (`may`: the bits
    of :data:`LOWER_NAME_GATES` the text matched, see :func:`helpers.ingest.pii_text.may_match`)."""
    from helpers.ingest.pii_text import name_lists
    given, also_words, surnames = name_lists()

    def title(word: str) -> str:
        return word[:1].upper() + word[1:].lower()

    spans: list[tuple[int, int]] = []
    for m in (_LOWER_CUE.finditer(text) if may & 8 and _has_any(text, _LOWER_CUE_KEYS) else ()):
        first = m.group(1)
        if not first.islower() or first in _STOP or first in keep:
            continue
        second = m.group(2) or ""
        surname_next = bool(second) and second.islower() and title(second) in surnames \
            and second not in _STOP
        particle = second in _PARTICLE_WORDS and bool(m.group(3))
        if title(first) in given or (title(first) in also_words and surname_next):
            end = m.end(3) if particle else m.end(2) if surname_next else m.end(1)
            spans.append((m.start(1), end))
    for m in (_TITLE_LOWER.finditer(text) if may & 1 else ()):
        word = title(m.group(1))
        if m.group(1) not in _STOP and (word in surnames or word in given):
            spans.append(m.span())
    spans += (_cyrillic_spans(text) if may & 2 else []) + (_han_spans(text) if may & 4 else [])
    return spans


_PLACE_CAP = r"[A-ZÀ-ÖØ-Þ][\w'’-]*"
_PLACE_NAME = rf"{_PLACE_CAP}(?:[\s-]+(?:(?:la|le|les|de|du|des|sur|en|lès|am|an|der|del)[\s-]+)?{_PLACE_CAP})*"
_PLACE = re.compile(
    rf"\b(?i:magasins?|stores?|shops?|branch|filiale|tienda|negozio|winkel|boutique|agence|"
    rf"jardinerie|office|site)\s+(?i:de|d'|d’|du|à|a|in|at|en|di|van|of)\s*({_PLACE_NAME})"
    rf"|\b((?:Saint|Sainte|St|Ste|San|Santa|Santo|Sankt|São|Bad|North|South|East|West|New|Nova)"
    rf"[\s.-]+{_PLACE_NAME})")
_PLACE_PREPOSITION = re.compile(r"(?:^|[^\w])(?:in|near|around|outside|across|throughout|within|im|"
                                r"nahe|em|dans|chez)\s+(?:(?:the|der|die|dem|den|o|a|os|as)\s+)?$", re.I)


def place_spans(text: str) -> list[tuple[int, int]]:
    """Places, which are not names: the capitalised words after a shop word and a preposition
    ("magasin de Ville la Grand", "store in Leeds") or after Saint / San / North / New ..."""
    return [m.span(1) if m.group(1) else m.span(2) for m in _PLACE.finditer(text)]


def after_place_preposition(text: str, span: tuple[int, int]) -> bool:
    """A name found right after a preposition of place is a place ("in Brooklyn", "em Mato
    Grosso", "chez Leroy Merlin"; not "in Anna's team")."""
    return bool(_PLACE_PREPOSITION.search(text[max(0, span[0] - 24):span[0]])) \
        and not re.search(r"['’]s?\b", text[span[0]:span[1]])


def _cyrillic_spans(text: str) -> list[tuple[int, int]]:
    """Capitalised Cyrillic words after a cue or with a surname / patronymic ending, with the
    capitalised words next to them."""
    if not re.search("[А-ЯЁ]", text):
        return []
    words = [m for m in _CYR_WORD.finditer(text) if not _CYR_CUE.search(m.group() + " ")]
    named = [bool(_CYR_CUE.search(text[max(0, m.start() - 25):m.start()]))
             or bool(_CYR_SURNAME.search(m.group().lower())) for m in words]
    for i in range(len(words) - 1):   # a given name before a surname, a patronymic after a name
        if re.fullmatch(r"\s+", text[words[i].end():words[i + 1].start()]):
            if named[i] or named[i + 1]:
                named[i] = named[i + 1] = True
    return [m.span() for m, is_name in zip(words, named, strict=True) if is_name]


def _han_spans(text: str) -> list[tuple[int, int]]:
    if not re.search(f"[{_HAN_SURNAMES}]", text):
        return []
    return [m.span(1) for rx in _HAN_NAMES for m in rx.finditer(text)]


def recurring_words(texts: list[str], min_comments: int = 5, share: float = 0.002) -> set[str]:
    """Capitalised words that recur across a programme's comments (its products, brands, towns,
    terms): in at least `min_comments` distinct comments and `share` of them (counted by Arrow
    over the whole list at once); never a word of the bundled name lists (a rep's name recurs
    too). Also every capitalised word the comments use in lower case too
    (:data:`LOWER_CASE_USES`), a listed name only when written in lower case more often
    ("bas", "avant" in French comments; not "john")."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from helpers.ingest.pii_text import name_lists
    if not texts:
        return set()
    words = pc.split_pattern_regex(pa.array(texts, pa.string()), r"[\s,;:!?()\[\]\"«»/]+")
    table = pa.table({"text": pc.list_parent_indices(words), "word": pc.list_flatten(words)})
    table = table.filter(pc.match_substring_regex(table["word"], r"^\p{L}[\p{L}\d'’-]*\.?$"))
    table = table.set_column(1, "word", pc.utf8_rtrim(table["word"], "."))
    counts = table.group_by(["text", "word"]).aggregate([]).group_by("word").aggregate(
        [("text", "count")])
    seen = dict(zip(counts["word"].to_pylist(), counts["text_count"].to_pylist(), strict=True))
    given, _, surnames = name_lists()
    floor = max(min_comments, share * len(texts))
    listed = given | surnames
    return {w for w, n in seen.items() if w[:1].isupper() and not _TITLE_WORD.fullmatch(w) and (
        (n >= floor and w not in listed)
        or seen.get(w.lower(), 0) >= max(LOWER_CASE_USES, n if w in listed else 0))}


#: A capitalised word also written in lower case in this many comments is an ordinary word of
#: the programme's language ("Bas", "Avant", "Pierre" in French comments), not a name by itself.
LOWER_CASE_USES = 3


#: What any text holding personal data that :func:`~helpers.ingest.pii_text.mask_text` finds
#: contains (RE2 syntax, run by Arrow over a whole column at once): a digit, an "@", a web
#: address, an e-mail written with "at", a capital letter inside a sentence, a title, a cue for a
#: lower-case name, a Cyrillic capital, a Chinese character, a name at a sentence start (see
#: :func:`may_hold_personal`), or "X from support" after a name.
PREFILTER = "|".join(f"(?:{branch})" for branch in (
    r"\d", "@", r"://", r"(?i:www)\.", r"\w\.(?i:[a-z]{2,})/",
    r"\S\s+(?i:at|\(at\)|\[at\]|\{at\})\s+\S+(?:\.|\s+(?i:dot)\s+)\S", r"[(\[{]\s*(?i:at)\s*[)\]}]",
    r"[^\s.!?]\s*\p{Lu}[\p{L}.'’-]",
    r"\b(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Herrn?|Hr|Frau|Fr|Mme|Mlle|Monsieur|Madame|Señora?|Sra?|Dhr|"
    r"Mevr|Sig|Signora?)\b",
    "(?i:" + "|".join(re.escape(k) for k in _LOWER_CUE_KEYS) + ")",
    r"[А-ЯЁ]", r"\p{Han}",
    r"\p{Lu}[\p{L}'’-]*\s+(?i:from|in|at|of)\s+(?i:the\s+)?(?i:support|sales|onboarding|service|billing|accounts?|"
    r"implementation|customer|your|our|it|the)\b",
))


def may_hold_personal(texts: list[str], ctx: MaskContext | None = None) -> list[bool]:
    """Which texts can hold personal data that masking finds (a cheap test over the whole list
    at once, by Arrow's RE2): only those are masked. A text passes when it matches
    :data:`PREFILTER`, starts a sentence with a bundled given name, or names a company of `ctx`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from helpers.ingest.pii_text import name_lists

    if not texts:
        return []
    arr = pa.array(texts, pa.string())
    hit = pc.match_substring_regex(arr, PREFILTER).to_numpy(zero_copy_only=False)
    sentences = pc.split_pattern_regex(arr, r"[.!?\n]")
    starts = pc.extract_regex(pc.list_flatten(sentences), r"^\s*(?P<w>\p{Lu}[\p{L}'’-]+)")
    given, also_words, _ = name_lists()
    named = pc.fill_null(pc.is_in(pc.struct_field(starts, "w"), pa.array(sorted(given | also_words))),
                         False).to_numpy(zero_copy_only=False)
    parents = pc.list_parent_indices(sentences).to_numpy(zero_copy_only=False)
    hit[parents[named]] = True
    if ctx is not None and ctx.companies is not None:
        hit |= _may_name_company(arr, ctx)
    return hit.tolist()


def _may_name_company(arr: Any, ctx: MaskContext) -> np.ndarray:
    """Texts holding a word that starts a company name of `ctx` (:class:`CompanyNames`: a name's
    words are whole words of a text it is found in), any number of names in one pass."""
    import pyarrow as pa
    import pyarrow.compute as pc

    assert ctx.companies is not None
    words = pc.split_pattern_regex(pc.utf8_lower(arr), r"[^\p{L}\p{N}_]+")
    found = pc.is_in(pc.list_flatten(words), pa.array(sorted(ctx.companies.words), pa.string()))
    hit = np.zeros(len(arr), bool)
    hit[pc.list_parent_indices(words).to_numpy(zero_copy_only=False)[
        pc.fill_null(found, False).to_numpy(zero_copy_only=False)]] = True
    return hit
