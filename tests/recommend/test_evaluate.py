from __future__ import annotations

import numpy as np

from infinstruct.recommend.dataset import ItemData
from infinstruct.recommend.evaluate import eligible_users, evaluate, fit_weights, leave_out_fold
from infinstruct.recommend.profiles import profile_texts
from tests.recommend.conftest import HashEmbedder


def test_test_fold_holds_out_each_users_last_event(tiny: ItemData) -> None:
    fold = leave_out_fold(tiny, position=1)
    assert fold.users.tolist() == eligible_users(tiny) == list(range(12))
    for user, target in zip(fold.users, fold.targets, strict=True):
        events = tiny.user_events[user]
        assert target == tiny.ev_item[events[-1]]
        assert not fold.train[events[-1]] and fold.train[events[:-1]].all()
        assert (int(user), int(target)) in fold.held_out


def test_validation_fold_drops_the_last_two_events(tiny: ItemData) -> None:
    fold = leave_out_fold(tiny, position=2, users=[0, 1])
    assert fold.users.tolist() == [0, 1]
    events = tiny.user_events[0]
    assert fold.targets[0] == tiny.ev_item[events[-2]]
    assert not fold.train[events[-2:]].any()
    # Every eligible user's held-out events leave training, scored or not.
    assert not fold.train[tiny.user_events[5][-2:]].any()


def test_fit_and_evaluate_on_two_clear_taste_clusters(tiny: ItemData) -> None:
    embedder = HashEmbedder()
    seen: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        seen.append(texts)
        return embedder.embed(texts)

    weights, validation = fit_weights(tiny, embed)
    assert abs(sum(weights.mix().values()) - 1) < 1e-9
    assert validation["users"] == 12
    seen.clear()
    report = evaluate(tiny, embed)
    assert set(report) >= {"text", "collaborative", "popularity", "combined", "weights", "validation"}
    # Within a cluster the last item is always one of the cluster's few unseen ones.
    assert report["combined"]["hr@10"] == 1.0
    # u4 tagged its own test item: neither fold's profiles carry that tag.
    assert len(seen) == 2
    assert all("space opera" not in texts[2] for texts in seen)
    assert seen[1] == profile_texts(tiny, exclude=leave_out_fold(tiny, position=1).held_out)
