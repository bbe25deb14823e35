"""Output helpers of `cowfast run` / `cowfast explore`: JSON files and the grouped summary."""
import json

from .._table import bold
from .results import group_by_console

SHOWN_GROUPS = 20


def write_json(path, data, out):
    """Write data as JSON to path, or to out when path is "-"."""
    text = json.dumps(data, indent=1) + "\n"
    if path == "-":
        out.write(text)
    else:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


def print_grouped(found, file, out):
    """Many outcomes: one entry per distinct console output, most runs first, with how many
    outcomes and runs share it, how the processes ended across them, and one schedule."""
    groups = group_by_console(found)
    print(f"{len(groups)} distinct console outputs (most runs first; --json FILE lists every "
          "outcome)", file=out)
    for n, (console, members, runs) in enumerate(groups[:SHOWN_GROUPS], 1):
        print(file=out)
        print(bold(f"output {n}: {len(members)} outcomes, {runs} runs", out), file=out)
        for line in console.splitlines() or ["(nothing)"]:
            print(f"    {line}", file=out)
        deadlocks = sum(1 for o, _ in members if o.deadlock)
        if deadlocks:
            print(f"  {deadlocks} of them end in a deadlock", file=out)
        schedule = members[0][1]
        print(f"  reproduce: cowfast run {file} --schedule {','.join(map(str, schedule))}",
              file=out)
    if len(groups) > SHOWN_GROUPS:
        rest = groups[SHOWN_GROUPS:]
        print(f"\n... and {len(rest)} more outputs ({sum(g[2] for g in rest)} runs)", file=out)
