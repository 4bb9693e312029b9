"""The examples at the end of each command's ``--help`` (kept in one place, like the README's)."""

from __future__ import annotations

import click

EXAMPLES: dict[str, list[str]] = {
    "run": [
        "funnelsim run                                 # the bundled baseline, 10 replications",
        "funnelsim run sla_1h_fallback --reps 30 --workers 2",
        "funnelsim run my_company.yaml --set seam1.sla_hours=4 -o results/sla4",
        "funnelsim run --json > summary.json           # JSON only: writes no files",
        "funnelsim run --leaks --report client.html",
    ],
    "compare": [
        "funnelsim compare baseline sla_1h_fallback --reps 20 --workers 2",
        "funnelsim compare baseline --set seam1.response_delay.median=1",
        "funnelsim compare baseline automated_q2c -o diff.csv --report whatif.html",
    ],
    "plan": [
        "funnelsim plan --hire ae=+2@2027-04-01 --hire sdr=+1@2027-06-01 --reps 20",
        "funnelsim plan my_company.yaml --hire csm=-1@2027-09-01 -o plan.csv",
    ],
    "leaks": [
        "funnelsim leaks --reps 20",
        "funnelsim leaks my_company.yaml -o seam_fixes.csv",
    ],
    "sweep": [
        "funnelsim sweep --grid teams.sdr.headcount=3,4,5,6",
        "funnelsim sweep --grid seam1.response_delay.median=1,2,4,8 \\",
        "    --grid teams.sdr.headcount=3,4,5 -o results/sdr-sweep  # rerun to resume",
    ],
    "sensitivity": [
        "funnelsim sensitivity --reps 5",
        "funnelsim sensitivity --param 'teams.*.headcount' --metric net_value -o tornado.csv",
    ],
    "report": [
        "funnelsim run -o results/base && funnelsim report results/base",
        "funnelsim report results/base -o client.html --force",
    ],
    "validate": [
        "funnelsim validate my_company.yaml",
        "funnelsim validate sla_1h_fallback --show     # every default filled in",
    ],
    "init": [
        "funnelsim init my_company.yaml                # a copy of the bundled baseline",
        "funnelsim init sla.yaml --from sla_1h_fallback  # extends the bundled baseline",
    ],
    "scenarios": [
        "funnelsim scenarios",
        "funnelsim run extra_sdr                       # a bundled name works anywhere",
    ],
    "calibrate": [
        "funnelsim calibrate crm_export.csv --mapping mapping.yaml -o fitted.yaml",
        "funnelsim calibrate crm_export.csv --mapping mapping.yaml -o fitted.yaml \\",
        "    --report-dir fit-report",
    ],
    "explore": [
        "funnelsim explore                             # the bundled baseline, on 127.0.0.1",
        "funnelsim explore my_company.yaml --port 8080 -o client-meeting --reps 20",
    ],
    "check-fit": [
        "funnelsim check-fit fitted.yaml crm_export.csv --mapping mapping.yaml --reps 10",
    ],
}


def epilog(name: str) -> str:
    """The help epilog of a command: its examples, one a line (``\\b`` keeps click from
    re-wrapping them)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in EXAMPLES[name])


def add_examples(group: click.Group) -> None:
    """Give every command of ``group`` that has examples its epilog."""
    for name, command in group.commands.items():
        if name in EXAMPLES:
            command.epilog = epilog(name)
