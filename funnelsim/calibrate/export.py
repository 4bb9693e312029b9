"""A simulated ledger seen as a CRM export at a given date: for round-trip tests and check-fit.

Stages reached after the export date are not yet visible; a record neither won nor lost
by then is open. The HubSpot-style and Salesforce-style shapes match the example mappings
in scenarios/mappings/.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HOUR = pd.Timedelta(hours=1)
STAGES = ("lead", "mql", "sql", "opportunity")
ENTRY_TIME = {"lead": "created", "mql": "mql_time", "sql": "sql_time", "opportunity": "opp_time"}
HUBSPOT_COLUMNS = {
    "id": "Record ID",
    "created": "Create Date",
    "mql": "Became a Marketing Qualified Lead Date",
    "sql": "Became a Sales Qualified Lead Date",
    "opportunity": "Became an Opportunity Date",
    "close": "Close Date",
    "status": "Lead Status",
    "amount": "Amount",
    "source": "Original Source",
    "segment": "Company Size",
    "owner": "Contact Owner",
}
SALESFORCE_COLUMNS = {
    "id": "Opportunity ID",
    "created": "Created Date",
    "close": "Close Date",
    "status": "Stage",
    "amount": "Amount",
    "source": "Lead Source",
    "segment": "Segment",
}


def ledger_records(
    leads: pd.DataFrame,
    start_date: object,
    export_hours: float,
    entry: str = "lead",
    outcome_dates: bool = False,
) -> pd.DataFrame:
    """Standard records (as ``read_export`` gives them) of the leads that reached the
    ``entry`` stage by export time, created at that stage.

    The close date is an opportunity's close; with ``outcome_dates`` it is the date a
    record was won or lost at whatever stage (exports of MQLs with a won or lost date).
    """
    start = pd.Timestamp(start_date)

    def seen(column: str) -> pd.Series:
        return leads[column].where(leads[column] <= export_hours)

    created = seen(ENTRY_TIME[entry])
    opp = seen("opp_time")
    won = seen("won_time").notna()
    if entry == "opportunity":
        lost = opp.notna() & seen("close_time").notna() & ~won
    else:
        lost = seen("loss_time").notna() & ~won
    if outcome_dates:
        close = seen("won_time").where(won, seen("loss_time").where(lost))
    else:
        close = seen("close_time").where(opp.notna())
    frame = pd.DataFrame(
        {
            "id": [f"R{i:07d}" for i in leads["lead_id"]],
            "created": start + created * HOUR,
            "mql": start + seen("mql_time") * HOUR,
            "sql": start + seen("sql_time") * HOUR,
            "opportunity": start + opp * HOUR,
            "close": start + close * HOUR,
            "status": np.where(won, "won", np.where(lost, "lost", "open")),
            "amount": leads["deal_value"].where(opp.notna()),
            "owner_sdr": np.where(
                leads["sdr_head"] >= 0, "sdr" + leads["sdr_head"].astype(str), ""
            ),
            "source": leads["source"].astype(str),
            "segment": leads["segment"].astype(str),
        }
    )
    frame.loc[frame["status"] == "open", "close"] = pd.NaT
    for stage in STAGES[1 : STAGES.index(entry) + 1]:
        frame[stage] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    return frame[created.notna().to_numpy()].reset_index(drop=True)


def _dates(values: pd.Series, fmt: str) -> pd.Series:
    return values.dt.strftime(fmt).fillna("")


def to_hubspot(records: pd.DataFrame) -> pd.DataFrame:
    """A HubSpot-style lifecycle export (one row per contact, stage dates, lead status)."""
    fmt = "%Y-%m-%d %H:%M"
    status = records["status"].map(
        {"won": "Customer", "lost": "Unqualified", "open": "In Progress"}
    )
    status = status.where(
        ~((records["status"] == "lost") & records["close"].notna()), "Closed Lost"
    )
    out = pd.DataFrame({HUBSPOT_COLUMNS["id"]: records["id"]})
    for key in ("created", "mql", "sql", "opportunity", "close"):
        out[HUBSPOT_COLUMNS[key]] = _dates(records[key], fmt)
    out[HUBSPOT_COLUMNS["status"]] = status
    out[HUBSPOT_COLUMNS["amount"]] = records["amount"].round(2).astype(str).replace("nan", "")
    out[HUBSPOT_COLUMNS["source"]] = records["source"]
    out[HUBSPOT_COLUMNS["segment"]] = records["segment"]
    out[HUBSPOT_COLUMNS["owner"]] = records["owner_sdr"]
    return out


def to_salesforce(records: pd.DataFrame) -> pd.DataFrame:
    """A Salesforce-style opportunity export (created, close date, stage, amount)."""
    fmt = "%m/%d/%Y"
    stage = records["status"].map(
        {"won": "Closed Won", "lost": "Closed Lost", "open": "Negotiation/Review"}
    )
    return pd.DataFrame(
        {
            SALESFORCE_COLUMNS["id"]: records["id"],
            SALESFORCE_COLUMNS["created"]: _dates(records["created"], fmt),
            SALESFORCE_COLUMNS["close"]: _dates(records["close"], fmt),
            SALESFORCE_COLUMNS["status"]: stage,
            SALESFORCE_COLUMNS["amount"]: records["amount"].round(2).astype(str).replace("nan", ""),
            SALESFORCE_COLUMNS["source"]: records["source"],
            SALESFORCE_COLUMNS["segment"]: records["segment"],
        }
    )


MQL_COLUMNS = {
    "id": "MQL ID",
    "created": "MQL Date",
    "source": "Source",
    "segment": "Segment",
    "status": "Status",
    "close": "Closed Date",
    "amount": "Amount",
    "owner_sdr": "SDR",
}


def to_mql_export(records: pd.DataFrame) -> pd.DataFrame:
    """A marketing-funnel export: one row per MQL with its date, source, segment, status
    (Won, Lost or MQL), the date it was won or lost, the amount and the SDR. Build the
    records with ``ledger_records(..., entry="mql", outcome_dates=True)``."""
    out = pd.DataFrame({MQL_COLUMNS["id"]: records["id"]})
    out[MQL_COLUMNS["created"]] = _dates(records["created"], "%Y-%m-%d")
    out[MQL_COLUMNS["source"]] = records["source"]
    out[MQL_COLUMNS["segment"]] = records["segment"]
    out[MQL_COLUMNS["status"]] = records["status"].map(
        {"won": "Won", "lost": "Lost", "open": "MQL"}
    )
    out[MQL_COLUMNS["close"]] = _dates(records["close"], "%Y-%m-%d")
    won = records["status"] == "won"
    out[MQL_COLUMNS["amount"]] = (
        records["amount"].where(won).round(2).astype(str).replace("nan", "")
    )
    out[MQL_COLUMNS["owner_sdr"]] = records["owner_sdr"]
    return out


def with_stage_dates(
    records: pd.DataFrame,
    stages: pd.DataFrame,
    names: tuple[str, ...],
    start_date: object,
    export_hours: float,
) -> pd.DataFrame:
    """``records`` with the date each deal entered each sales stage (``sales:<name>``,
    blank where it did not by the export), from the ledger's stage rows."""
    start = pd.Timestamp(start_date)
    out = records.copy()
    seen = stages[stages["entered"] <= export_hours]
    ids = pd.Series([f"R{i:07d}" for i in seen["lead_id"]], index=seen.index)
    for k, name in enumerate(names):
        rows = seen["stage"] == k
        dates = pd.Series((start + seen.loc[rows, "entered"] * HOUR).to_numpy(), ids[rows])
        out[f"sales:{name}"] = out["id"].map(dates).astype("datetime64[ns]")
    return out


DEAL_COLUMNS = {
    "id": "Deal ID",
    "created": "Create Date",
    "close": "Close Date",
    "status": "Deal Stage",
    "amount": "Amount",
    "segment": "Segment",
}


def to_deals(records: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    """A HubSpot-style deal export: one row per deal with a "Date entered <stage>" column
    per sales stage; the deal stage is Closed Won, Closed Lost or the stage it is in."""
    fmt = "%Y-%m-%d %H:%M"
    entered = records[[f"sales:{name}" for name in names]]
    current = entered.notna().to_numpy()[:, ::-1].argmax(axis=1)
    in_stage = np.array(names)[len(names) - 1 - current]
    status = records["status"].map({"won": "Closed Won", "lost": "Closed Lost"})
    out = pd.DataFrame({DEAL_COLUMNS["id"]: records["id"]})
    out[DEAL_COLUMNS["created"]] = _dates(records["created"], fmt)
    for name in names:
        out[f"Date entered {name}"] = _dates(records[f"sales:{name}"], fmt)
    out[DEAL_COLUMNS["close"]] = _dates(records["close"], fmt)
    out[DEAL_COLUMNS["status"]] = status.fillna(pd.Series(in_stage, index=records.index))
    out[DEAL_COLUMNS["amount"]] = records["amount"].round(2).astype(str).replace("nan", "")
    out[DEAL_COLUMNS["segment"]] = records["segment"]
    return out


def to_stage_history(records: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    """A Salesforce OpportunityHistory-style file: one row per deal and stage entered (its
    date), plus a Closed Won or Closed Lost row at the close."""
    fmt = "%Y-%m-%d %H:%M"
    parts = []
    for name in names:
        dated = records[records[f"sales:{name}"].notna()]
        parts.append(
            pd.DataFrame({"id": dated["id"], "stage": name, "date": dated[f"sales:{name}"]})
        )
    closed = records[records["status"].isin(["won", "lost"]) & records["close"].notna()]
    label = closed["status"].map({"won": "Closed Won", "lost": "Closed Lost"})
    parts.append(pd.DataFrame({"id": closed["id"], "stage": label, "date": closed["close"]}))
    rows = pd.concat(parts, ignore_index=True).sort_values(["id", "date"], kind="stable")
    return pd.DataFrame(
        {
            "OpportunityId": rows["id"].to_numpy(),
            "StageName": rows["stage"].to_numpy(),
            "CreatedDate": _dates(rows["date"], fmt).to_numpy(),
        }
    )
