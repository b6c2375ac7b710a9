# Ward — see README.md. Every target runs on a fresh clone; eval targets
# need ../shared/datasets (not shipped with the repo).
GO      ?= go
PKGS    ?= ./...
DATA    ?= ../shared/datasets
BIN     ?= bin/ward

.PHONY: build run test test-race bench lint fmt demo fuzz eval-phi eval-injection tokens-reference tokens-bench clean

build:
	$(GO) build -o $(BIN) ./cmd/ward

## run: ward serve on the embedded defaults (no external services)
run:
	$(GO) run ./cmd/ward serve

## test: lint, every Go test (Rego unit tests included via ./policy), and the Rego tests through ward's own runner
test: lint
	$(GO) test -count=1 $(PKGS)
	$(GO) run ./cmd/ward policy test rego

test-race:
	$(GO) test -race -count=1 ./extproc/... ./cmd/...

## bench: hot-path benchmarks with allocations (numbers on a shared 2-core box are noisy; use -count and benchstat)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1s $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

## demo: a few realistic requests through the Envoy emulator to the fake LLM
demo:
	$(GO) run ./cmd/ward demo

## fuzz: a short run of every fuzz target (FUZZTIME=30s for longer); see test/fuzz.sh
FUZZTIME ?= 10s
fuzz:
	FUZZTIME=$(FUZZTIME) bash test/fuzz.sh

eval-phi:
	$(GO) run ./test/eval/phi -data $(DATA)/phi

eval-injection:
	$(GO) run ./test/eval/injection -data $(DATA)/injection

## tokens-reference: regenerate the npm tiktoken reference counts (needs node and npm)
tokens-reference:
	$(MAKE) -C test/tokens reference

## tokens-bench: tiktoken-go, npm tiktoken and Ward's counter in one run
tokens-bench:
	$(MAKE) -C test/tokens bench

clean:
	rm -rf bin
