"""Off-domain gate candidates compared by 5-fold cross-validation on the validation half only.

    INFINSTRUCT_DATA_DIR=<store with a trained, active dialogue version> python bench/chat/gate_cv.py

The protocol and the candidates (C0 the nearest-reference margin ... C6 centroids) are in
docs/chat.md, "Off-domain gate chosen by cross-validation"; they were fixed before this ran.
Never reads the test half: in-domain items are validation-split questions whose ``half_of`` is
validation, off-domain items the validation-half reference questions. Prints and writes
``bench/results/chat-gate-cv.json``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sqlmodel import col, select

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.common import machine_info, write_result
from infinstruct.chat.calibration import _held_out_examples
from infinstruct.chat.ood import half_of, reference_questions
from infinstruct.chat.prompts import is_chinese
from infinstruct.chat.service import build_chat_router
from infinstruct.core.db import session_scope
from infinstruct.core.settings import load_settings
from infinstruct.core.tables import Document, InstructionExample

BUDGET = 0.05
K = 5


def intent_validation(settings, set_id, tasks):
    with session_scope(settings) as s:
        rows = s.exec(
            select(InstructionExample).where(
                InstructionExample.set_id == set_id,
                InstructionExample.split == "validation",
                col(InstructionExample.task).in_(tasks),
            )
        ).all()
        ids = [r.source_document_id for r in rows if r.source_document_id]
        texts = {}
        for a in range(0, len(ids), 500):
            texts.update(
                s.exec(select(Document.id, Document.text).where(col(Document.id).in_(ids[a : a + 500]))).all()
            )
    return [texts.get(r.source_document_id or "", "").strip() for r in rows]


def fold_of(q, salt):
    return hashlib.sha256(f"{salt}:{q}".encode()).digest()[0] % K


def tau_at_budget(neg_scores):
    sd = np.sort(neg_scores)[::-1]
    m = int(np.floor(BUDGET * len(sd)))
    return sd[m] + 1e-9 if m < len(sd) else -np.inf


def main():
    settings = load_settings()
    router = build_chat_router(settings)
    version = router.models.version
    cfg = settings.chat
    inside = [i.question for i in _held_out_examples(settings, version, 10**6)]
    inside += intent_validation(settings, version.instruction_set_id, list(cfg.intent_tasks))
    seen, ind = set(), []
    for q in inside:
        if q and q.casefold() not in seen and half_of(q) == "validation":
            seen.add(q.casefold())
            ind.append(q)
    refs = list(reference_questions())
    print(f"in-domain validation-half questions {len(ind)}, refs {len(refs)}", file=sys.stderr)
    emb = router.embedder
    X_in, X_off = emb.embed(ind), emb.embed(refs)
    vidx, iidx = router.version_index(), router.intent_index()
    train_vecs = np.concatenate([vidx.vectors, iidx.vectors])
    t0 = time.time()

    def in_sims(X):  # top-10 sims to in-domain training questions (union of both indexes)
        S = X @ train_vecs.T
        return -np.sort(-S, axis=1)[:, :10]

    IN_in, IN_off = in_sims(X_in), in_sims(X_off)
    in_centroid = train_vecs.mean(0)
    ROFF_in, ROFF_off = X_in @ X_off.T, X_off @ X_off.T
    np.fill_diagonal(ROFF_off, -np.inf)  # a reference never sees itself
    print(f"sims {time.time() - t0:.1f}s", file=sys.stderr)
    zh_off = np.array([is_chinese(q) for q in refs])
    zh_in = np.array([is_chinese(q) for q in ind])
    results = defaultdict(lambda: defaultdict(list))

    for salt in ("a", "b", "c"):
        f_in = np.array([fold_of(q, salt) for q in ind])
        f_off = np.array([fold_of(q, salt) for q in refs])
        for k in range(K):
            tr_ref = f_off != k

            def feats(R, IN, mask_cols):
                Rm = np.where(mask_cols[None, :], R, -np.inf)
                top = -np.sort(-Rm, axis=1)
                off1 = top[:, 0]
                off3 = top[:, :3].mean(1)
                return off1, off3, IN[:, 0], IN[:, :3].mean(1), top[:, :10]

            Fin = feats(ROFF_in, IN_in, tr_ref)
            Foff = feats(ROFF_off, IN_off, tr_ref)
            cen_off = X_off[tr_ref].mean(0)

            def scores(F, X, IN):
                off1, off3, in1, in3, top10 = F
                # C2: union top-10 by similarity; off share of the similarity mass
                allv = np.concatenate([top10, IN], axis=1)
                lab = np.concatenate([np.ones_like(top10), np.zeros_like(IN)], 1)
                order = np.argsort(-allv, axis=1)[:, :10]
                v = np.take_along_axis(allv, order, 1)
                is_ref = np.take_along_axis(lab, order, 1)
                v = np.where(np.isfinite(v), v, 0)
                return {
                    "C0": off1 - in1,
                    "C1": off3 - in3,
                    "C2": (v * is_ref).sum(1) / np.maximum(v.sum(1), 1e-9),
                    "C6": X @ cen_off - X @ in_centroid,  # noqa: B023  # called in this iteration
                    "_2f": np.stack([off1, in1], 1),
                }

            S_in, S_off = scores(Fin, X_in, IN_in), scores(Foff, X_off, IN_off)
            trI, teI = f_in != k, f_in == k
            trO, teO = tr_ref, ~tr_ref
            # C3: LR on (off1, in1), trained on training-fold validation items
            lr = LogisticRegression(C=1.0, class_weight="balanced").fit(
                np.concatenate([S_in["_2f"][trI], S_off["_2f"][trO]]),
                np.r_[np.zeros(trI.sum()), np.ones(trO.sum())],
            )
            S_in["C3"], S_off["C3"] = lr.decision_function(S_in["_2f"]), lr.decision_function(S_off["_2f"])
            # C4: embedding probe, negatives = train-split in-domain questions
            p = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(
                np.concatenate([train_vecs, X_off[trO]]), np.r_[np.zeros(len(train_vecs)), np.ones(trO.sum())]
            )
            S_in["C4"], S_off["C4"] = p.decision_function(X_in), p.decision_function(X_off)
            # C5: [off1, in1, embedding] on training-fold validation items
            Z_in, Z_off = np.concatenate([S_in["_2f"], X_in], 1), np.concatenate([S_off["_2f"], X_off], 1)
            p5 = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(
                np.concatenate([Z_in[trI], Z_off[trO]]), np.r_[np.zeros(trI.sum()), np.ones(trO.sum())]
            )
            S_in["C5"], S_off["C5"] = p5.decision_function(Z_in), p5.decision_function(Z_off)
            for c in ("C0", "C1", "C2", "C3", "C4", "C5", "C6"):
                tau = tau_at_budget(S_in[c][trI])
                rec = float((S_off[c][teO] >= tau).mean())
                fd = float((S_in[c][teI] >= tau).mean())
                zh = S_off[c][teO & zh_off]
                results[c]["recall"].append(rec)
                results[c]["false_decline"].append(fd)
                if zh.size:
                    results[c]["zh_recall"].append(float((zh >= tau).mean()))
                if zh_in[teI].any():
                    results[c]["zh_in_false_decline"].append(float((S_in[c][teI & zh_in] >= tau).mean()))
                results[c]["auc"].append(
                    float(
                        roc_auc_score(
                            np.r_[np.zeros(teI.sum()), np.ones(teO.sum())], np.r_[S_in[c][teI], S_off[c][teO]]
                        )
                    )
                )
    out = {
        "in_domain": len(ind),
        "in_domain_zh": int(zh_in.sum()),
        "refs": len(refs),
        "refs_zh": int(zh_off.sum()),
        "budget": BUDGET,
        "folds": K,
        "salts": 3,
    }
    for c, r in sorted(results.items()):
        out[c] = {
            m: {"mean": round(float(np.mean(v)), 4), "sd": round(float(np.std(v)), 4)} for m, v in r.items()
        }
        d = np.array(r["recall"]) - np.array(results["C0"]["recall"])
        out[c]["recall_minus_C0_paired"] = {
            "mean": round(float(d.mean()), 4),
            "sd": round(float(d.std()), 4),
            "folds_better": int((d > 0).sum()),
            "folds_worse": int((d < 0).sum()),
        }
    print(json.dumps(out, indent=1))
    write_result(
        "chat-gate-cv",
        {
            "what": "off-domain gate candidates, 5-fold CV x 3 salts inside the validation half",
            "produced_by": "python bench/chat/gate_cv.py",
            "machine": machine_info(),
            "inputs": {"version": version.name, "data_dir": str(settings.data_dir)},
            "results": out,
        },
    )


if __name__ == "__main__":
    main()
