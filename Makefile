# Shortcuts for developers; README.md gives the two set-up commands (scripts/demo, scripts/test).
.PHONY: demo test lint bench clean install uninstall voice-arm64

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

## The voice tests in an arm64 Debian bookworm userland under qemu-user (not in CI; docs/voice.md).
voice-arm64:
	./tests/voice/arm64.sh $(ARGS)

clean:
	rm -rf .venv .pytest_cache .ruff_cache .hypothesis

## On a Pi: sudo make install ROLE=kiosk|counter|caller|display ARGS='--device k1'
install:
	@test -n "$(ROLE)" || { echo "make install ROLE=kiosk|counter|caller|display ARGS='...'"; exit 2; }
	./scripts/install $(ROLE) $(ARGS)

uninstall:
	@test -n "$(ROLE)" || { echo "make uninstall ROLE=kiosk|counter|caller|display"; exit 2; }
	./scripts/install $(ROLE) --uninstall $(ARGS)
