# The two Quick-start commands. Both install what is missing first (see .ci/tools.sh).
.PHONY: run test install bench proof

run:   ## build and start Mast at http://localhost:3000 (SQLite under ./data)
	@bash .ci/mast run

test:  ## every test: Rust on SQLite and PostgreSQL, then end2end in Chromium
	@bash .ci/mast test

install:  ## only install the build and test tools
	@bash .ci/mast install

bench:  ## print bundle size, SSR time, sign-in throughput, API gateway, log writer and scale figures
	@bash .ci/bench

proof:  ## print load (10 min, SQLite and PostgreSQL) and crash figures against the release build
	@bash .ci/proof
