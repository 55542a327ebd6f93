# Shortcuts for developers; README.md gives the two set-up commands (scripts/demo, scripts/test).
.PHONY: demo test lint bench clean

demo:
	./scripts/demo

test:
	./scripts/test

lint:
	./scripts/venv && .venv/bin/ruff check .

## Every script in bench/ prints its figures.
bench:
	./scripts/system-deps test && ./scripts/venv
	@for script in bench/*.py; do echo "== $$script"; .venv/bin/python $$script || exit 1; done

clean:
	rm -rf .venv .pytest_cache .ruff_cache .hypothesis
