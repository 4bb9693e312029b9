"""A progress bar for long work, on the console the command writes to."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape


@contextmanager
def progress_bar(
    console: Console, total: int | None, description: str
) -> Iterator[Callable[[], None]]:
    """Yield an ``advance(*_)`` callable (usable as any ``on_done``); jobs done of ``total``.

    ``description`` is plain text (it may hold a scenario name): never read as markup. A
    console that shows no live display (a file or a pipe: the bar, transient, would never
    be seen) gets no bar, so neither rich's progress module nor its refresh thread."""
    if not (console.is_terminal or console.is_jupyter):
        yield lambda *_: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(escape(description), total=total)
        yield lambda *_: progress.advance(task)
