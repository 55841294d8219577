"""Section typing accuracy on the real development reports, measured honestly.

Two figures: leave-one-report-out (train on the fictional training file plus the other
dev reports, test on the held-out one) and training-file-only (no dev data at all);
plus the commonest confusions and the time to train the shipped model.
"""

from __future__ import annotations

import time
from collections import Counter

from corpus.headings import DATA_DIR, HeadingTyper, augment, load_reports, train_typer

EXAMPLES = DATA_DIR / "heading_examples.jsonl"
DEV = DATA_DIR / "headings_dev.jsonl"


def _score(pairs: list[tuple[str, str]]) -> float:
    return sum(g == p for g, p in pairs) / len(pairs) if pairs else 0.0


def _confusions(pairs: list[tuple[str, str]], top: int = 12) -> str:
    counts = Counter((g, p) for g, p in pairs if g != p)
    lines = [f"    {n:3d}  gold {g:<19} -> predicted {p}" for (g, p), n in counts.most_common(top)]
    return "\n".join(lines) or "    (none)"


def _per_type(pairs: list[tuple[str, str]]) -> str:
    gold = Counter(g for g, _ in pairs)
    right = Counter(g for g, p in pairs if g == p)
    return "  ".join(f"{t} {right[t]}/{n}" for t, n in gold.most_common())


def leave_one_report_out(examples, dev) -> list[tuple[str, str]]:
    pairs = []
    for i, (headings, gold) in enumerate(dev):
        typer = HeadingTyper().fit(augment(examples + dev[:i] + dev[i + 1:]))
        pairs += list(zip(gold, typer.predict(headings), strict=True))
    return pairs


def training_file_only(examples, dev) -> list[tuple[str, str]]:
    typer = HeadingTyper().fit(augment(examples))
    return [(g, p) for headings, gold in dev
            for g, p in zip(gold, typer.predict(headings), strict=True)]


def run() -> None:
    examples, dev = load_reports(EXAMPLES), load_reports(DEV)
    n_heads = sum(len(h) for h, _ in dev)
    print(f"training file: {len(examples)} fictional reports, "
          f"{sum(len(h) for h, _ in examples)} headings; dev: {len(dev)} real reports, "
          f"{n_heads} headings")
    t0 = time.perf_counter()
    train_typer()
    print(f"train shipped model (training file + dev): {time.perf_counter() - t0:.2f} s")
    for name, pairs in (("leave-one-report-out", leave_one_report_out(examples, dev)),
                        ("training file only", training_file_only(examples, dev))):
        print(f"\naccuracy, {name}: {_score(pairs):.3f} ({sum(g == p for g, p in pairs)}"
              f"/{len(pairs)})")
        print(f"  per gold type: {_per_type(pairs)}")
        print("  commonest confusions:")
        print(_confusions(pairs))


if __name__ == "__main__":
    run()
