# ambientlab — see README.md. Two commands matter: `make conformance` and `make test`.
SHELL   := /bin/bash
GO      ?= go
BIN     := $(CURDIR)/bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/ambientlab/ambientlab/internal/cli.Version=$(VERSION)
LABELS  ?=
REPORTS ?= $(CURDIR)/_output/conformance
export GOFLAGS ?= -buildvcs=false
export GOTOOLCHAIN ?= local

.PHONY: all build test unit conformance bench fmt vet check-fmt deps reap clean

all: build

## deps: check the toolchain and install the few host tools the tests exec inside pods
deps:
	@command -v $(GO) >/dev/null || { echo "Go is required (https://go.dev/dl)"; exit 1; }
	@$(GO) version | grep -qE 'go1\.(2[6-9]|[3-9][0-9])' || { echo "Go >= 1.26 is required"; exit 1; }
	@if ! command -v curl >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing curl (used by exec examples and tests)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null; \
	  else echo "curl is required: install it"; exit 1; fi; \
	fi

## build: bin/ambientlab (CLI) and bin/ambientlab-workload (per-pod workloads)
build: deps
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ambientlab ./cmd/ambientlab
	$(GO) build -trimpath -ldflags "-s -w" -o $(BIN)/ambientlab-workload ./cmd/ambientlab-workload

## test: formatting, vet, and every test with the race detector (needs root for namespace tests)
test: build check-fmt vet
	AMBIENTLAB_BIN_DIR=$(BIN) $(GO) test -race -count=1 -timeout 14m ./...

check-fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

## conformance: run the conformance suite on the built-in simulator (LABELS=AMBIENT-L4 for a subset)
conformance: build
	@mkdir -p $(REPORTS)
	AMBIENTLAB_BIN_DIR=$(BIN) AMBIENTLAB_REPORT_DIR=$(REPORTS) AMBIENTLAB_VERSION=$(VERSION) $(GO) test -v -count=1 -timeout 20m ./conformance/ \
	  -ginkgo.v -ginkgo.no-color=$(if $(CI),true,false) -ginkgo.label-filter='$(LABELS)' -ginkgo.junit-report=$(REPORTS)/ginkgo-junit.xml
	@echo "reports in $(REPORTS)"

## bench: benchmarks in Go benchmark format
bench: build
	@mkdir -p _output
	AMBIENTLAB_BIN_DIR=$(BIN) $(GO) test -run '^$$' -bench . -count 1 -timeout 40m ./... | tee _output/bench.txt

reap: build
	$(BIN)/ambientlab reap

clean:
	rm -rf $(BIN) _output
