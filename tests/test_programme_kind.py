"""The right measure or none: a satisfaction-only export runs as a satisfaction programme.

`cx schema infer` -> `cx check` -> `cx run` on a small export with a 1-5 satisfaction word
column, four 1-10 rating items, two segments, two quarters and comments, and no recommend
question: the draft names CSAT as the headline, the sections that do not need the likelihood to
recommend run on it, those that do say so on their cards, and no page, workbook or summary of
the run says "NPS". One module-scoped run keeps the suite fast.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from helpers import cli, paths
from helpers.ingest import schema
from helpers.ingest.infer import infer_schema
from helpers.ingest.readers import Survey
from helpers.reporting import cards

SAT = "Overall, how satisfied are you with your visit?"
ITEMS = ("Staff friendliness", "Cleanliness", "Waiting time", "Value for money")
GAMING_REP = "AM03"  # presses six in ten of their customers into "Very satisfied"


class ACCOUNTS:
    """Business customers answer 60 % of the survey (the rest are consumers: B2C); each of
    30 accounts has its own satisfaction level, and the more satisfied mostly renew."""

    n = 30

    @staticmethod
    def account_of(rng: np.random.Generator, sat: np.ndarray) -> list[str]:
        """An account id for 60 % of the responses, the more satisfied to the higher ids."""
        k = np.clip(np.round((sat - 1) / 4 * (ACCOUNTS.n - 1) + rng.normal(0, 6, len(sat))),
                    0, ACCOUNTS.n - 1).astype(int)
        return [f"A{j:03d}" if b else "" for j, b in zip(k, rng.random(len(sat)) < 0.6,
                                                          strict=True)]

    @staticmethod
    def rep_of(account: str) -> str:
        """The account manager of an account: six managers, five accounts each."""
        return f"AM{int(account[1:]) % 6 + 1:02d}" if account else ""

    @staticmethod
    def concessions(path: Path) -> None:
        """Discounts given in March, before the first wave, to three of every five accounts."""
        ids = [j for j in range(ACCOUNTS.n) if j % 5 < 3]
        pd.DataFrame({"account_id": [f"A{j:03d}" for j in ids],
                      "rep_id": [ACCOUNTS.rep_of(f"A{j:03d}") for j in ids],
                      "date": "2025-03-15", "type": "discount",
                      "value": [1_000 + 100 * j for j in ids]}).to_csv(path, index=False)

    @staticmethod
    def master(path: Path) -> None:
        """The account master: ARR and next-period renewal (higher ids renew more)."""
        ids = np.arange(ACCOUNTS.n)
        pd.DataFrame({"account_id": [f"A{j:03d}" for j in ids],
                      "arr": 10_000 + 1_000 * ids,
                      "renewed": (ids >= 8) | (ids % 3 == 0)}
                     ).to_csv(path, index=False)


def satisfaction_export(path: Path, n: int = 360, seed: int = 11) -> None:
    """Satisfaction (1-5 words) driven by staff friendliness and waiting time (1-10 items);
    one account manager (:data:`GAMING_REP`) presses customers into the top mark."""
    rng = np.random.default_rng(seed)
    items = {k: np.clip(np.round(6.5 + rng.normal(0, 2, n)), 1, 10).astype(int) for k in ITEMS}
    z = (0.5 * (items["Staff friendliness"] - 6.5) + 0.3 * (items["Waiting time"] - 6.5)
         + rng.normal(0, 1.2, n))
    sat = np.clip(np.round(3.4 + z / 2), 1, 5).astype(int)
    words = {1: "Very dissatisfied", 2: "Dissatisfied", 3: "Neutral", 4: "Satisfied",
             5: "Very satisfied"}
    phrases = ["the staff were friendly and helpful", "long wait at the checkout",
               "clean store, easy to find things", "prices are too high for what you get",
               "quick service and good advice", "the queue was slow and no one helped"]
    days = pd.to_timedelta(rng.integers(0, 180, n), unit="D")
    frame = pd.DataFrame({
        "Response ID": [f"R_{i:04d}" for i in range(n)],
        "Date": (pd.Timestamp("2025-04-01") + days).strftime("%Y-%m-%d"),
        SAT: [words[v] for v in sat],
        **{f"Please rate - {k}": v for k, v in items.items()},
        "Account ID": ACCOUNTS.account_of(rng, sat),
        "Store": rng.choice(["Lyon", "Paris", "Nantes"], n),
        "Channel": rng.choice(["In store", "Online"], n),
        "Comment": [f"{phrases[i % 6]} ({i % 17})" for i in range(n)],
    })
    frame["Account manager"] = frame["Account ID"].map(ACCOUNTS.rep_of)
    _plant_contacts(frame)
    pressed = (frame["Account manager"] == GAMING_REP) & (np.random.default_rng(99).random(n) < 0.6)
    frame.loc[pressed, SAT] = words[5]  # the planted gaming rep: a top mark whatever the visit
    frame.to_csv(path, index=False)


#: Contact details planted in every kind of column (issue 22, point 2); none may reach a report.
CONTACTS = ("jane.doe@example.com", "+44 20 7946 0958", "p7@mail.example", "joe%40ex.com",
            "+33 6 12 34 56 78", "0612345678", "Schmidt", "+44 20 7946 0959")


def _plant_contacts(frame: pd.DataFrame) -> None:
    """An e-mail as one response id, a phone as one store, contacts in comments, a contact-details
    question, a URL with an e-mail parameter and an "other" free text: none changes a figure."""
    n = len(frame)
    frame.loc[3, "Response ID"] = CONTACTS[0]
    frame.loc[5, "Store"] = CONTACTS[7]
    frame.loc[frame.index % 40 == 7, "Comment"] += f" - call me on {CONTACTS[1]} or mail {CONTACTS[2]}"
    frame["Your contact details (optional)"] = [
        f"Jane Doe, {CONTACTS[0]}, {CONTACTS[4]}" if i % 9 == 0 else "" for i in range(n)]
    frame["Referrer URL"] = [f"https://shop.example/survey?email={CONTACTS[3]}&id={i}" if i % 11 == 0
                             else "https://shop.example/survey" for i in range(n)]
    frame["Other (please specify)"] = [
        f"tel {CONTACTS[5]}, ask for Anna {CONTACTS[6]}" if i % 13 == 0 else "" for i in range(n)]


def _params(tmp: Path) -> Path:
    """config/params.yaml with data/processed in `tmp` and light bootstraps."""
    doc = yaml.safe_load((paths.CONFIG_DIR / "params.yaml").read_text())
    for section in doc["notebooks"].values():
        for k, v in section.items():
            if isinstance(v, str) and v.startswith("data/processed"):
                section[k] = str(tmp / "processed" / v.removeprefix("data/processed").lstrip("/"))
    doc["notebooks"]["03_promoter_drivers"].update(n_boot=20, whatif_boot=10, cv_folds=2)
    p = tmp / "params.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("satisfaction")
    export, draft = tmp / "satisfaction.csv", tmp / "survey.yaml"
    satisfaction_export(export)
    ACCOUNTS.master(tmp / "accounts.csv")
    ACCOUNTS.concessions(tmp / "concessions.csv")
    out: dict = {"draft": draft, "export": export, "concessions": tmp / "concessions.csv",
                 "accounts": tmp / "accounts.csv", "tmp": tmp}
    assert cli.main(["schema", "infer", str(export), "--out", str(draft)]) == 0
    assert cli.main(["check", str(export), "--schema", str(draft)]) == 0
    code = cli.main(["run", "--params", str(_params(tmp)), "--out", str(tmp / "reports"),
                     "--raw", str(export), "--schema", str(draft),
                     "--accounts", str(tmp / "accounts.csv"),
                     "--concessions", str(tmp / "concessions.csv")])
    latest = (tmp / "reports" / "latest").resolve()
    out["manifest"] = json.loads((latest / "manifest.json").read_text())
    assert code == 0, [(n["name"], n.get("error")) for n in out["manifest"]["notebooks"]]
    out["latest"] = latest
    return out


def test_the_draft_names_csat_as_the_headline(run: dict) -> None:
    sch = schema.load(run["draft"])
    assert not sch.has_ltr and sch.headline == "csat"
    assert sch.headline_measure.headline.key == "csat_top2"
    assert sch.fields["csat"].scale == (1.0, 5.0) and len(sch.drivers) == 4


def test_sections_run_on_the_headline_and_the_others_say_why(run: dict) -> None:
    latest = run["latest"]
    assert {n["status"] for n in run["manifest"]["notebooks"]} == {"succeeded"}
    missing = {r["section"]: " ".join(r["missing"]) for r in cards.not_available(latest)}
    ran = {"segments.subsegments", "segments.trends", "segments.changes", "segments.personas",
           "segments.b2c_weighting", "drivers.importance", "drivers.by_segment",
           "drivers.priority", "outcomes.leaders"}
    assert not ran & set(missing)
    for section in ("drivers.what_if", "drivers.models", "drivers.themes"):
        assert "likelihood-to-recommend" in missing[section], section
    metrics = json.loads((latest / "metrics" / "02_segments.json").read_text())
    assert [s["key"] for s in metrics["statistics"]] == ["csat_top2"]
    seg = pd.read_parquet(latest / "tables" / "segment_nps.parquet")
    assert set(seg["statistic"]) == {"csat_top2"} and seg["estimate"].between(0, 100).all()
    ranked = pd.read_parquet(latest / "tables" / "drivers_ranked.parquet")
    assert ranked.sort_values("share", ascending=False)["driver"].iloc[0] == \
        "ratings_staff_friendliness"  # the planted strongest driver of satisfaction


def test_leaders_and_laggards_are_ranked_by_the_headline(run: dict) -> None:
    ranked = pd.read_parquet(run["latest"] / "tables" / "account_nps_ranking.parquet")
    assert "nps" not in ranked and ranked["estimate"].between(0, 100).all()
    assert ranked["ci_low"].ge(0).all() and ranked["ci_high"].le(100).all()  # Wilson, not t
    raw = pd.read_csv(run["export"], keep_default_na=False)
    wave = pd.PeriodIndex(pd.to_datetime(raw["Date"]), freq="Q").astype(str)
    raw = raw[(raw["Account ID"] != "") & (wave == max(wave))]
    top2 = 100.0 * raw[SAT].isin(["Satisfied", "Very satisfied"])
    expected = top2.groupby(raw["Account ID"]).mean()  # CSAT % top-2 box per account, by hand
    got = ranked.set_index("account_id")["estimate"]
    assert len(got) == len(expected) and np.allclose(got, expected.reindex(got.index))
    leaders, laggards = (ranked.loc[ranked["group"] == g, "estimate_shrunk"]
                         for g in ("leader", "laggard"))
    assert len(leaders) >= 4 and leaders.min() >= laggards.max()
    summary = pd.read_parquet(run["latest"] / "tables" / "outcomes_by_group.parquet")
    assert set(summary["group"]) >= {"leader", "laggard"}


def _b2b_top2(run: dict) -> pd.DataFrame:
    """The export's business responses with their wave and CSAT top-2 box (0 / 100), by hand."""
    raw = pd.read_csv(run["export"], keep_default_na=False)
    raw = raw[raw["Account ID"] != ""].assign(at=lambda d: pd.to_datetime(d["Date"]))
    return raw.assign(wave=pd.PeriodIndex(raw["at"], freq="Q").astype(str),
                      top2=100.0 * raw[SAT].isin(["Satisfied", "Very satisfied"]))


def test_score_integrity_runs_on_the_headline(run: dict) -> None:
    """05's rep checks and concessions run on CSAT: the with/without-flagged-reps table is the
    CSAT % top-2 box of the business responses, and the concession lift the within-account
    slope of the account-wave CSAT on a concession before the wave, both computed by hand."""
    latest = run["latest"]
    assert not {"integrity.reps", "integrity.concessions"} & {
        r["section"] for r in cards.not_available(latest)}
    b2b = _b2b_top2(run)
    flags = pd.read_csv(latest / "integrity_flags.csv")
    flagged = set(flags.loc[flags["flagged"].astype(bool), "rep_id"].astype(str))
    assert flagged == {GAMING_REP}  # the planted rep, on share of top answers and the residual
    table = pd.read_parquet(latest / "tables" / "integrity_nps.parquet").set_index("label")
    assert table.loc["all responses", "estimate"] == pytest.approx(b2b["top2"].mean())
    assert table.loc["without flagged reps", "estimate"] == pytest.approx(
        b2b.loc[b2b["Account manager"] != GAMING_REP, "top2"].mean())
    assert table.loc["without flagged reps", "estimate"] < table.loc["all responses", "estimate"]
    metrics = json.loads((latest / "metrics" / "05_score_integrity.json").read_text())
    assert {"csat_top2_all", "csat_top2_without_flagged"} <= set(metrics)
    assert metrics["reps_flagged"]["n"] == 6
    waves = b2b.groupby(["Account ID", "wave"]).agg(y=("top2", "mean"), first=("at", "min"),
                                                    last=("at", "max")).reset_index()
    prev = waves.groupby("Account ID")["last"].shift(1)
    start = waves["first"] - pd.Timedelta(days=120)
    opened = prev.where(prev > start, start)
    given = set(pd.read_csv(run["concessions"])["account_id"])
    waves["t"] = (waves["Account ID"].isin(given) & (opened < pd.Timestamp("2025-03-15"))
                  & (waves["first"] >= pd.Timestamp("2025-03-15"))).astype(float)
    yd = waves["y"] - waves.groupby("Account ID")["y"].transform("mean")
    td = waves["t"] - waves.groupby("Account ID")["t"].transform("mean")
    lift = pd.read_parquet(latest / "tables" / "integrity_concessions.parquet")
    assert lift.loc[lift["effect"] == "after a concession", "estimate"].iloc[0] == \
        pytest.approx((td * yd).sum() / (td * td).sum())
    assert lift["effect"].str.contains("account-CSAT point").any()
    page = (latest / "05_score_integrity.html").read_text(encoding="utf-8")
    assert "CSAT" in page and "likelihood-to-recommend" not in page


def test_revenue_at_risk_runs_on_the_headline(run: dict) -> None:
    """The ARR at risk is that of the accounts where fewer than half the contacts are satisfied
    (CSAT % top-2 box under 50 in the reported wave, by hand), called low-CSAT accounts."""
    latest = run["latest"]
    b2b = _b2b_top2(run)
    share = b2b[b2b["wave"] == b2b["wave"].max()].groupby("Account ID")["top2"].mean()
    arr = pd.read_csv(run["accounts"]).set_index("account_id")["arr"]
    risk = pd.read_parquet(latest / "tables" / "revenue_at_risk.parquet")
    total = risk[risk["segment"] == "Total"].iloc[0]
    assert total["n"] == (share < 50).sum() > 0 and total["accounts"] == "low-CSAT accounts"
    assert total["arr_at_risk"] == pytest.approx(arr[share.index[share < 50]].sum())
    assert "low-CSAT accounts" in (latest / "04_leaders_vs_laggards.html").read_text()
    assert "detractor accounts" not in (latest / "04_leaders_vs_laggards.html").read_text()
    assert "low-CSAT accounts" in (latest / "06_executive_summary.html").read_text()


def test_no_page_workbook_or_summary_says_nps(run: dict) -> None:
    latest = run["latest"]
    pages = sorted(latest.glob("*.html"))
    assert len(pages) >= 6
    for page in pages:
        text = re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8"))
        assert not re.search(r"\bNPS\b", text), (page.name, text[max(0, text.find("NPS") - 80):
                                                               text.find("NPS") + 80])
    with zipfile.ZipFile(latest / "tables.xlsx") as book:
        for name in book.namelist():
            if name.endswith(".xml"):
                assert not re.search(r"\bNPS\b", book.read(name).decode("utf-8")), name
    summary = (latest / "06_executive_summary.html").read_text(encoding="utf-8")
    assert "CSAT" in summary


def test_no_contact_detail_reaches_the_processed_data_or_the_reports(run: dict) -> None:
    """Contacts planted in an id, a segment, the comments, a contact-details question, a URL and
    an "other" text: none is in data/processed or anywhere in the run's reports folder."""
    processed = run["tmp"] / "processed"
    files = [p for folder in (processed, run["tmp"] / "reports") for p in folder.rglob("*") if p.is_file()]
    assert any(p.suffix == ".html" for p in files) and any(p.suffix == ".parquet" for p in files)
    for p in files:
        if p.suffix == ".parquet":
            text = pd.read_parquet(p).astype(str).to_csv()
        elif p.suffix in (".xlsx", ".zip"):
            with zipfile.ZipFile(p) as book:
                text = "".join(book.read(m).decode("utf-8", "replace") for m in book.namelist())
        else:
            text = p.read_bytes().decode("utf-8", "replace")
        found = [c for c in CONTACTS if c in text]
        assert not found, (str(p.relative_to(processed.parent)), found)


def _survey(tmp_path: Path, data: pd.DataFrame) -> Survey:
    data = data.astype("string")
    return Survey(data=data, questions={c: c for c in data}, import_ids={}, format="csv",
                  encoding="utf-8", path=tmp_path / "export.csv")


def test_a_1_10_recommend_column_or_a_0_10_satisfaction_item_is_never_the_ltr(
        tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    n = 200
    one_to_ten = pd.DataFrame({"Recommend": rng.integers(1, 11, n),
                               "Satisfaction with service": rng.integers(0, 11, n),
                               "Region": rng.choice(["North", "South"], n)})
    d = infer_schema(_survey(tmp_path, one_to_ten))
    doc = yaml.safe_load(d.text)
    assert "column" not in doc["fields"].get("ltr", {})  # neither is the LTR
    assert any("'Recommend' reads like a recommend question but is on 1-10" in n for n in d.notes)
    labelled = pd.DataFrame({"How likely are you to recommend us?": [
        "1 - Not at all likely", "10 - Extremely likely", *map(str, rng.integers(2, 10, n))]})
    d = infer_schema(_survey(tmp_path, labelled))
    assert "column" not in yaml.safe_load(d.text)["fields"].get("ltr", {})
    german = pd.DataFrame({"Weiterempfehlung": rng.integers(0, 11, n)})
    d = infer_schema(_survey(tmp_path, german))
    assert yaml.safe_load(d.text)["fields"]["ltr"]["column"] == "Weiterempfehlung"
    assert any(n.startswith("programme: NPS, because 'Weiterempfehlung'") for n in d.notes)
