# The two commands of the README. Both install what is missing first (scripts/setup.sh).
.PHONY: demo test setup build

setup:
	@bash scripts/setup.sh

build: setup
	swift build

demo: setup
	@bash scripts/demo.sh

test: setup
	swift build --build-tests
	swift test --skip-build
