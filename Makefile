# Two commands do all set-up: `make demo` (the main job on the built-in demo data) and `make test`.
# `make demo-images`: GFNet on images, on the built-in synthetic images (tools/demo_images.py).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.gfvideo-installed

.PHONY: install demo demo-images test clean-demo

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python tools/demo.py

demo-images: $(STAMP)
	$(BIN)/python tools/demo_images.py

test: $(STAMP)
	$(BIN)/python -m pytest

clean-demo:
	rm -rf data/demo work_dirs/demo data/demo_images work_dirs/demo_images
