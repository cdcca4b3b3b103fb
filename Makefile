# Sahafa: `make run` serves the app over the bundled corpus; `make test` runs the suite.
# Both create .venv and install everything on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
INDEX ?= index
CORPUS ?= seeds
PORT ?= 8501
N ?= 0
SYNTHETIC ?= 100000
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run index test test-fast lint bench-index bench-quality bench-search bench-reliability bench-ann bench-scale bench-syndication bench-speakers chromium clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU wheel of torch first: anything that depends on torch must find it installed.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

index: install
	$(BIN)/sahafa index $(CORPUS) --index $(INDEX)

run: index
	$(BIN)/sahafa serve --index $(INDEX) --port $(PORT)

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  (sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive sudo apt-get install -y -qq chromium >/dev/null); }

test: install chromium
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not browser and not slow"

lint: install
	$(BIN)/ruff check indexer search_app tests bench

bench-index: install
	$(BIN)/python -m bench.index --n $(N)

bench-quality: install
	$(BIN)/python -m bench.quality

bench-search: install
	$(BIN)/python -m bench.search --synthetic $(SYNTHETIC)

bench-reliability: install
	$(BIN)/python -m bench.reliability

bench-ann: install
	$(BIN)/python -m bench.ann

bench-syndication: install
	$(BIN)/python -m bench.syndication

bench-speakers: install
	$(BIN)/python -m bench.speakers

# SIZES=1000,10000,100000 for a shorter run; 1,000,000 passages take about an hour and 20 GB of disk here.
SIZES ?= 1000,10000,100000,1000000
bench-scale: install
	$(BIN)/python -m bench.scale --sizes $(SIZES)

clean:
	rm -rf $(INDEX) bench-out tests/artifacts
