"""The explorer's web page (NiceGUI): controls from the scenario, live answers, pins, saves.

Every open page has its own state (its lever values, its running comparison, its pins):
NiceGUI builds the page function once per browser tab. A page runs one simulation at a
time: a change cancels the running comparison (it stops after the replication in flight)
and the new one waits for it to end. Simulations run in a worker thread, so the server
keeps answering. The browser sends only control values; nothing it sends is run as code,
and files are written only into the output folder, under names made here.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markupsafe import Markup
from nicegui import ui

from funnelsim import api
from funnelsim.experiment.options import Decision
from funnelsim.explore import charts
from funnelsim.explore.compute import (
    FIRST_REPLICATIONS,
    OPTION,
    WHOLE,
    Answer,
    Base,
    CancelToken,
    Checked,
    SupersededError,
    answers,
    check,
    check_run,
    pinned_decision,
    sentence,
)
from funnelsim.explore.levers import Lever, base_values, levers_for
from funnelsim.explore.save import save_option, save_report
from funnelsim.report.formatting import money

DEBOUNCE_MS = 350
CSS = """
.fs-charts figure { margin: 0; flex: 0 1 calc(50% - 0.5rem); min-width: 420px; }
.fs-charts img { width: 100%; height: auto; }
"""


@dataclass
class Settings:
    """What the server was started with: the base, the output folder, run defaults."""

    base: Base
    out: Path
    replications: int
    seed: int
    workers: int
    levers: list[Lever] = field(default_factory=list)
    opening: dict[tuple[int, int], tuple[Markup, Markup]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.levers = levers_for(self.base.scenario)


def serve(settings: Settings, host: str, port: int) -> None:
    """Serve the explorer on ``host:port`` until stopped (Ctrl+C)."""

    @ui.page("/")
    async def index() -> None:
        page = ExplorerPage(settings)
        page.build()
        await ui.context.client.connected()
        ui.context.client.on_delete(page.stop)
        page.start()

    ui.run(
        host=host,
        port=port,
        reload=False,
        show=False,
        title="funnelsim explore",
        show_welcome_message=False,
        favicon="📉",
    )


class ExplorerPage:
    """One browser tab's explorer: its controls, its answers and its pins."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base = settings.base
        self.values: dict[str, Any] = {
            **base_values(settings.levers),
            "replications": settings.replications,
            "seed": settings.seed,
        }
        self.errors: dict[str, ui.label] = {}
        self.lock = asyncio.Lock()
        self.token = CancelToken()
        self.generation = 0
        self.checked: Checked | None = None
        self.answer: Answer | None = None
        self.pins: dict[str, Decision] = {}
        self.tasks: set[asyncio.Task] = set()
        self.status_text = ""
        self.pin_labels: dict[str, str] = {}
        self.labels = {lever.key: lever.label for lever in settings.levers}

    # ----- layout -------------------------------------------------------------------------
    def build(self) -> None:
        """Lay out the page: controls on the left, the answer and charts on the right."""
        scenario = self.base.scenario
        ui.query("body").classes("bg-slate-50")
        ui.add_css(CSS)
        with ui.header().classes("bg-slate-800 items-center"):
            ui.label("funnelsim explore").classes("text-lg font-bold")
            ui.label(f"base: {scenario.label or scenario.name} ({self.base.path.name})")
        with ui.row().classes("w-full no-wrap items-start gap-6"):
            with ui.column().classes("w-96 shrink-0 gap-1"):
                self._controls()
            with ui.column().classes("grow gap-3"):
                self._answer_area()

    def _controls(self) -> None:
        self.whole_error = ui.label("").classes("text-red-700 text-sm")
        self.whole_error.props["data-testid"] = "error-whole"
        group = None
        for lever in self.settings.levers:
            if lever.group != group:
                group = lever.group
                ui.label(group).classes("text-sm font-bold text-slate-600 mt-3")
            self._control(lever)
        ui.label("Run").classes("text-sm font-bold text-slate-600 mt-3")
        for key, label in (("replications", "Replications"), ("seed", "Seed")):
            self._control(Lever(key, label, "Run", "number", self.values[key], step=1))
        with ui.row().classes("mt-4 gap-2"):
            self.pin_button = ui.button("Pin option", on_click=self.pin).props("no-caps")
            self.save_button = ui.button("Save option", on_click=self.save).props("no-caps")
            self.report_button = ui.button(
                "Save report of pins", on_click=self.save_pins_report
            ).props("no-caps")
        self.saved = ui.label("").classes("text-sm text-slate-600")
        self.saved.props["data-testid"] = "saved"
        ui.label(f"Files go to the folder {self.settings.out.name}/").classes(
            "text-xs text-slate-500"
        ).tooltip(str(self.settings.out))

    def _control(self, lever: Lever) -> None:
        def changed(event: Any, key: str = lever.key) -> None:
            self.changed(key, event.value)

        if lever.kind == "number":
            element = ui.number(lever.label, value=lever.value, step=lever.step, on_change=changed)
            element.props(f"dense outlined debounce={DEBOUNCE_MS}").classes("w-full")
        elif lever.kind == "select":
            element = ui.select(dict(lever.options), label=lever.label, value=lever.value)
            element.on_value_change(changed)
            element.props("dense outlined").classes("w-full")
        else:
            element = ui.switch(lever.label, value=lever.value, on_change=changed)
        element.props["data-testid"] = f"lever-{lever.key}"
        if lever.help:
            element.tooltip(lever.help)
        error = ui.label("").classes("text-red-700 text-xs -mt-1")
        error.props["data-testid"] = f"error-{lever.key}"
        error.set_visibility(False)
        self.errors[lever.key] = error

    def _answer_area(self) -> None:
        self.status = ui.label("Starting…").classes("text-sm text-slate-600")
        self.status.props["data-testid"] = "status"
        with ui.card().classes("w-full"):
            ui.label("The option against the base (paired, common random numbers)").classes(
                "text-sm text-slate-600"
            )
            with ui.row().classes("gap-10"):
                self.extra_cost = self._figure("Extra cost", "extra-cost")
                self.revenue_gain = self._figure("Revenue gain", "revenue-gain")
                self.net_value = self._figure("Net value [95% CI]", "net-value")
            self.sentence = ui.label("").classes("text-base")
            self.sentence.props["data-testid"] = "sentence"
        ui.label("Pinned options, ranked by net value").classes("text-lg font-bold mt-2")
        self.table = ui.table(
            columns=[
                {"name": c, "label": label, "field": c, "align": "left"}
                for c, label in (
                    ("rank", "#"),
                    ("option", "Option"),
                    ("extra_cost", "Extra cost"),
                    ("revenue_gain", "Revenue gain"),
                    ("net_value", "Net value [95% CI]"),
                    ("verdict", "Ranking"),
                )
            ],
            rows=[],
        ).classes("w-full")
        self.table.props["data-testid"] = "ranked"
        self.option_charts = ui.html("", sanitize=False).classes("w-full fs-charts")
        ui.label("Where the base leaks today").classes("text-lg font-bold mt-2")
        self.opening_note = ui.label("Simulating the base…").classes("text-sm text-slate-600")
        self.opening = ui.html("", sanitize=False).classes("w-full fs-charts")

    def _figure(self, title: str, testid: str) -> ui.label:
        with ui.column().classes("gap-0"):
            ui.label(title).classes("text-xs text-slate-500")
            value = ui.label("–").classes("text-2xl font-bold")
        value.props["data-testid"] = testid
        return value

    # ----- changes and runs ---------------------------------------------------------------
    def start(self) -> None:
        """After the browser connects: the opening view (an untouched page is the base)."""
        self.changed(None, None)
        self._run_in_background(self._opening())

    def changed(self, key: str | None, value: Any) -> None:
        """A control moved: check every lever, show errors inline, re-run when valid."""
        if key is not None:
            self.values[key] = value
        checked = check(self.base, self.settings.levers, self.values)
        errors = {**checked.errors, **check_run(self.values["replications"], self.values["seed"])}
        for lever_key, label in self.errors.items():
            label.set_text(errors.get(lever_key, ""))
            label.set_visibility(lever_key in errors)
        self.whole_error.set_text(errors.get(WHOLE, ""))
        self.token.cancel()
        self.generation += 1
        self.status.props["data-requested"] = str(self.generation)
        if errors:
            self.checked = None
            self._set_status("invalid", "Fix the field marked in red to compare.")
            return
        self.checked = checked
        self.token = self._token(self.generation)
        if key in ("replications", "seed"):
            self._run_in_background(self._opening())
        if not checked.changes:
            self._unchanged(self.generation)
            return
        self._run_in_background(self._compare(self.generation, self.token, checked))

    def _token(self, generation: int) -> CancelToken:
        """A cancel token whose per-replication calls count runs on the status line."""
        loop = asyncio.get_running_loop()
        done = [0]

        def progress() -> None:
            done[0] += 1
            loop.call_soon_threadsafe(self._progress, generation, done[0])

        return CancelToken(progress)

    def _progress(self, generation: int, runs: int) -> None:
        if generation == self.generation and self.status.props.get("data-state") == "running":
            self.status.set_text(f"{self.status_text} ({runs} runs done)")

    def stop(self) -> None:
        """The tab is gone: stop its comparison after the replication in flight."""
        self.token.cancel()

    def _run_in_background(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)  # a reference until it ends, so it is not collected mid-run
        task.add_done_callback(self.tasks.discard)

    async def _compare(self, generation: int, token: CancelToken, checked: Checked) -> None:
        async with self.lock:
            if token.cancelled:
                return
            option = checked.option
            assert option is not None
            reps, seed = int(self.values["replications"]), int(self.values["seed"])
            self._set_status(
                "running", f"Comparing at {min(reps, FIRST_REPLICATIONS)} replications…", generation
            )
            steps = answers(self.base.scenario, option, reps, seed, self.settings.workers, token)
            try:
                while True:
                    answer = await asyncio.to_thread(_next, steps)
                    if answer is None or token.cancelled:
                        return
                    figures = await asyncio.to_thread(_option_charts, answer)
                    if token.cancelled:
                        return
                    self._show(answer, option, figures)
                    if answer.final:
                        self._set_status(
                            "done", f"Answer at {answer.replications} replications.", generation
                        )
                    else:
                        self._set_status(
                            "running",
                            f"First answer at {answer.replications} replications; "
                            f"refining to {reps}…",
                            generation,
                        )
            except SupersededError:
                return
            except Exception as exc:  # shown as one line, never a traceback
                self._set_status("error", f"error: {type(exc).__name__}: {exc}", generation)

    async def _opening(self) -> None:
        """The base's waterfall and seam fixes: at a few replications, then at the count."""
        reps, seed = int(self.values["replications"]), int(self.values["seed"])
        token = self.token
        for count in dict.fromkeys((min(reps, FIRST_REPLICATIONS), reps)):
            key = (count, seed)
            if key not in self.settings.opening:
                async with self.lock:
                    if token.cancelled:
                        return
                    try:
                        self.settings.opening[key] = await asyncio.to_thread(
                            _opening_view, self.base, count, seed, self.settings.workers, token
                        )
                    except SupersededError:
                        return
                    except Exception as exc:  # one line, never a traceback
                        self.opening.set_content(
                            Markup("<p>{}</p>").format(f"error: {type(exc).__name__}: {exc}")
                        )
                        return
            waterfall, fixes = self.settings.opening[key]
            self.opening.set_content(
                Markup('<div style="display:flex;flex-wrap:wrap;gap:1rem">{}{}</div>').format(
                    waterfall, fixes
                )
            )
            self.opening_note.set_text(f"The base at {count} replications.")

    def _show(self, answer: Answer, option: Any, figures: list[Markup]) -> None:
        self.answer = answer
        row, currency = answer.row, self.base.scenario.currency
        self.extra_cost.set_text(money(row["extra_cost"], currency))
        self.revenue_gain.set_text(money(row["revenue_gain"], currency))
        self.net_value.set_text(_with_interval(row, "net_value", currency))
        for name in ("net_value", "net_value_ci_low", "net_value_ci_high"):
            self.net_value.props[f"data-{name.replace('_', '-')}"] = repr(float(row[name]))
        self.net_value.props["data-replications"] = str(answer.replications)
        self.net_value.update()
        self.sentence.set_text(sentence(self.base.scenario, option, answer, self.labels))
        self.option_charts.set_content(
            Markup('<div style="display:flex;flex-wrap:wrap;gap:1rem">{}</div>').format(
                Markup("").join(figures)
            )
        )

    def _unchanged(self, generation: int) -> None:
        """No lever moved: the option is the base, worth exactly nothing more."""
        self.answer = None
        for element in (self.extra_cost, self.revenue_gain, self.net_value):
            element.set_text(money(0.0, self.base.scenario.currency))
        for name in ("net-value", "net-value-ci-low", "net-value-ci-high"):
            self.net_value.props[f"data-{name}"] = "0.0"
        self.net_value.update()
        self.sentence.set_text("Nothing changed yet: move a control to compare an option.")
        self.option_charts.set_content("")
        self._set_status("done", "The base as it is.", generation)

    def _set_status(self, state: str, text: str, generation: int | None = None) -> None:
        self.status_text = text
        self.status.set_text(text)
        self.status.props["data-state"] = state
        if generation is not None:
            self.status.props["data-generation"] = str(generation)
        self.status.update()

    # ----- pins and saves -----------------------------------------------------------------
    def _final_answer(self) -> Answer | None:
        if self.answer is None or not self.answer.final or self.checked is None:
            ui.notify("Wait for the refined answer first.", type="warning")
            return None
        return self.answer

    async def pin(self) -> None:
        """Pin the current option and rebuild the ranked table."""
        answer = self._final_answer()
        if answer is None:
            return
        name = f"Option {len(self.pins) + 1}"
        self.pins[name] = answer.decision
        self.pin_labels[name] = f"{name}: {self.sentence.text.split(' is worth ')[0]}"
        token = self.token
        async with self.lock:
            try:
                decision = await asyncio.to_thread(
                    pinned_decision, self.pins, token, self.settings.workers
                )
            except SupersededError:
                return
        currency = self.base.scenario.currency
        self.table.rows = [
            {
                "rank": int(row["rank"]),
                "option": row["option"],
                "extra_cost": money(row["extra_cost"], currency),
                "revenue_gain": money(row["revenue_gain"], currency),
                "net_value": _with_interval(row, "net_value", currency),
                "verdict": row["verdict"],
            }
            for row in decision.summary().to_dict("records")
        ]
        self.table.update()

    async def save(self) -> None:
        """Save the current option as a scenario file that extends the base."""
        if self.checked is None or self.checked.option is None:
            ui.notify("Fix the fields marked in red first.", type="warning")
            return
        label = (self.sentence.text.split(" is worth ")[0] or "explored option")[:120]
        path = await asyncio.to_thread(
            save_option, self.base, self.checked.changes, self.settings.out, label
        )
        self.saved.set_text(f"Saved {path.name}")
        self.saved.props["data-path"] = path.name
        self.saved.update()

    async def save_pins_report(self) -> None:
        """Write the client report of the pinned options."""
        if not self.pins:
            ui.notify("Pin at least one option first.", type="warning")
            return
        token = self.token
        async with self.lock:
            try:
                decision = await asyncio.to_thread(
                    pinned_decision, self.pins, token, self.settings.workers
                )
                path = await asyncio.to_thread(
                    save_report, decision, self.settings.out, self.pin_labels
                )
            except SupersededError:
                return
        self.saved.set_text(f"Saved {path.name}")
        self.saved.props["data-path"] = path.name
        self.saved.update()


def _next(steps: Iterator[Answer]) -> Answer | None:
    return next(steps, None)


def _option_charts(answer: Answer) -> list[Markup]:
    decision = answer.decision
    option = decision.options[OPTION]
    return [
        charts.waterfall(option, decision.seed, decision.option_runs[OPTION]),
        *charts.before_after(decision),
    ]


def _opening_view(
    base: Base, reps: int, seed: int, workers: int, token: CancelToken
) -> tuple[Markup, Markup]:
    """The base's waterfall and the value of fixing each seam (the library's leaks)."""
    scenario = base.scenario
    results = api.run(
        scenario, reps, seed, workers=workers, keep_ledgers=False, on_done=token.check
    )
    leaks = api.leaks(scenario, reps, seed, workers=workers, on_done=token.check)
    return (
        charts.waterfall(scenario, seed, results.replications),
        charts.fixes(leaks, scenario.currency),
    )


def _with_interval(row: dict[str, Any], column: str, currency: str) -> str:
    value = money(row[column], currency)
    low, high = row[f"{column}_ci_low"], row[f"{column}_ci_high"]
    if not (math.isfinite(low) and math.isfinite(high)):
        return value
    return f"{value} [{money(low, currency)}, {money(high, currency)}]"
