# Thin wrappers around tasks.py (which needs only Python >= 3.11 and pip).
PYTHON ?= python3

.PHONY: run test bench lint
run:
	$(PYTHON) tasks.py run $(ARGS)

test:
	$(PYTHON) tasks.py test $(ARGS)

bench:
	$(PYTHON) tasks.py bench $(ARGS)

lint:
	.venv/bin/ruff check .
