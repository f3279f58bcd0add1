# Coordinator charms for distributed Grafana Tempo and Pyroscope.
# `make demo` and `make test` are the two commands a newcomer needs.

SHELL := /bin/bash
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
BUILD := build
GOFLAGS_BUILD := -trimpath -ldflags "-s -w -X main.version=$(VERSION)"
WORKLOAD_BIN ?= $(HOME)/.cache/coordinator-workloads/bin
export TEMPO_BIN ?= $(WORKLOAD_BIN)/tempo
export PYROSCOPE_BIN ?= $(WORKLOAD_BIN)/pyroscope
export TRAEFIK_BIN ?= $(WORKLOAD_BIN)/traefik

.PHONY: all build charm test unit fuzz demo e2e bench bench-datapath deps system-deps workloads lint clean

# FUZZTIME bounds each fuzz target in `make test` and `make fuzz` (11 targets:
# about 3 minutes at 10s). A long run: make fuzz FUZZTIME=1000000x

all: build

## build: the dispatch binary (static, stripped)
build:
	CGO_ENABLED=0 go build $(GOFLAGS_BUILD) -o $(BUILD)/dispatch ./cmd/dispatch

## charm: pack every coordinator charm (internal/products.Charms) into build/*.charm (no charmcraft needed)
charm: build
	go run ./tools/charmpack -dispatch $(BUILD)/dispatch -out-dir $(BUILD)
	@ls -l $(BUILD)/*.charm

## system-deps: Debian packages the tests and the demo run (nginx, namespaces tools)
system-deps:
	@if ! command -v nginx >/dev/null || ! command -v unshare >/dev/null || ! command -v ip >/dev/null; then \
		echo "installing nginx, util-linux and iproute2 with apt-get"; \
		if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nginx util-linux iproute2 >/dev/null; \
	fi

## workloads: build the real Tempo, Pyroscope, Traefik and nginx-prometheus-exporter binaries once into $(WORKLOAD_BIN)
workloads:
	scripts/build-workloads tempo pyroscope traefik nginx-prometheus-exporter

deps: system-deps workloads

## lint: gofmt, go vet and staticcheck (pinned in go.mod as a tool, like Pebble)
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	go vet ./...
	go tool staticcheck ./...

## test: every test, with real nginx, Pebble, Tempo, Pyroscope, Traefik and the nginx exporter (installed or built first)
test: deps lint charm
	go test -count=1 -timeout 30m ./...
	FUZZTIME=$(FUZZTIME) scripts/fuzz

## fuzz: every fuzz target for FUZZTIME each (default 10s)
FUZZTIME ?= 10s
fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz

## unit: the fast tests only (-short skips what starts Pebble, nginx, a sandbox, a built or packed charm, Tempo or Pyroscope: make test runs it)
unit:
	go test -short ./...

## demo: a simulated Juju model driving the built charm, real Pebble and real nginx
demo: system-deps build
	scripts/build-workloads nginx-prometheus-exporter >/dev/null
	go run ./cmd/demo -dispatch $(BUILD)/dispatch -exporter $(WORKLOAD_BIN)/nginx-prometheus-exporter

## e2e: real Tempo and Pyroscope clusters configured by the charm, behind a real Traefik too (see README)
e2e: deps build
	go test -count=1 -v -timeout 30m ./tests/e2e/...

## bench: hook cost (calls, time, memory) as the cluster grows
bench: build
	go test -run '^$$' -bench . -benchmem ./internal/coordinator/
	go test -run '^$$' -bench CharmLogic -benchmem ./bench/
	bench/run $(BUILD)/dispatch

## bench-datapath: nginx's data path with the rendered config, the pre-change config and direct, in one run
## (requests/s, spans/s, p50, p99; sink, real Tempo, Pyroscope /ingest), then reloads while workers scale 1→5→1.
## Load generators: Debian's wrk, and ghz built from its Go module into $(WORKLOAD_BIN). Needs root.
GHZ_VERSION := v0.120.0
bench-datapath: system-deps workloads
	@command -v wrk >/dev/null || { if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk >/dev/null; }
	@test -x $(WORKLOAD_BIN)/ghz || GOBIN=$(WORKLOAD_BIN) go install github.com/bojand/ghz/cmd/ghz@$(GHZ_VERSION)
	go run ./bench/datapath -ghz $(WORKLOAD_BIN)/ghz -tempo $(TEMPO_BIN)

clean:
	rm -rf $(BUILD)
