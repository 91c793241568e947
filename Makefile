# The two commands of the README. Both install what a fresh machine lacks.

.PHONY: demo test lint

# Runs Jigi's main job: a programme quarter on a local stack (NATS hub and
# two regional leaf nodes, the four services) on embedded defaults, and the
# national indicators it produces. On a terminal it then keeps the stack
# running, so the national operations console shows the quarter (Ctrl-C stops).
demo:
	@scripts/ensure-tools
	cargo run --quiet -p jigi -- demo $$( [ -t 0 ] && echo --stay )

# Runs every test (real NATS, real SQLite, real gRPC).
test:
	@scripts/ensure-tools
	cargo test --workspace --locked --no-fail-fast

# Style and lints, as CI runs them.
lint:
	cargo fmt --check
	cargo clippy --all-targets --locked -- -D warnings
	scripts/buf-lint
