# The two commands of the README. Both install what is missing first (scripts/setup.sh).
.PHONY: demo test setup build bench bench-long-poll-flood reliability

setup:
	@bash scripts/setup.sh

build: setup
	swift build

demo: setup
	@bash scripts/demo.sh

# The suite beside a throwaway PostgreSQL cluster (scripts/with-postgres.sh starts it and removes it, pass or fail),
# then a check that it left no process running.
test: setup
	swift build --build-tests
	@export SIGNOFFTEST_RUN=$$(cat /proc/sys/kernel/random/uuid); status=0; bash scripts/with-postgres.sh swift test --skip-build || status=$$?; bash scripts/leftovers.sh || status=1; exit $$status

# Not part of the two commands: the benchmark (release build, several minutes) and the large reliability run.
bench: setup
	swift build -c release --product signoff --scratch-path .build-release
	swift build -c release --product signoff-bench --scratch-path .build-release
	.build-release/release/signoff-bench --runs 3

# Issue 23: 20,000 gate long polls with one token against a real server (release build); exits non-zero over a limit.
bench-long-poll-flood: setup
	swift build -c release --product signoff --scratch-path .build-release
	python3 Benchmarks/long-poll-flood.py --signoff .build-release/release/signoff --runs 3

# The large campaigns: what `make test` samples (kill -9 cycles, tampers, mutated exports, schemathesis examples, the
# migrated ledger: 100,000 entries both ways), at full size.
reliability: setup
	swift build --build-tests
	@export SIGNOFFTEST_RUN=$$(cat /proc/sys/kernel/random/uuid); status=0; SIGNOFF_RELIABILITY=large bash scripts/with-postgres.sh swift test --skip-build --filter "ReliabilityTests|ServeTests/schemathesis|PostgresServeTests/migrateLarge" || status=$$?; bash scripts/leftovers.sh || status=1; exit $$status
