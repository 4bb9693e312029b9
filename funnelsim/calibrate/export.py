"""A simulated ledger seen as a CRM export at a given date: for round-trip tests and check-fit.

Stages reached after the export date are not yet visible; a record neither won nor lost
by then is open. The HubSpot-style and Salesforce-style shapes match the example mappings
in scenarios/mappings/.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HOUR = pd.Timedelta(hours=1)
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
    leads: pd.DataFrame, start_date: object, export_hours: float, entry: str = "lead"
) -> pd.DataFrame:
    """Standard records (as ``read_export`` gives them) of the leads visible at export time."""
    start = pd.Timestamp(start_date)
    seen = lambda column: leads[column].where(leads[column] <= export_hours)  # noqa: E731
    opp = seen("opp_time")
    if entry == "opportunity":
        rows = opp.notna()
        created = opp
    else:
        rows = leads["created"] <= export_hours
        created = leads["created"]
    won = seen("won_time").notna()
    closed = opp.notna() & seen("close_time").notna()
    lost_lead = seen("loss_time").notna() & ~won
    lost = (closed & ~won) if entry == "opportunity" else lost_lead
    status = np.where(won, "won", np.where(lost, "lost", "open"))
    frame = pd.DataFrame(
        {
            "id": [f"R{i:07d}" for i in leads["lead_id"]],
            "created": start + created * HOUR,
            "mql": start + seen("mql_time") * HOUR,
            "sql": start + seen("sql_time") * HOUR,
            "opportunity": start + opp * HOUR,
            "close": start + seen("close_time").where(opp.notna()) * HOUR,
            "status": status,
            "amount": leads["deal_value"].where(opp.notna()),
            "owner": np.where(leads["sdr_head"] >= 0, "sdr" + leads["sdr_head"].astype(str), ""),
            "source": leads["source"].astype(str),
            "segment": leads["segment"].astype(str),
        }
    )
    frame.loc[frame["status"] == "open", "close"] = pd.NaT
    return frame[rows.to_numpy()].reset_index(drop=True)


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
    out[HUBSPOT_COLUMNS["owner"]] = records["owner"]
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
