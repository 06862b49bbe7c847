# Two entry points for a newcomer: `make demo` and `make test`. Both bootstrap .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= out/demo

.PHONY: demo test lint typecheck check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: the CPU wheel of exactly this version is what the machines serve
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,train,metrics]'
	touch $(STAMP)

demo: $(STAMP)
	mkdir -p $(OUT)
	# the default at 12 kbps: AAC-LC core + the shipped n-SBG model (neural band generation) ...
	$(BIN)/bandgen encode bandgen/assets/demo_guitar.flac $(OUT)/demo_nsbg.bgn --bitrate 12
	$(BIN)/bandgen info $(OUT)/demo_nsbg.bgn
	$(BIN)/bandgen decode $(OUT)/demo_nsbg.bgn $(OUT)/demo_nsbg.wav
	# ... and classic SBR at the same rate, for comparison
	$(BIN)/bandgen encode bandgen/assets/demo_guitar.flac $(OUT)/demo_sbr.bgn --bitrate 12 --hf sbr
	$(BIN)/bandgen decode $(OUT)/demo_sbr.bgn $(OUT)/demo_sbr.wav
	@echo "demo: listen to $(OUT)/demo_nsbg.wav and $(OUT)/demo_sbr.wav (original: bandgen/assets/demo_guitar.flac)"

test: $(STAMP)
	$(BIN)/ruff check bandgen tests scripts
	$(BIN)/mypy
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
