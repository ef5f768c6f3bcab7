# rangecast — `make` lists the targets.

GO        ?= go
GOROOT    := $(shell $(GO) env GOROOT)
WASM_EXEC := $(GOROOT)/lib/wasm/go_js_wasm_exec
# Packages that must build for both targets; their tests also run under Node (GOOS=js).
BOTH_PKGS := ./pkg/wire ./pkg/rangefs
JS_PKGS   := $(BOTH_PKGS) ./pkg/peer
FUZZTIME  ?= 30s
BENCHCOUNT ?= 5
STATICCHECK_VERSION := 2026.2.2

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build bin/rangecast
	$(GO) build -o bin/ ./...

.PHONY: vet
vet: ## go vet, natively and for GOOS=js
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet $(JS_PKGS)

.PHONY: test
test: vet ## vet, then every test: -race natively, and the portable packages under Node
	$(GO) test -race -count=1 ./...
	GOOS=js GOARCH=wasm $(GO) test -count=1 -exec="$(WASM_EXEC)" $(BOTH_PKGS)

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME each (default 30s)
	$(GO) test -run '^$$' -fuzz '^FuzzParseFrame$$' -fuzztime $(FUZZTIME) ./pkg/wire
	$(GO) test -run '^$$' -fuzz '^FuzzServeFrames$$' -fuzztime $(FUZZTIME) ./pkg/rangefs

.PHONY: bench
bench: ## benchmarks, BENCHCOUNT runs each (never part of make test)
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) ./pkg/...

.PHONY: bench-smoke
bench-smoke: ## one short run of every benchmark, so that they cannot rot
	$(GO) test -run '^$$' -bench . -benchtime 1x ./pkg/...

.PHONY: lint
lint: vet ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	GOOS=js GOARCH=wasm $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(JS_PKGS)

.PHONY: check
check: lint test ## lint and test: what CI runs

.PHONY: clean
clean: ## remove build outputs
	rm -rf bin
