"""Fine-tuning: the cached-layer shortcut is exact, and training runs end to end on a tiny slice."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer
from typer.testing import CliRunner

from cli.main import app
from eval.classifier_metrics import evaluate
from finetune.classifier.config import TrainConfig
from finetune.classifier.data import load_headlines, make_split
from finetune.classifier.encoder_cache import encode_headlines, layer_range
from finetune.classifier.training import (
    build_model,
    length_grouped_batches,
    soup_config,
    soup_state,
    top_scores,
)
from rag.core.datafiles import HEADLINES_FILE
from rag.core.settings import Settings, get_settings
from rag.engagement.neighbours import mean_pool
from rag.engagement.predictor import EngagementPredictor, tokenize

HEADLINES = ["Apple stellt neues iPhone vor", "Bundestag beschließt Gesetz zur Chatkontrolle", "Test"]


def test_length_grouped_batches_cover_every_row_once() -> None:
    lengths = list(np.random.default_rng(1).integers(3, 40, size=203))
    batches = list(length_grouped_batches(lengths, 16, np.random.default_rng(0), group=4))
    assert sorted(i for b in batches for i in b) == list(range(203))
    assert max(len(b) for b in batches) == 16


@pytest.mark.slow
def test_soup_adapter_merges_to_the_mean_of_the_members_merged_weights(
    provisioned: Callable[[str], Path],
) -> None:
    folder = str(provisioned("multilingual-e5-small"))
    config = TrainConfig(top_layers=2, lora_rank=4, lora_alpha=8, soup=3)
    generator = torch.Generator().manual_seed(0)
    states, merged = [], []
    for _ in range(config.soup):  # members: the same shape, different (random, non-zero) weights
        member = build_model(folder, config)
        state = {
            name: torch.randn(param.shape, generator=generator) * 0.05
            for name, param in member.named_parameters()
            if param.requires_grad
        }
        member.load_state_dict(state, strict=False)
        states.append(state)
        merged.append(member.merge_and_unload().state_dict())
    soup = build_model(folder, soup_config(config))
    assert soup.peft_config["default"].r == 12 and soup.peft_config["default"].lora_alpha == 24
    missing = soup.load_state_dict(soup_state(states), strict=False)
    assert not missing.unexpected_keys
    souped = soup.merge_and_unload().state_dict()
    changed = 0
    for name, value in souped.items():
        mean = torch.stack([m[name].float() for m in merged]).mean(0)
        torch.testing.assert_close(value.float(), mean, atol=1e-5, rtol=1e-4)
        changed += not torch.equal(merged[0][name], merged[1][name])
    assert changed >= 2 * 6 + 4  # the adapted projections of both layers, pooler and head differ


@pytest.mark.slow
def test_top_layers_on_cached_states_equal_the_full_model(provisioned: Callable[[str], Path]) -> None:
    folder = str(provisioned("multilingual-e5-small"))
    torch.manual_seed(0)
    model = build_model(folder, TrainConfig(top_layers=3))
    with torch.no_grad():  # LoRA B starts at zero; make the adapters matter
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    with model.disable_adapter():
        encoded = encode_headlines(model.base_model.model, tokenizer, HEADLINES, start=9, max_length=48)
    model.eval()
    with torch.inference_mode():
        batch = tokenize(tokenizer, HEADLINES, 48)
        output = model(**batch, output_hidden_states=True)
        states, mask = encoded.batch([0, 1, 2])
        with layer_range(model.base_model.model.bert, 9, 12, from_hidden=True):
            top = model(inputs_embeds=states, attention_mask=mask).logits
            scores = top_scores(model, encoded, [0, 1, 2], "cpu")
    assert torch.allclose(output.logits, top, atol=1e-5)
    # the sentence embeddings the neighbour vote reads: the same from cache as from the full model
    pooled = mean_pool(output.hidden_states[-1], batch["attention_mask"]).numpy()
    np.testing.assert_allclose(scores.embeddings, pooled, atol=1e-5)
    np.testing.assert_allclose(
        scores.log_odds, (output.logits[:, 1] - output.logits[:, 0]).numpy(), atol=1e-5
    )
    assert len(model.base_model.model.bert.encoder.layer) == 12  # restored after the context


@pytest.mark.slow
def test_training_runs_end_to_end_on_a_tiny_slice(
    settings: Settings, provisioned: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provisioned("multilingual-e5-small")
    monkeypatch.setenv("HEISE_RAG_DATA_DIR", str(settings.resolved_data_dir))
    monkeypatch.setenv("HEISE_RAG_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    out = tmp_path / "model"
    try:
        result = CliRunner().invoke(
            app,
            ["train", "classifier", "--split", "time", "--limit", "80", "--epochs", "2", "--top-layers", "1",
             "--soup", "2", "--output", str(out), "--report-dir", str(tmp_path / "report")],
        )  # fmt: skip
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "time: Test-Genauigkeit" in result.output
    assert {p.name for p in out.iterdir()} == {
        "adapter_config.json", "adapter_model.safetensors", "classifier.json", "lexical.json",
        "neighbours.safetensors", "MODEL_CARD.md",
    }  # fmt: skip
    assert (out / "adapter_model.safetensors").stat().st_size < 5_000_000
    assert json.loads((out / "adapter_config.json").read_text())["r"] == 2 * 16  # two runs' adapters
    stored = load_file(out / "adapter_model.safetensors")
    assert {t.dtype for t in stored.values()} == {torch.bfloat16}
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "heise-rag train classifier --split time --epochs 2 --top-layers 1" in card
    assert "--soup 2" in card and "A model soup of 2 runs" in card
    assert "x TF-IDF + " in card and "x neighbour vote" in card and "| blend (served) |" in card
    assert "| neighbour vote alone |" in card
    assert (tmp_path / "report" / "training-curve-time.png").stat().st_size > 10_000
    # the saved adapter, pooler and head, merged by the predictor, score the test part as in training;
    # the blend with the saved members scores it as recorded when it was fitted
    predictor = EngagementPredictor(out, model_cache_dir=settings.model_cache_dir)
    frame = load_headlines(settings.resolved_data_dir / HEADLINES_FILE)
    test = make_split(frame.sample(n=80, random_state=42).sort_index().reset_index(drop=True), "time").test
    headlines, labels = test.headline.tolist(), test.label.to_numpy()
    for scores, recorded in [
        (predictor.encoder_scores(headlines).log_odds, predictor.info.training["test"]),
        (predictor.log_odds(headlines), predictor.info.training["blend"]["test"]),
    ]:
        measured = evaluate(labels, scores, 1.0)
        assert measured.roc_auc == pytest.approx(recorded["roc_auc"], abs=1e-6)  # type: ignore[index]
        assert measured.confusion == tuple(map(tuple, recorded["confusion"]))  # type: ignore[index]
    assert predictor.info.split == "time" and predictor.info.temperature > 0
    blend = predictor.info.blend

    # fitting the blend again onto the saved classifier gives the same blend, up to the rounding
    # between the adapter merged for scoring and the unmerged one in training (the fit on 20 dev
    # headlines is nearly unregularized, so it amplifies 1e-6 differences to about 1e-3)
    monkeypatch.setenv("HEISE_RAG_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    try:
        again = CliRunner().invoke(
            app,
            ["train", "classifier", "--split", "time", "--limit", "80", "--top-layers", "1", "--blend-only",
             "--output", str(out)],
        )  # fmt: skip
    finally:
        get_settings.cache_clear()
    assert again.exit_code == 0, again.output
    reloaded = EngagementPredictor(out, model_cache_dir=settings.model_cache_dir).info.blend
    assert blend is not None and reloaded is not None
    assert reloaded["weights"] == pytest.approx(blend["weights"], rel=1e-2)
    assert reloaded["bias"] == pytest.approx(blend["bias"], rel=1e-2, abs=1e-3)


def test_blend_only_needs_a_trained_classifier(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEISE_RAG_DATA_DIR", str(settings.resolved_data_dir))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            app,
            ["train", "classifier", "--split", "time", "--blend-only", "--output", str(tmp_path / "none")],
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "no engagement classifier in" in result.output
