"""Free-text comments: language, tone (lexicon polarity) and themes (TF-IDF + NMF).

Language coverage: :func:`language` tells English, French, German, Spanish, Italian, Dutch and
Portuguese apart by their function words (no model is downloaded). Themes work in all seven:
each language's stop words are removed and accented words are kept. Tone uses an English
lexicon and scores English comments only; other comments get no tone (NaN) rather than a wrong
one, and every report says how many comments that left out. Comments arrive PII-masked from
cleaning; :func:`helpers.ingest.privacy.mask_pii` is applied again before any quote is shown,
because a second guard is cheap and a leaked email in a report is not.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from helpers.analysis.subsample import subsample
from helpers.errors import ThinData
from helpers.stats import compare

# --- language ----------------------------------------------------------------------------------
# Function words per language (the most frequent words of each; from the Snowball stop lists).
STOP_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset("""a about after all also an and any are as at be because been but by can could
        did do does for from had has have he her his how i if in into is it its just me more most
        my no not of on one only or our out so some than that the their them then there they this
        to too up us very was we were what when which who will with would you your""".split()),
    "fr": frozenset("""a à au aux avec ce ces cette c dans de des du elle en est et être été il ils
        j je la le les leur lui ma mais me même mes moi mon ne nos notre nous on ou où par pas pour
        qu que qui sa se ses son sont sur ta te tes toi ton tu très un une vos votre vous y d l n s
        t m ça plus bien trop tout tous fait avoir ont été""".split()),
    "de": frozenset("""aber als am an auch auf aus bei bin bis bist da dann das dass dem den der des
        die doch du ein eine einem einen einer er es für hat hatte ich ihr im in ist ja kein mit
        nicht noch nur oder sehr sich sie sind so über um und uns von war wir wird wie zu zum zur
        war""".split()),
    "es": frozenset("""a al algo como con de del el ella en es esta este están fue ha hay la las le
        lo los me mi muy más no nos o para pero por que qué se ser si sin su sus también te todo
        tu un una uno y ya""".split()),
    "it": frozenset("""a al alla anche che chi ci come con da del della di e è gli ha ho i il in io
        la le lo ma mi molto nel nella non per più poi quando questo se si sono su sua suo un una
        uno""".split()),
    "nl": frozenset("""aan al als bij dan dat de deze die dit door een en er geen had heb heeft het
        hij hoe ik in is je maar met mij niet nog nu of om ons ook op over te tot u uit van veel
        voor was wat we wel wij zijn zo""".split()),
    "pt": frozenset("""a ao as com como da das de do dos e é ela ele em entre era essa esse está eu
        foi há isso já mais mas me meu minha muito na não nas no nos o os ou para pela pelo por
        que se sem ser seu sua também um uma você""".split()),
}
LANGUAGES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian",
             "nl": "Dutch", "pt": "Portuguese"}
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def language(text: object) -> str | None:
    """The comment's language code (en, fr, de, es, it, nl, pt), "other" when none of these
    function words occur, None for a blank comment."""
    if text is None or text is pd.NA or (isinstance(text, float) and math.isnan(text)):
        return None
    words = [w for w in _WORD.findall(str(text).lower().replace("’", "'")) for w in w.split("'")]
    if not words:
        return None
    hits = {code: sum(w in stop for w in words) for code, stop in STOP_WORDS.items()}
    best = max(hits, key=lambda c: (hits[c], c == "en"))
    return best if hits[best] > 0 else "other"


def languages(comments: pd.Series) -> pd.Series:
    """:func:`language` of each comment (each distinct text detected once)."""
    s = pd.Series(comments).astype("string")
    codes, uniq = pd.factorize(s)
    found = np.array([language(u) for u in uniq] + [None], dtype=object)
    return pd.Series(found[codes], index=s.index, name="language", dtype="string")


# --- tone ---------------------------------------------------------------------------------------
# Small CX lexicon: word -> valence (-3..3). Stems are matched by exact token after lower-casing.
_POSITIVE: dict[str, float] = {
    "good": 1.9, "great": 3.1, "excellent": 3.2, "outstanding": 3.2, "fantastic": 3.0,
    "amazing": 2.9, "awesome": 3.0, "perfect": 2.9, "best": 3.0, "love": 3.0, "loved": 2.9,
    "loves": 2.9, "like": 1.2, "liked": 1.5, "helpful": 2.2, "easy": 1.9, "easier": 1.6,
    "fast": 1.6, "quick": 1.5, "quickly": 1.4, "smooth": 2.0, "smoothly": 2.0, "seamless": 2.3,
    "responsive": 1.9, "knowledgeable": 2.1, "recommend": 2.0, "recommended": 1.9,
    "friendly": 2.2, "professional": 1.9, "reliable": 2.0, "intuitive": 1.9, "efficient": 1.9,
    "happy": 2.7, "satisfied": 2.2, "pleased": 2.3, "impressed": 2.4, "clear": 1.3,
    "transparent": 1.6, "fair": 1.3, "valuable": 2.1, "worth": 1.5, "nice": 1.8,
    "thanks": 1.9, "thank": 1.5, "superb": 3.0, "brilliant": 2.8, "wonderful": 2.7,
    "exceeded": 2.2, "attentive": 1.8, "supportive": 2.0, "solid": 1.5, "well": 1.1,
    "fine": 0.8, "ok": 0.9, "okay": 0.9, "on-time": 1.8, "on-budget": 1.8, "painless": 2.0,
    "flawless": 2.9, "delighted": 3.0, "glad": 2.0, "enjoy": 2.2, "enjoyed": 2.2,
    "improved": 1.5, "helped": 1.6, "solved": 1.8, "resolved": 1.8,
    "proper": 1.1, "value": 1.2, "delivered": 1.3, "realistic": 1.3, "met": 0.8, "early": 1.1,
    "knew": 1.0, "know": 0.6, "answered": 1.0, "answer": 0.6, "productive": 1.8, "works": 1.0, "partner": 1.0, "understood": 1.4, "competitive": 1.2, "affordable": 1.6,
}
_NEGATIVE: dict[str, float] = {
    "bad": -2.5, "poor": -2.1, "poorly": -2.0, "terrible": -3.1, "awful": -3.1,
    "horrible": -3.1, "worst": -3.1, "slow": -1.7, "slower": -1.5, "late": -1.6,
    "delay": -1.7, "delays": -1.8, "delayed": -1.8, "expensive": -1.6, "overpriced": -2.2,
    "confusing": -1.8, "confused": -1.6, "difficult": -1.6, "hard": -0.9, "frustrating": -2.3,
    "frustrated": -2.2, "frustration": -2.2, "disappointed": -2.3, "disappointing": -2.3,
    "disappointment": -2.3, "unhelpful": -2.2, "rude": -2.4, "broken": -2.0, "bug": -1.4,
    "bugs": -1.6, "buggy": -1.9, "issue": -1.1, "issues": -1.3, "problem": -1.5,
    "problems": -1.6, "complaint": -1.6, "complaints": -1.7, "useless": -2.5, "waste": -2.2,
    "nightmare": -2.9, "chaotic": -2.2, "chaos": -2.2, "missed": -1.4, "pushy": -2.0,
    "unresponsive": -2.2, "ignored": -2.0, "mess": -2.2, "messy": -1.9, "hidden": -1.0,
    "overrun": -1.8, "crash": -2.0, "crashes": -2.1, "error": -1.4, "errors": -1.6,
    "fail": -2.2, "failed": -2.3, "failure": -2.4, "lacking": -1.6, "lack": -1.4,
    "unclear": -1.5, "waiting": -1.2, "wait": -0.8, "angry": -2.7, "annoying": -2.2,
    "annoyed": -2.1, "unacceptable": -2.8, "disaster": -3.0, "sloppy": -2.1, "hate": -2.7,
    "cancel": -1.5, "cancelled": -1.5, "churn": -1.6, "misleading": -2.3, "overpromised": -2.1,
    "rushed": -1.7, "pressure": -1.2, "pressured": -1.9, "stressful": -2.0, "painful": -2.3,
    "clunky": -1.8, "outdated": -1.5, "complicated": -1.5, "incompetent": -2.6, "worse": -2.1,
    "lost": -1.3, "slipped": -1.7, "failing": -2.1, "broke": -2.1, "crashing": -2.1,
    "waited": -1.3, "damaged": -2.1, "overruns": -1.8, "overcharged": -2.2, "stuck": -1.5, "never-again": -2.8, "unreliable": -2.1, "inconsistent": -1.5,
}
LEXICON: dict[str, float] = {**_POSITIVE, **_NEGATIVE}

# Multi-word expressions rewritten to single tokens before lookup.
_PHRASES: dict[str, str] = {
    "on time": "on-time", "on budget": "on-budget", "over budget": "overrun",
    "never again": "never-again", "let down": "disappointed", "took forever": "slow",
    "too long": "slow", "waste of time": "waste", "went live late": "late",
    "no one": "nobody", "fell through the cracks": "ignored", "hard sell": "pushy", "on schedule": "on-time",
    "within budget": "on-budget", "right away": "quickly", "inside out": "knowledgeable",
    "took weeks": "slow", "took months": "slow", "by months": "late",
}
_NEGATORS = frozenset({
    "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "without", "hardly",
    "barely", "cannot", "cant", "dont", "didnt", "doesnt", "isnt", "wasnt", "werent", "arent",
    "wont", "wouldnt", "couldnt", "shouldnt", "havent", "hasnt", "hadnt", "aint", "lacks",
})
_BOOSTERS: dict[str, float] = {
    "very": 0.293, "really": 0.293, "extremely": 0.4, "so": 0.2, "super": 0.3, "incredibly": 0.4,
    "totally": 0.3, "absolutely": 0.35, "highly": 0.3, "quite": 0.1, "too": 0.2,
    "slightly": -0.3, "somewhat": -0.2, "bit": -0.2, "little": -0.2,
}
_CONTRAST = frozenset({"but", "however", "although", "though", "yet", "except"})
_NEGATION_SCALAR = -0.74     # VADER (Hutto & Gilbert 2014): negated valence flips and shrinks
_NORMALISE_ALPHA = 15.0      # VADER: score / sqrt(score^2 + alpha) maps sums to (-1, 1)
_TOKEN = re.compile(r"[a-z]+(?:-[a-z]+)*|\d+(?:/\d+)?|[.!?;]")


def _tokens(text: str) -> list[str]:
    t = text.lower().replace("’", "'").replace("n't", "nt").replace("'", "")
    for phrase, token in _PHRASES.items():
        t = t.replace(phrase, token)
    return _TOKEN.findall(t)


def _sentence_score(tokens: list[str]) -> float:
    """Sum of valences in one sentence: boosters, negation (3-token window) and contrast."""
    vals: list[float] = []
    contrast_at: int | None = None
    for i, tok in enumerate(tokens):
        if tok in _CONTRAST and contrast_at is None:
            contrast_at = len(vals)
        v = LEXICON.get(tok)
        if v is None:
            vals.append(0.0)
            continue
        window = tokens[max(0, i - 3):i]
        for w in window:
            if w in _BOOSTERS:
                v += math.copysign(_BOOSTERS[w], v)
        if any(w in _NEGATORS for w in window):
            v *= _NEGATION_SCALAR
        vals.append(v)
    if contrast_at is not None:  # "10, but onboarding was a mess": the clause after 'but' counts
        vals = [v * 0.5 for v in vals[:contrast_at]] + [v * 1.5 for v in vals[contrast_at:]]
    return float(sum(vals))


def tone_one(text: object) -> float:
    """Polarity of one comment in [-1, 1]; NaN when the comment is missing or blank.

    Lexicon sum over sentences (VADER-style rules: negation within three tokens flips and shrinks
    a word's valence, boosters add intensity, the clause or sentence after a contrast word weighs
    3x what came before it) normalised with ``s / sqrt(s^2 + 15)``. Numbers ("10", "9/10") carry no valence, so
    a "10 but ..." comment is scored on its complaint, not on the score it quotes.
    """
    if text is None or (isinstance(text, float) and math.isnan(text)) or text is pd.NA:
        return float("nan")
    s = str(text).strip()
    if not s:
        return float("nan")
    scores: list[float] = []
    sentence: list[str] = []
    for tok in [*_tokens(s), "."]:
        if tok not in {".", "!", "?", ";"}:
            sentence.append(tok)
            continue
        if sentence and sentence[0] in _CONTRAST:  # "Great product. But support is slow."
            scores = [0.5 * v for v in scores]
            scores.append(1.5 * _sentence_score(sentence[1:]))
        elif sentence:
            scores.append(_sentence_score(sentence))
        sentence = []
    total = float(sum(scores))
    return float(total / math.sqrt(total * total + _NORMALISE_ALPHA))


def tone(comments: Iterable[object] | pd.Series) -> pd.Series:
    """Polarity of each comment in [-1, 1] (negative = complaint), NaN for missing/blank text.

    Parameters
    ----------
    comments : Series (its index is kept) or any iterable of strings.

    Returns
    -------
    Series of float named ``tone``. 0 means no opinion words were found; NaN also for comments
    not in English (the lexicon is English: see the module docstring).
    """
    s = comments if isinstance(comments, pd.Series) else pd.Series(list(comments), dtype=object)
    codes, uniq = pd.factorize(s.astype("string"))   # each distinct text scored once
    u = pd.Series(uniq, dtype="string")
    english = languages(u).fillna("").isin(["en", "other"]).to_numpy()
    scored = np.array([tone_one(c) if ok else float("nan")
                       for c, ok in zip(u.astype(object), english, strict=True)] + [float("nan")])
    return pd.Series(scored[codes], index=s.index, name="tone", dtype=float)


# --- themes -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Themes:
    """Comment themes from TF-IDF + NMF.

    terms : one row per theme: theme (label from its top terms), top_terms.
    weights : comment x theme NMF weights (index of the comments; blank comments left out).
    assignment : main theme of each comment (the largest weight), NaN for blank comments.
    """

    terms: pd.DataFrame
    weights: pd.DataFrame
    assignment: pd.Series
    languages: dict[str, int] = field(default_factory=dict)
    sample_note: str = ""


def themes(
    comments: pd.Series,
    n_themes: int = 6,
    top_terms: int = 6,
    min_df: int = 3,
    seed: int = 0,
    sample: int | None = None,
    strata: pd.Series | None = None,
) -> Themes:
    """Find `n_themes` themes in free-text comments (scikit-learn TF-IDF on words and word pairs,
    the stop words of every language found removed, then non-negative matrix factorisation).

    A theme is labelled by its three strongest terms; every non-blank comment gets the theme with
    its largest weight. Unsupervised: read the labels and quotes before naming a theme in a report.

    `sample`: with more non-blank comments than this, themes are found in (and assigned to) a
    random subsample of that size, proportional within each level of `strata` (e.g. the NPS
    group, aligned with `comments`); comments outside it get no theme. ``sample_note`` says so.
    """
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer
    from threadpoolctl import threadpool_limits

    s = pd.Series(comments).astype("string")
    text = s.fillna("").str.strip()
    keep = text.str.len() > 0
    by = pd.DataFrame({"stratum": (strata if strata is not None
                                   else pd.Series("all", index=s.index))[keep].astype(str)})
    fit = subsample(by, sample or len(by), strata=("stratum",), seed=seed)
    chosen = text[keep].iloc[fit.positions] if fit.sampled else text[keep]
    docs = _masked(chosen)  # themes of masked text
    if len(docs) < max(n_themes * 2, min_df):
        raise ThinData(f"{len(docs)} non-blank comments for {n_themes} themes",
                        column=str(s.name or "comment"), expected=f"at least {n_themes * 2}")
    found = languages(docs).value_counts()
    stop = set(STOP_WORDS["en"]).union(*(STOP_WORDS[c] for c in found.index if c in STOP_WORDS))
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    analyze = TfidfVectorizer(stop_words=sorted(stop | set(ENGLISH_STOP_WORDS)), ngram_range=(1, 2),
                              token_pattern=r"(?u)\b[^\W\d_][^\W\d_-]+\b").build_analyzer()
    terms_of = {d: analyze(d) for d in pd.unique(docs)}   # each distinct comment tokenised once
    vec = TfidfVectorizer(analyzer=terms_of.__getitem__, min_df=min_df, max_features=3000,
                          sublinear_tf=True)
    x = vec.fit_transform(docs.to_list())
    k = min(n_themes, x.shape[1])
    nmf = NMF(n_components=k, init="nndsvda", random_state=seed, max_iter=400)
    with threadpool_limits(1):  # shared machine: BLAS threads oversubscribe and slow NMF down
        w = nmf.fit_transform(x)
    vocab = np.asarray(vec.get_feature_names_out())
    tops = [vocab[np.argsort(comp)[::-1][:top_terms]] for comp in nmf.components_]
    labels = _unique_labels([" / ".join(t[:3]) for t in tops])
    terms = pd.DataFrame({"theme": labels, "top_terms": [", ".join(t) for t in tops]})
    weights = pd.DataFrame(w, index=docs.index, columns=labels)
    main = pd.Series(np.asarray(labels, dtype=object)[w.argmax(axis=1)], index=docs.index)
    main[w.max(axis=1) <= 0] = "(no theme)"
    assignment = pd.Series(pd.NA, index=s.index, dtype="string", name="theme")
    assignment[docs.index] = main.astype("string")
    note = "" if not fit.sampled else f"themes from {fit.note('non-blank comments')}"
    return Themes(terms, weights, assignment, {str(k): int(v) for k, v in found.items()}, note)


def _masked(texts: pd.Series) -> pd.Series:
    """`texts` with personal data masked and placeholders stripped; comments repeat, so each
    distinct text is masked once, the programme's own words taken as no names."""
    from helpers.ingest.pii_text import strip_placeholders  # masking only here: tone needs none
    from helpers.ingest.privacy import mask_pii, programme_context

    codes, distinct = pd.factorize(texts)
    vocabulary = programme_context(list(distinct))
    masked = mask_pii(pd.Series(distinct), vocabulary).astype(str).map(strip_placeholders)
    return pd.Series(masked.to_numpy(object)[codes], index=texts.index)


def language_note(found: Mapping[str, Themes]) -> str:
    """"comments in French 9,812, English 12; tone scored for English only" for a methods note."""
    counts: dict[str, int] = {}
    for t in found.values():
        for code, n in t.languages.items():
            counts[code] = counts.get(code, 0) + n
    parts = [f"{LANGUAGES.get(c, 'other languages')} {n:,}" for c, n in
             sorted(counts.items(), key=lambda kv: -kv[1])]
    sampled = "; ".join(f"{m}: {t.sample_note}" for m, t in found.items() if t.sample_note)
    return ("comments in " + ", ".join(parts) + "; themes cover all seven supported languages, "
            "tone English only" + (f"; {sampled}" if sampled else ""))


def _unique_labels(labels: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for lab in labels:
        seen[lab] = seen.get(lab, 0) + 1
        out.append(lab if seen[lab] == 1 else f"{lab} ({seen[lab]})")
    return out


def theme_contrast(
    assignment: pd.Series,
    group: pd.Series,
    a: str = "detractor",
    b: str = "promoter",
    level: float = 0.95,
) -> pd.DataFrame:
    """Share of comments per theme among group `b` (promoters) and `a` (detractors), with Wilson
    intervals, and the difference b - a in percentage points with its CI and p-value
    (:func:`helpers.stats.compare.compare_independent`, metric "mean" on 0/100 indicators).

    Denominator: non-blank comments of the group. Respondents are treated as independent (B2B
    contacts of one account are not quite: the intervals are somewhat too narrow there).
    """
    from statsmodels.stats.proportion import proportion_confint

    d = pd.DataFrame({"theme": assignment, "group": pd.Series(group).astype("string")})
    d = d.dropna()
    ga, gb = d[d["group"] == a], d[d["group"] == b]
    if len(ga) == 0 or len(gb) == 0:
        raise ThinData(f"{len(gb)} {b} and {len(ga)} {a} comments", column="group",
                       expected=f"comments from both {a}s and {b}s")
    rows = []
    for th in sorted(d["theme"].unique()):
        xa, xb = (ga["theme"] == th).to_numpy(), (gb["theme"] == th).to_numpy()
        row: dict[str, object] = {"theme": th}
        for name, x in ((b, xb), (a, xa)):
            lo, hi = proportion_confint(int(x.sum()), len(x), alpha=1 - level, method="wilson")
            row.update({f"share_{name}": 100 * x.mean(), f"{name}_ci_low": 100 * lo,
                        f"{name}_ci_high": 100 * hi, f"n_{name}": len(x)})
        diff = compare.compare_independent(pd.Series(100.0 * xa), pd.Series(100.0 * xb),
                                           metric="mean", level=level)
        row.update({"estimate": diff.estimate, "se": diff.se, "ci_low": diff.ci_low,
                    "ci_high": diff.ci_high, "p_value": diff.p})
        rows.append(row)
    out = pd.DataFrame(rows).sort_values("estimate", ascending=False, ignore_index=True)
    out.attrs.update({"difference": f"{b} minus {a}, percentage points", "level": level})
    return out


def example_quotes(
    th: Themes,
    comments: pd.Series,
    group: pd.Series,
    groups: Sequence[str] = ("promoter", "detractor"),
    k: int = 2,
    max_chars: int = 160,
) -> pd.DataFrame:
    """The `k` most typical comments (largest theme weight) per theme and group, PII-masked
    (only the quotes shown are masked: masking every comment again would cost minutes)."""
    from helpers.ingest.privacy import mask_pii, programme_context

    grp = pd.Series(group).astype("string")
    vocabulary = programme_context([str(c) for c in pd.unique(comments.dropna())])
    rows = []
    docs = th.weights.index   # every theme's weights share it: each lookup made once
    grp_of, theme_of = grp.reindex(docs), th.assignment.reindex(docs)
    for theme in th.terms["theme"]:
        wts = th.weights[theme]
        for g in groups:
            idx = wts.index[(grp_of == g).fillna(False).to_numpy()
                            & (theme_of == theme).fillna(False).to_numpy()]
            for i in wts.loc[idx].sort_values(ascending=False).index[:k]:
                q = str(mask_pii(comments.loc[[i]], vocabulary).iloc[0])
                rows.append({"theme": theme, "group": g,
                             "quote": q if len(q) <= max_chars else q[:max_chars - 1] + "…"})
    return pd.DataFrame(rows, columns=["theme", "group", "quote"])
