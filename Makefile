# Two commands do everything on a fresh Debian/Ubuntu machine with Python 3.11:
#   make demo   set up, then serve the hub on http://127.0.0.1:7860
#   make test   set up, then run the test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# fluidsynth + a General MIDI soundfont render the composer's music; gcc + libc6-dev build its compiled LSTM
# step (optional: without them it steps with PyTorch's operators); the CJK fonts are the glyph data sets;
# chromium runs the browser tests.
DEMO_PACKAGES := fluidsynth fluid-soundfont-gm gcc libc6-dev fonts-arphic-ukai fonts-arphic-uming fonts-noto-cjk \
	fonts-wqy-zenhei
TEST_PACKAGES := $(DEMO_PACKAGES) chromium

.PHONY: demo test screenshots setup system-packages test-system-packages bench clean

demo: setup system-packages
	$(PY) spaces/hub/app.py

test: setup test-system-packages
	$(PY) -m pytest

# The README's pictures of every tab (docs/screenshots/), taken in Chromium from a freshly started hub.
screenshots: setup test-system-packages
	$(PY) tests/screenshots.py

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# one retry: where PyTorch's CPU index is unreachable (a machine with a PyPI mirror and a local torch wheel),
	# pip would otherwise back off for seconds per package before using the other indexes
	$(PY) -m pip install --quiet --retries 1 -r requirements.txt
	touch $@

# Debian packages, installed with apt when this machine allows it (root or passwordless sudo);
# otherwise the demos say what is missing and fall back where they can.
define apt_install
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else \
		echo "Not installing $$missing (needs root); the hub will say what is missing."; exit 0; fi; \
	if ! command -v apt-get >/dev/null; then echo "No apt-get: install $$missing by hand."; exit 0; fi; \
	echo "Installing Debian packages: $$missing"; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing
endef

system-packages:
	$(call apt_install,$(DEMO_PACKAGES))

test-system-packages:
	$(call apt_install,$(TEST_PACKAGES))

# Benchmarks write bench/results/*-cpu.json and end with the summary the README's tables are made of
# (bench/report.py); every ratio is measured in the same run, ours and the peer alternating. On a quiet machine:
#   make bench DATA_DIR=../shared/datasets            (a folder holding mnist/ and midi/; about 35 minutes)
#   make bench DATA_DIR=../shared/datasets QUICK=1    (fewer rounds, the lecture presets only: about 15 minutes)
# They also install bench/requirements.txt (Keras 3, whose torch backend runs the lecture's scripts beside ours);
# `make test` does not need it.
ifeq ($(QUICK),1)
QUICK_FLAG := --quick
COMPOSER_ROUNDS := --rounds 2 --seconds 1 --files 20
ABC_ROUNDS := --rounds 2
FUZZ_FILES := 1000
else
QUICK_FLAG :=
COMPOSER_ROUNDS :=
ABC_ROUNDS :=
FUZZ_FILES := 12000
endif

bench: setup system-packages $(VENV)/.bench-installed
	@test -n "$(DATA_DIR)" || { echo "usage: make bench DATA_DIR=<folder with mnist/ and midi/> [QUICK=1]"; exit 2; }
	$(PY) bench/bench_mnist.py --data-dir $(DATA_DIR)/mnist --http --profile $(QUICK_FLAG) --json bench/results/mnist-cpu.json
	$(PY) bench/bench_gan.py --profile $(QUICK_FLAG) --json bench/results/gan-cpu.json
	$(PY) bench/bench_composer.py --data-dir $(DATA_DIR)/midi --weights pretrained/lstm-composer $(COMPOSER_ROUNDS) --json bench/results/composer-cpu.json
	$(PY) bench/bench_abc.py pretrained/abc-composer-rnn pretrained/abc-composer-gru pretrained/abc-composer-lstm pretrained/abc-composer-transformer $(ABC_ROUNDS) --json bench/results/abc-cpu.json
	$(PY) bench/fuzz_midi.py --files $(FUZZ_FILES) --data-dir $(DATA_DIR)/midi
	$(PY) bench/load_test.py --clients 32 $(QUICK_FLAG) --json bench/results/load-cpu.json
	$(PY) bench/attack.py --json bench/results/attack-cpu.json
	$(PY) bench/report.py

$(VENV)/.bench-installed: bench/requirements.txt $(VENV)/.installed
	$(PY) -m pip install --quiet --retries 1 -r bench/requirements.txt
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
