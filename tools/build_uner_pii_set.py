#!/usr/bin/env python3
"""Build tests/data/uner_pii_sample.json: real sentences in four languages with gold person,
organisation and place spans, from Universal NER v1 (https://www.universalner.org/), for the
masking precision and recall of issue 22 point 3 (tests/test_privacy_uner.py).

    python3 tools/build_uner_pii_set.py MIRRORS [OUT]

MIRRORS holds one checkout per UniversalNER repository, named ``UNER_<Language>-<Treebank>``
(a work tree) or ``UniversalNER+UNER_<...>/repo`` (a bare git directory, read with git show).
The sample is chosen by a fixed rule, never by hand (see SAMPLES). Standard library only.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

#: (set name, repository, files, sent_id prefix, every n-th matching sentence, licence)
SAMPLES = (
    ("en-reviews", "UNER_English-EWT", ("en_ewt-ud-test.iob2", "en_ewt-ud-dev.iob2"), "reviews-", 1,
     "CC BY-SA 4.0"),
    ("en-email", "UNER_English-EWT", ("en_ewt-ud-test.iob2",), "email-", 2, "CC BY-SA 4.0"),
    ("de", "UNER_German-PUD", ("de_pud-ud-test.iob2",), "", 3, "CC BY-SA 3.0"),
    ("pt", "UNER_Portuguese-Bosque", ("pt_bosque-ud-test.iob2",), "", 4, "CC BY-SA 4.0"),
    ("da", "UNER_Danish-DDT", ("da_ddt-ud-test.iob2",), "", 2, "CC BY-SA 4.0"),
)
LABELS = ("PER", "ORG", "LOC")


def read_file(mirrors: Path, repo: str, name: str) -> str:
    tree = mirrors / repo / name
    if tree.exists():
        return tree.read_text(encoding="utf-8")
    git_dir = mirrors / f"UniversalNER+{repo}" / "repo"
    return subprocess.run(["git", "--git-dir", str(git_dir), "show", f"HEAD:{name}"], check=True,
                          capture_output=True, text=True, encoding="utf-8").stdout


def sentences(iob2: str) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(sent_id, text, [(token, tag)]) of each sentence of an UNER .iob2 file."""
    out = []
    for block in iob2.split("\n\n"):
        meta = {k: v for k, _, v in (ln[2:].partition(" = ") for ln in block.splitlines()
                                     if ln.startswith("# "))}
        rows = [ln.split("\t") for ln in block.splitlines() if ln and not ln.startswith("#")]
        if "text" in meta and rows:
            out.append((meta["sent_id"], meta["text"], [(r[1], r[2]) for r in rows]))
    return out


def entity_spans(text: str, tokens: list[tuple[str, str]]) -> dict[str, list[list[int]]]:
    """Character spans of each entity (a B- token and its I- tokens) per label; tokens that are
    not in the text as written (split contractions) are skipped."""
    spans: dict[str, list[list[int]]] = {label: [] for label in LABELS}
    pos, open_label = 0, ""
    for token, tag in tokens:
        at = text.find(token, pos)
        if at < 0:
            open_label = ""
            continue
        pos = at + len(token)
        kind, _, label = tag.partition("-")
        if label not in LABELS:
            open_label = ""
        elif kind == "I" and open_label == label:
            spans[label][-1][1] = pos
        else:
            spans[label].append([at, pos])
            open_label = label
    return spans


def build(mirrors: Path) -> dict:
    sets = {}
    for name, repo, files, prefix, every, licence in SAMPLES:
        chosen = [s for f in files for s in sentences(read_file(mirrors, repo, f))
                  if s[0].startswith(prefix)][::every]
        rows = []
        for sent_id, text, tokens in chosen:
            spans = entity_spans(text, tokens)
            rows.append([sent_id, text, *(spans[label] for label in LABELS)])
        sets[name] = {"source": f"https://github.com/UniversalNER/{repo}", "files": list(files),
                      "rule": f"sentences whose sent_id starts with '{prefix}', every {every}."
                              if prefix else f"every {every}. sentence, in file order",
                      "licence": licence, "rows": rows}
    return {
        "about": "Real sentences with gold PER / ORG / LOC character spans from Universal NER v1 "
                 "(Mayhew et al. 2024, NAACL, https://aclanthology.org/2024.naacl-long.243/), "
                 "chosen by a fixed rule per set; rows are [sent_id, text, PER, ORG, LOC]. "
                 "Built by tools/build_uner_pii_set.py; text and labels unchanged, only selected "
                 "and converted to character spans. Licence: CC BY-SA (version per set), "
                 "attribution to the Universal NER project and the Universal Dependencies "
                 "treebanks named in 'source'; this file is shared under the same licence.",
        "sets": sets,
    }


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: python3 tools/build_uner_pii_set.py MIRRORS [OUT]", file=sys.stderr)
        return 2
    out = Path(argv[2]) if len(argv) == 3 else \
        Path(__file__).resolve().parents[1] / "tests" / "data" / "uner_pii_sample.json"
    data = build(Path(argv[1]))
    out.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace(
        '],["', '],\n["') + "\n", encoding="utf-8")
    for name, s in data["sets"].items():
        print(name, len(s["rows"]), "sentences,", sum(len(r[2]) for r in s["rows"]), "PER spans")
    print(out, out.stat().st_size, "bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
