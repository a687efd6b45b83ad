"""What the phenomena summary scripts share: reading a run's rows, the arms in file order,
the sample standard deviation, and writing the rows' main columns."""
import csv
import statistics as st


def read_rows(path):
    """The rows of a results.csv, as dicts."""
    return list(csv.DictReader(open(path)))


def arms_of(rows):
    """The arms in the order they first appear."""
    return list(dict.fromkeys(r["arm"] for r in rows))


def sd(x):
    """Sample standard deviation (0 for fewer than two values)."""
    return st.stdev(x) if len(x) > 1 else 0.0


def write_rows(path, rows, keys, step="task"):
    """`arm, seed, STEP, keys…` per row (a key a row lacks: empty)."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arm", "seed", step] + keys)
        for r in rows:
            w.writerow([r["arm"], r["seed"], r["task"]] + [r.get(k, "") for k in keys])
