# The two commands of the README. Both install what is missing first (scripts/setup.sh).
.PHONY: demo test setup build bench bench-long-poll-flood reliability

setup:
	@bash scripts/setup.sh

build: setup
	swift build

demo: setup
	@bash scripts/demo.sh

test: setup
	swift build --build-tests
	swift test --skip-build

# Not part of the two commands: the benchmark (release build, several minutes) and the large reliability run.
bench: setup
	swift build -c release --product signoff --scratch-path .build-release
	swift build -c release --product signoff-bench --scratch-path .build-release
	.build-release/release/signoff-bench --runs 3

# Issue 23: 20,000 gate long polls with one token against a real server (release build); exits non-zero over a limit.
bench-long-poll-flood: setup
	swift build -c release --product signoff --scratch-path .build-release
	python3 Benchmarks/long-poll-flood.py --signoff .build-release/release/signoff --runs 3

reliability: setup
	swift build --build-tests
	SIGNOFF_RELIABILITY=large swift test --skip-build --filter ReliabilityTests
