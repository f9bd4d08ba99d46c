"""The learned task classifier: fit, save/load, and how Classify uses it."""

from __future__ import annotations

import numpy as np

from mangaassist.turn import QueryEmbedding, Task
from mangaassist.understand.classify import classify, features
from mangaassist.understand.task_model import TaskModel
from mangaassist_offline.training import fit, labelled, training_fingerprint

MODEL = "test-embeddings"


def axis(i: int, dims: int = 8) -> list[float]:
    v = [0.0] * dims
    v[i] = 1.0
    return v


def toy_model() -> TaskModel:
    """Greetings point along axis 0, discussions along axis 1: separable, so the fit must learn it."""
    texts = ["yo", "hey you", "why did it end so", "what does it mean"]
    vectors = [axis(0), axis(0), axis(1), axis(1)]
    matrix = np.array([features(t, v) for t, v in zip(texts, vectors, strict=True)])
    return fit(matrix, ["greeting", "greeting", "discussion", "discussion"], MODEL, dimensions=8, steps=300)


def test_fit_separates_the_classes_and_survives_a_save_and_load(tmp_path):
    model = toy_model()
    assert model.predict(features("zzz", axis(0)))[0] is Task.GREETING
    assert model.predict(features("zzz", axis(1)))[0] is Task.DISCUSSION
    model.save(tmp_path / "m.npz")
    loaded = TaskModel.load(tmp_path / "m.npz")
    assert loaded.labels == model.labels and loaded.embedding_model_id == MODEL and loaded.dimensions == 8
    assert np.allclose(loaded.probabilities(features("zzz", axis(1))), model.probabilities(features("zzz", axis(1))))


def test_classify_uses_the_model_only_in_its_own_embedding_space():
    model = toy_model()
    # Rules alone call this a greeting; the embedding says discussion.
    learned = classify("hello", QueryEmbedding(model_id=MODEL, vector=axis(1)), model)
    assert learned.task is Task.DISCUSSION
    other_space = classify("hello", QueryEmbedding(model_id="another-model", vector=axis(1)), model)
    wrong_size = classify("hello", QueryEmbedding(model_id=MODEL, vector=[1.0, 0.0]), model)
    assert other_space.task is Task.GREETING and wrong_size.task is Task.GREETING


def test_an_order_id_is_order_status_whatever_the_model_says():
    model = toy_model()
    result = classify("hey MGA-2025-00417", QueryEmbedding(model_id=MODEL, vector=axis(0)), model)
    assert result.task is Task.ORDER_STATUS


def test_labelled_set_covers_every_task_in_both_languages_with_a_dev_split():
    rows = labelled(None)
    assert len(rows) >= 500
    for task in Task:
        langs = {r["language"] for r in rows if r["task"] == task.value}
        assert {"en", "ja"} <= langs, task
    assert {r["split"] for r in rows} == {"train", "dev"}


def test_fingerprint_changes_with_the_embedding_space():
    assert training_fingerprint("a", 384) != training_fingerprint("b", 384) != training_fingerprint("a", 1024)


def test_store_questions_search_policies_only_unless_a_title_is_named():
    from mangaassist.text import extract_entities
    from mangaassist.understand.retrieve import store_question

    texts, vectors = ["can I pay", "refund rules", "one piece price", "naruto 3"], [axis(2), axis(2), axis(3), axis(3)]
    matrix = np.array([features(t, v) for t, v in zip(texts, vectors, strict=True)])
    model = fit(matrix, ["faq", "faq", "product_search", "product_search"], MODEL, dimensions=8, steps=300)
    policy_like = QueryEmbedding(model_id=MODEL, vector=axis(2))
    assert store_question("do you take cards", extract_entities("do you take cards"), policy_like, model)
    named = "can I return One Piece vol 3"
    assert not store_question(named, extract_entities(named), policy_like, model)
    product_like = QueryEmbedding(model_id=MODEL, vector=axis(3))
    assert not store_question("hmm", extract_entities("hmm"), product_like, model)
    assert not store_question("hmm", extract_entities("hmm"), policy_like, None)
