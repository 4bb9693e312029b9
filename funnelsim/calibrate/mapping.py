"""The column mapping: which CSV column holds what, and which status values mean what."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import pandas as pd
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from funnelsim.inputs import note_input
from funnelsim.scenario.currency import Currency
from funnelsim.scenario.loading import ScenarioError

STAGES = ("lead", "mql", "sql", "opportunity")
PLURAL = {"lead": "leads", "mql": "MQLs", "sql": "SQLs", "opportunity": "opportunities"}
NAME = {"lead": "lead", "mql": "MQL", "sql": "SQL", "opportunity": "opportunity"}
ONE = {"lead": "a lead", "mql": "an MQL", "sql": "an SQL", "opportunity": "an opportunity"}
TEAMS_FOR_OWNER = ("sdr", "ae", "csm")
# Group names beginning with "_" never come from an export (names are slugged and stripped
# of leading underscores), so these can collide with no source or segment in the data.
BLANK = "_blank"
POOLED = "_pooled"
Team = Literal["sdr", "ae", "csm"]


class MappingError(ScenarioError):
    """A mapping file or an export that does not fit it: one line naming the field."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StatusMap(_Spec):
    """The status (or final stage) column and which of its values mean won, lost or open."""

    column: str
    won: tuple[str, ...] = Field(min_length=1)
    lost: tuple[str, ...] = ()
    open: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _disjoint(self) -> StatusMap:
        seen: dict[str, str] = {}
        for kind in ("won", "lost", "open"):
            for value in getattr(self, kind):
                key = value.strip().lower()
                if key in seen:
                    raise ValueError(f"value {value!r} is listed under both {seen[key]} and {kind}")
                seen[key] = kind
        return self


class StageDates(_Spec):
    """Columns holding the date a record entered each later stage (all optional)."""

    mql: str | None = None
    sql: str | None = None
    opportunity: str | None = None
    close: str | None = None


class StageHistory(_Spec):
    """A long stage-history file (Salesforce OpportunityHistory style): one row per stage a
    deal entered, with the deal's id, the stage's name and the date it entered it."""

    file: str = Field(min_length=1, description="CSV path; relative to the export's folder")
    id: str = Field(description="column with the deal's id (the export's id)")
    stage: str = Field(description="column with the stage's name (as in sales_stages)")
    date: str = Field(description="column with the date the deal entered the stage")


class BookSpec(_Spec):
    """How the export's won deals become the starting book's customers."""

    subscriptions: bool = Field(
        default=False,
        description="won deals are subscriptions: the amount is their ARR, and they are "
        "customers on the export date (open deals join the book either way)",
    )
    term_months: int = Field(
        default=12, ge=1, le=60, description="each subscription's term, unless term_column"
    )
    term_column: str | None = Field(
        default=None, description="column with each deal's term in months"
    )


class Mapping(_Spec):
    """How to read one CRM export: columns, status values, date formats, the export date."""

    name: str = "calibrated"
    description: str = ""
    currency: Currency = "USD"
    id: str
    created: str = Field(description="column with the record's creation date")
    created_stage: Literal["lead", "mql", "sql", "opportunity"] = Field(
        default="lead", description="which funnel stage the created date is the entry to"
    )
    stages: StageDates = StageDates()
    sales_stages: dict[str, str | None] | None = Field(
        default=None,
        description="the sales stages in walking order: name -> column with the date a deal "
        "entered it (HubSpot style), or null (a list of names) when stage_history dates them",
    )
    stage_history: StageHistory | None = None
    book: BookSpec = BookSpec()
    status: StatusMap | None = Field(
        default=None,
        description="status column and values; without one, a close date means won "
        "(exports that only record a won date)",
    )
    amount: str | None = None
    owner: str | None = None
    owner_team: Team = "ae"
    owners: dict[Team, str] = Field(
        default_factory=dict, description="one owner column per team, e.g. {sdr: SDR, ae: Rep}"
    )
    source: str | None = None
    default_source: str = Field(
        default="all_sources", description="the one source when no source column is mapped"
    )
    segment: str | None = Field(default=None, description="segment or product column")
    default_segment: str = Field(
        default="all", description="the one segment when no segment column is mapped"
    )
    upstream: Literal["pass_through", "defaults"] = Field(
        default="pass_through",
        description="stages before created_stage: pass everything through at once "
        "(leads per week = the export's rate), or keep the default marketing and seam 1 "
        "and back-solve leads per week by pilot simulations",
    )
    date_formats: tuple[str, ...] = Field(default=("%Y-%m-%d",), min_length=1)
    export_date: dt.date | None = Field(
        default=None, description="when the export was taken (default: the latest date in it)"
    )
    window_start: dt.date | None = Field(
        default=None,
        description="records created before this are left-truncated: used only for deal "
        "values and owners",
    )
    _export_date_from: str = PrivateAttr(default="export_date")

    def with_export_date(self, day: dt.date, option: str) -> Mapping:
        """A copy whose export date a command-line ``option`` (``--as-of``) set: errors about
        that date then name the option, not the mapping's ``export_date``."""
        copy = self.model_copy(update={"export_date": day})
        copy._export_date_from = option
        return copy

    @property
    def export_date_from(self) -> str:
        """Where the export date was set: ``export_date`` (the mapping) or an option."""
        return self._export_date_from

    @field_validator("sales_stages", mode="before")
    @classmethod
    def _names_list(cls, value: object) -> object:
        """A list of names stands for stages dated only by the stage history."""
        if isinstance(value, list):
            return {str(name): None for name in value}
        return value

    @field_validator("sales_stages")
    @classmethod
    def _stage_names(cls, stages: dict[str, str | None] | None) -> dict[str, str | None] | None:
        if stages is None:
            return None
        if not stages:
            raise ValueError("name at least one sales stage, or leave the key out")
        for name in stages:
            if not name.strip() or name.startswith("_"):
                raise ValueError(f"{name!r}: a stage name must be non-blank, not begin with '_'")
        return stages

    @field_validator("date_formats")
    @classmethod
    def _strftime_formats(cls, formats: tuple[str, ...]) -> tuple[str, ...]:
        """Each format must be a strftime pattern pandas can parse with."""
        for fmt in formats:
            if "%" not in fmt:
                raise ValueError(f"{fmt!r} has no strftime directive (e.g. '%Y-%m-%d')")
            try:
                pd.to_datetime(pd.Series(["2000-01-01"]), format=fmt, errors="coerce")
            except ValueError as exc:
                raise ValueError(f"{fmt!r} is not a valid strftime format ({exc})") from None
        return formats

    @field_validator("default_source", "default_segment")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name.startswith("_"):
            raise ValueError(f"{name!r}: names beginning with '_' are reserved")
        return name

    @model_validator(mode="after")
    def _status_or_close(self) -> Mapping:
        if self.status is None and self.stages.close is None:
            raise ValueError(
                "status: required unless stages.close is mapped (then a close date means won)"
            )
        if self.owner is not None and self.owner_team in self.owners:
            raise ValueError(
                f"owner: team '{self.owner_team}' also has a column under owners; use owners only"
            )
        return self

    @model_validator(mode="after")
    def _sales_stages_dated(self) -> Mapping:
        if self.stage_history is not None and self.sales_stages is None:
            raise ValueError("stage_history: needs sales_stages (the stage names in order)")
        if self.sales_stages is None:
            return self
        if self.stages.close is None:
            raise ValueError(
                "sales_stages: needs stages.close (the close date ends a deal's last stage)"
            )
        if self.created_stage != "opportunity" and self.stages.opportunity is None:
            raise ValueError(
                "sales_stages: sales stages follow the opportunity; map stages.opportunity "
                "or set created_stage: opportunity"
            )
        undated = [name for name, column in self.sales_stages.items() if column is None]
        if undated and self.stage_history is None:
            raise ValueError(
                f"sales_stages.{undated[0]}: no date column, and no stage_history to date it"
            )
        return self

    @model_validator(mode="after")
    def _stages_after_entry(self) -> Mapping:
        entry = STAGES.index(self.created_stage)
        for stage in ("mql", "sql", "opportunity"):
            if getattr(self.stages, stage) is not None and STAGES.index(stage) <= entry:
                raise ValueError(
                    f"stages.{stage}: comes before or at created_stage "
                    f"'{self.created_stage}'; remove it or change created_stage"
                )
        return self

    def columns(self) -> dict[str, str]:
        """Every mapped field and the CSV column it reads."""
        fields = {"id": self.id, "created": self.created}
        if self.status is not None:
            fields["status.column"] = self.status.column
        for stage in ("mql", "sql", "opportunity", "close"):
            column = getattr(self.stages, stage)
            if column is not None:
                fields[f"stages.{stage}"] = column
        for name in ("amount", "source", "segment"):
            column = getattr(self, name)
            if column is not None:
                fields[name] = column
        for name, column in (self.sales_stages or {}).items():
            if column is not None:
                fields[f"sales_stages.{name}"] = column
        if self.book.term_column is not None:
            fields["book.term_column"] = self.book.term_column
        for team, column in self.owner_columns().items():
            fields["owner" if column == self.owner else f"owners.{team}"] = column
        return fields

    def owner_columns(self) -> dict[str, str]:
        """The owner column of each team that has one (``owner`` counts for ``owner_team``)."""
        out = dict(self.owners)
        if self.owner is not None:
            out[self.owner_team] = self.owner
        return {team: out[team] for team in TEAMS_FOR_OWNER if team in out}

    @property
    def records_losses(self) -> bool:
        """Whether the export can say a record was lost (a lost status value exists)."""
        return self.status is not None and bool(self.status.lost)

    def stage_columns(self) -> list[tuple[str, str]]:
        """(stage, column) for each dated stage after the entry stage, in funnel order."""
        out = []
        for stage in ("mql", "sql", "opportunity", "close"):
            column = getattr(self.stages, stage)
            if column is not None:
                out.append((stage, column))
        return out


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping YAML file, or raise MappingError with one line."""
    path = Path(path)
    if not path.is_file():
        raise MappingError(f"{path}: no such mapping file")
    note_input(path, "the mapping")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise MappingError(f"{path}: invalid YAML: {problem}") from None
    except UnicodeDecodeError:
        raise MappingError(f"{path}: not a text file") from None
    return mapping_from_dict(data or {}, source=str(path))


def mapping_from_dict(data: object, source: str = "mapping") -> Mapping:
    """Validate a raw mapping dict, or raise MappingError naming the field."""
    if not isinstance(data, dict):
        raise MappingError(f"{source}: expected a mapping of fields at the top level")
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        raise MappingError(f"{source}: {_describe(exc)}") from None


def _describe(exc: ValidationError) -> str:
    """The first error as 'field: problem' (the scenario's did-you-mean is scenario-specific)."""
    error = exc.errors()[0]
    path = ".".join(str(p) for p in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{path}: unknown field"
    if error["type"] == "missing":
        return f"{path}: required field is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{path}: {message} (got {error.get('input')!r})"
