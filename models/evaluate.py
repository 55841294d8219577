"""Per-field metrics of suggestions against coded examples (`vivid evaluate-model`).

Predictions are the dicts that `vivid suggest` writes, so what is measured is exactly
what a coder (or the held-out judge) sees. Stage, pairing, issue and reasons are scored
on the passages that the gold coding calls vivid.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score, roc_auc_score

from models.examples import Example


def expected_calibration_error(conf: Sequence[float], correct: Sequence[bool],
                               bins: int = 10) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by size."""
    conf_a, corr_a = np.asarray(conf, float), np.asarray(correct, float)
    if len(conf_a) == 0:
        return float("nan")
    idx = np.minimum((conf_a * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() * abs(corr_a[m].mean() - conf_a[m].mean())
    return float(total / len(conf_a))


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def _undirected(pairs) -> set[frozenset]:
    return {frozenset(p.split(">")) for p in pairs}


def vivid_metrics(gold: Sequence[Example], preds: Sequence[dict]) -> dict:
    y = np.array([g.vivid for g in gold])
    s = np.array([p["vivid"]["score"] for p in preds])
    sel = np.array([p["vivid"]["selected"] for p in preds])
    tp, fp = int((sel & y).sum()), int((sel & ~y).sum())
    fn, tn = int((~sel & y).sum()), int((~sel & ~y).sum())
    out = _prf(tp, fp, fn)
    out["rejected_non_vivid"] = tn / (tn + fp) if tn + fp else float("nan")
    out["roc_auc"] = float(roc_auc_score(y, s)) if 0 < y.sum() < len(y) else float("nan")
    out["ece"] = expected_calibration_error(s, y)  # binary: P(vivid) against the outcome
    out["n"], out["n_vivid"] = len(y), int(y.sum())
    return out


def stage_metrics(gold: Sequence[Example], preds: Sequence[dict], stage_ids: list[str]
                  ) -> dict:
    y = [g.stage for g in gold]
    ranked = [[s["id"] for s in p["stage"]] for p in preds]
    top = [r[0] for r in ranked]
    conf = [p["stage"][0]["score"] for p in preds]
    cm = np.zeros((len(stage_ids), len(stage_ids)), dtype=int)
    for t, p in zip(y, top, strict=True):
        cm[stage_ids.index(t), stage_ids.index(p)] += 1
    return {"accuracy": float(np.mean([t == p for t, p in zip(y, top, strict=True)])),
            "top2": float(np.mean([t in r[:2] for t, r in zip(y, ranked, strict=True)])),
            "macro_f1": float(f1_score(y, top, labels=sorted(set(y)), average="macro",
                                       zero_division=0)),
            "ece": expected_calibration_error(conf, [t == p for t, p in
                                                     zip(y, top, strict=True)]),
            "labels": stage_ids, "confusion": cm.tolist(), "n": len(y)}


def pairing_metrics(gold: Sequence[Example], preds: Sequence[dict]) -> dict:
    d = Counter()
    u = Counter()
    for g, p in zip(gold, preds, strict=True):
        chosen = {x["id"] for x in p["pairings"] if x["selected"]}
        truth = set(g.pairings)
        d["tp"] += len(chosen & truth)
        d["fp"] += len(chosen - truth)
        d["fn"] += len(truth - chosen)
        cu, tu = _undirected(chosen), _undirected(truth)
        u["tp"] += len(cu & tu)
        u["fp"] += len(cu - tu)
        u["fn"] += len(tu - cu)
    return {"directed": _prf(d["tp"], d["fp"], d["fn"]),
            "undirected": _prf(u["tp"], u["fp"], u["fn"]), "n": len(gold)}


def issue_metrics(gold: Sequence[Example], preds: Sequence[dict]) -> dict:
    top = [p["issue"][0]["id"] for p in preds]
    correct = [g.issue == t for g, t in zip(gold, top, strict=True)]
    return {"accuracy": float(np.mean(correct)),
            "ece": expected_calibration_error([p["issue"][0]["score"] for p in preds],
                                              correct), "n": len(gold)}


def reasons_metrics(gold: Sequence[Example], preds: Sequence[dict], reason_ids: list[str]
                    ) -> dict:
    Y = np.array([[r in g.reasons for r in reason_ids] for g in gold], dtype=int)
    P = np.zeros_like(Y)
    S = np.zeros(Y.shape)
    for i, p in enumerate(preds):
        for x in p["reasons"]:
            j = reason_ids.index(x["id"])
            P[i, j] = int(x["selected"])
            S[i, j] = x["score"]
    used = [j for j in range(len(reason_ids)) if Y[:, j].any() or P[:, j].any()]
    return {"micro_f1": float(f1_score(Y, P, average="micro", zero_division=0)),
            "macro_f1": float(f1_score(Y[:, used], P[:, used], average="macro",
                                       zero_division=0)) if used else 0.0,
            "micro_precision": float(((Y & P).sum() / P.sum()) if P.sum() else 0.0),
            "micro_recall": float(((Y & P).sum() / Y.sum()) if Y.sum() else 0.0),
            "ece": expected_calibration_error(S.ravel(), Y.ravel().astype(bool)),
            "n": len(gold)}


def evaluate_predictions(gold: Sequence[Example], preds: Sequence[dict], stage_ids: list[str],
                         reason_ids: list[str]) -> dict:
    """All field metrics; stage/pairing/issue/reasons on the gold-vivid passages."""
    if len(gold) != len(preds):
        raise ValueError("gold and predictions differ in length")
    out: dict = {"vivid": vivid_metrics(gold, preds)}
    pos = [i for i, g in enumerate(gold) if g.vivid]
    if pos:
        g = [gold[i] for i in pos]
        p = [preds[i] for i in pos]
        out["stage"] = stage_metrics(g, p, stage_ids)
        out["pairing"] = pairing_metrics(g, p)
        out["issue"] = issue_metrics(g, p)
        out["reasons"] = reasons_metrics(g, p, reason_ids)
    return out


def headline(metrics: dict) -> dict[str, float]:
    """The figures the issue targets, flat, for printing and the model card."""
    out = {}
    v = metrics["vivid"]
    out.update({"vivid_recall": v["recall"], "vivid_precision": v["precision"],
                "vivid_rejected_non_vivid": v["rejected_non_vivid"],
                "vivid_roc_auc": v["roc_auc"], "vivid_ece": v["ece"]})
    if "stage" in metrics:
        out.update({"stage_top1": metrics["stage"]["accuracy"],
                    "stage_top2": metrics["stage"]["top2"],
                    "stage_macro_f1": metrics["stage"]["macro_f1"],
                    "stage_ece": metrics["stage"]["ece"],
                    "pairing_f1_directed": metrics["pairing"]["directed"]["f1"],
                    "pairing_f1_undirected": metrics["pairing"]["undirected"]["f1"],
                    "issue_accuracy": metrics["issue"]["accuracy"],
                    "reasons_micro_f1": metrics["reasons"]["micro_f1"],
                    "reasons_macro_f1": metrics["reasons"]["macro_f1"]})
    return {k: round(float(x), 4) for k, x in out.items()}


def confusion_png(metrics: dict, path: str | Path) -> Path:
    """Stage confusion matrix as a PNG (rows: coded stage, columns: suggested)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.array(metrics["stage"]["confusion"])
    labels = metrics["stage"]["labels"]
    fig, ax = plt.subplots(figsize=(5, 4.5), dpi=100)
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("suggested stage")
    ax.set_ylabel("coded stage")
    ax.set_title(f"Stage confusion (top-1 {metrics['stage']['accuracy']:.2f})")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_report(metrics: dict, out_dir: str | Path) -> list[Path]:
    """metrics.json and stage_confusion.png in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "metrics.json"]
    files[0].write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    if "stage" in metrics:
        files.append(confusion_png(metrics, out / "stage_confusion.png"))
    return files
