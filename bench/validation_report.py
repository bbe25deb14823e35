"""What every bench/validate_*.py script ends with: the misses line and the JSON of its rows."""
import json


def misses_line(rows, error, limit, name, of=""):
    """Print 'K of N within LIMIT[ of]; misses: ...' for rows whose row[error] is off by more
    than limit (a fraction), each named by name(row); return the misses."""
    misses = [r for r in rows if abs(r[error]) > limit]
    print(f"\n{len(rows) - len(misses)} of {len(rows)} within {limit:.0%}{of}; misses: "
          + ", ".join(f"{name(r)} {r[error]:+.0%}" for r in misses))
    return misses


def save(path, costs, rows):
    """Write the run's calibrated costs and its rows to path (nothing when path is None)."""
    if path:
        with open(path, "w") as f:
            json.dump({"costs": costs.to_dict(), "rows": rows}, f, indent=1, default=float)
