# rangecast — `make` lists the targets.
SHELL := /bin/bash

GO        ?= go
GOROOT    := $(shell $(GO) env GOROOT)
WASM_EXEC := $(GOROOT)/lib/wasm/go_js_wasm_exec
# The browser build's packages, and those of them whose tests also run under Node: one list,
# internal/jsdeps/packages.txt, which internal/jsdeps's test reads too.
JS_PKGS   := $(shell awk '/^\.\// {print $$1}' internal/jsdeps/packages.txt)
NODE_PKGS := $(shell awk '/^\.\// && $$2 == "node" {print $$1}' internal/jsdeps/packages.txt)
FUZZTIME  ?= 30s
SOAKTIME  ?= 30m
BENCHCOUNT ?= 5

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: wasm ## build bin/rangecast, with the browser client embedded
	$(GO) build -o bin/rangecast ./cmd/native

.PHONY: wasm
wasm: ## build the browser client into web/dist and print its size
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags="-s -w" -o web/dist/rangecast.wasm ./cmd/wasm
	cp "$(GOROOT)/lib/wasm/wasm_exec.js" web/dist/wasm_exec.js
	@# The browser libraries of package.json (installed by make deps): without them the page has no QR code button / no zip.
	@if [ -f node_modules/qrcode-generator/dist/qrcode.js ]; then cp node_modules/qrcode-generator/dist/qrcode.js web/dist/qrcode.js; \
		else echo "web/dist/qrcode.js: node_modules/qrcode-generator is missing (make deps): the page will have no QR code button" >&2; fi
	@if [ -f node_modules/client-zip/index.js ]; then cp node_modules/client-zip/index.js web/dist/client-zip.js; \
		else echo "web/dist/client-zip.js: node_modules/client-zip is missing (make deps): the page will offer no zip" >&2; fi
	@raw=$$(stat -c %s web/dist/rangecast.wasm); gz=$$(gzip -9c web/dist/rangecast.wasm | wc -c); \
		echo "rangecast.wasm: $$raw bytes raw, $$gz bytes gzip"

.PHONY: run
run: build ## build, write a demo directory (.demo) and serve it; prints the link to open
	bin/rangecast demo .demo
	bin/rangecast serve .demo

.PHONY: vet
vet: ## go vet, natively and for GOOS=js
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet $(JS_PKGS)

.PHONY: test
# The tests that need a loopback-only network namespace (internal/netns) skip themselves
# under a plain `go test` without root; the Makefile's test targets make that a failure.
test e2e: export RANGECAST_REQUIRE_NETNS := 1
.PHONY: deps
deps: ## install what make test needs besides Go (as root), or say what to run
	scripts/deps.sh

test: deps vet wasm ## vet, then every test: -race natively, the portable packages under Node, the browser suite (as root: see internal/netns)
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /e2e$$)
	# 300 sessions through one port: the race detector's run above scales that down to 100.
	$(GO) test -count=1 -run '^TestManySessions$$' ./pkg/udpmux
	GOOS=js GOARCH=wasm $(GO) test -count=1 -exec="$(WASM_EXEC)" $(NODE_PKGS)
	$(MAKE) e2e

.PHONY: e2e
e2e: deps wasm ## only the browser suite: real Chromium against the real daemon, in a loopback-only netns (as root)
	$(GO) test -count=1 -timeout 30m ./e2e

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME each (default 30s)
	$(GO) test -run '^$$' -fuzz '^FuzzParseFrame$$' -fuzztime $(FUZZTIME) ./pkg/wire
	$(GO) test -run '^$$' -fuzz '^FuzzServeFrames$$' -fuzztime $(FUZZTIME) ./pkg/rangefs
	# The handler's candidates may name hosts to resolve: fuzz it where only lo exists.
	unshare --net sh -c 'ip link set lo up && $(GO) test -run "^$$" -fuzz "^FuzzHandlerInput$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./pkg/signaling'
	$(GO) test -run '^$$' -fuzz '^FuzzRelayMessage$$' -fuzztime $(FUZZTIME) ./pkg/relay

.PHONY: bench
bench: ## the performance table vs baselines (bench/results.json, docs/BENCHMARKS.md), then the in-memory benchmarks; never part of make test
	$(GO) run ./bench -runs $(BENCHCOUNT)
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) ./pkg/...

.PHONY: soak
soak: ## SOAKTIME (30m) of mixed, killed and hostile clients against one daemon, checked for leaks (bench/soak.json)
	$(GO) run ./bench -only soak -soak-duration $(SOAKTIME)

.PHONY: bench-smoke
bench-smoke: ## one short run of every benchmark, small sizes, so that they cannot rot
	$(GO) run ./bench -quick -o $${TMPDIR:-/tmp}/rangecast-bench-smoke.json
	$(GO) test -run '^$$' -bench . -benchtime 1x ./pkg/...

.PHONY: lint
lint: vet ## gofmt, go vet and staticcheck (the version go.mod's tool line pins)
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) tool staticcheck ./...
	# `go tool` would build staticcheck itself for GOOS=js: build it natively, run it on the js build.
	sc=$$($(GO) tool -n staticcheck) && GOOS=js GOARCH=wasm "$$sc" $(JS_PKGS)

.PHONY: check
check: ## what CI runs (.ci/run, after installing what is missing): lint, then make test, then bench-smoke
	$(MAKE) lint
	$(MAKE) test
	$(MAKE) bench-smoke

.PHONY: clean
clean: ## remove build outputs
	rm -rf bin .demo
	find web/dist -type f ! -name .gitkeep -delete
