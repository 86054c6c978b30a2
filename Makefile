# pianoroll — the front door. Every target sets up what it needs (venv, pages, a model).
# Variables (defaults shown in ../README.md): MIDI IMAGES RESOLUTION JOBS MODEL EPOCHS ARCH LOSS
# OUT VANISH VANISH_INC LENGTH PRIMER SEED COUNT MODE THRESHOLD TEMPERATURE MAX_NOTES BPM BENCH BENCH_DATA GPU.

PYTHON     ?= python3
VENV       := .venv
PY         := $(VENV)/bin/python
PIANOROLL  := $(PY) -m pianoroll

MIDI       ?=
IMAGES     ?= images
RESOLUTION ?= 0.25
JOBS       ?=
MODEL      ?= models/default
EPOCHS     ?=
ARCH       ?= convlstm
LOSS       ?=
SEED       ?= 0
OUT        ?= output
VANISH     ?= 0.65
VANISH_INC ?=
LENGTH     ?= 106
PRIMER     ?=
COUNT      ?= 1
MODE       ?=
THRESHOLD  ?=
TEMPERATURE ?=
MAX_NOTES  ?=
BPM        ?=
BENCH      ?=
BENCH_DATA ?=
GPU        ?=

# TensorFlow's build, an extra of pyproject.toml: GPU=1 the one with CUDA, GPU=0 the CPU one; left out, the one
# .venv already has (recorded in .venv/.tensorflow), else the CPU one. The other build is uninstalled first:
# both install the same `tensorflow` package, so the two must never be present together.
TF_BUILD   := $(if $(filter 1,$(GPU)),gpu,$(if $(filter 0,$(GPU)),cpu,$(or $(shell cat $(VENV)/.tensorflow 2>/dev/null),cpu)))
TF_OTHER   := $(if $(filter gpu,$(TF_BUILD)),tensorflow-cpu,tensorflow)

opt = $(if $(2),$(1) $(2))

.PHONY: install images train compose test evaluate benchmark clean help
.DEFAULT_GOAL := help

help:
	@echo "make compose    compose music (sets up venv, pages and a model first if missing)"
	@echo "make test       run the test suite (make test-fast: about a minute; make lint: ruff)"
	@echo "make install    create .venv and install pianoroll into it (GPU=1: TensorFlow with CUDA, GPU=0: back to CPU)"
	@echo "make images     MIDI=folder IMAGES=images RESOLUTION=0.25  → piano-roll pages"
	@echo "make train      IMAGES=images MODEL=models/default EPOCHS= ARCH=convlstm|independent|seed|tokens|notes|messages LOSS="
	@echo "make evaluate   MODEL=models/default [BENCH=chorales | BENCH=jsb BENCH_DATA=file.json]"
	@echo "make benchmark  speed and quality side by side with the seed's way"

install: $(VENV)/.installed-$(TF_BUILD)

$(VENV)/.installed-%: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip uninstall --quiet --yes $(TF_OTHER)
	$(PY) -m pip install --quiet -e '.[test,$*]'
	rm -f $(VENV)/.installed-* && echo $* > $(VENV)/.tensorflow && touch $@

images: install
	$(PIANOROLL) images $(MIDI) --out $(IMAGES) --resolution $(RESOLUTION) $(call opt,--jobs,$(JOBS))

$(IMAGES)/manifest.csv:
	$(MAKE) images

train: install $(IMAGES)/manifest.csv
	$(PIANOROLL) train --images $(IMAGES) --model $(MODEL) --arch $(ARCH) --seed $(SEED) \
		$(call opt,--loss,$(LOSS)) $(call opt,--epochs,$(EPOCHS))

$(MODEL)/model.keras:
	$(MAKE) train

compose: install $(MODEL)/model.keras
	$(PIANOROLL) compose --model $(MODEL) --out $(OUT) $(call opt,--mode,$(MODE)) --vanish $(VANISH) \
		$(call opt,--vanish-inc,$(VANISH_INC)) --length $(LENGTH) --count $(COUNT) --seed $(SEED) \
		$(call opt,--primer,$(PRIMER)) $(call opt,--threshold,$(THRESHOLD)) \
		$(call opt,--temperature,$(TEMPERATURE)) $(call opt,--max-notes,$(MAX_NOTES)) $(call opt,--bpm,$(BPM))

test: install
	$(PY) -m pytest

.PHONY: lint
lint: install  # pyflakes, syntax and import order (pyproject.toml's [tool.ruff]); CI runs it before the tests
	$(PY) -m ruff check pianoroll scripts tests

.PHONY: test-fast
test-fast: install  # the suite without the slow and system tests (pyproject.toml's markers): about a minute
	$(PY) -m pytest -q -m "not slow and not system"

evaluate: install $(if $(BENCH),,$(MODEL)/model.keras)
	$(PIANOROLL) evaluate --model $(MODEL) $(call opt,--bench,$(BENCH)) $(call opt,--bench-data,$(BENCH_DATA))

benchmark: install $(IMAGES)/manifest.csv $(MODEL)/model.keras
	$(PIANOROLL) benchmark

clean:
	rm -rf $(OUT) models images/*.png images/manifest.csv reports/*.png
