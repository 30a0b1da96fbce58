# Skydive: see README.md. `make run` and `make test` are the two commands.
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
GO ?= go
BIN := bin/skydive
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/skydive-ng/skydive/internal/version.Version=$(VERSION)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# What the tests need on a fresh Debian machine.
APT_PACKAGES := iproute2 iputils-ping tcpdump libpcap-dev openvswitch-switch clickhouse-server clickhouse-client \
	curl socat neutron-server python3-keystone ovn-central libvirt-daemon libvirt-clients runc busybox-static lldpd \
	prometheus libnss3-tools openssl nfdump etcd-server ethtool netsniff-ng

.PHONY: all build ui run test deps unit privileged e2e ui-test lint bench fuzz clean lab lab-down lab-status bpf

all: build

## ui: the web UI (TypeScript, Vite), embedded in the binary
ui:
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build

build: ui
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/skydive

## run: build and start the all-in-one analyzer+agent (UI and API on 127.0.0.1:8082)
run: build
	sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; $$sudo ./$(BIN) allinone $(if $(CONF),-c $(CONF))

## lab: a small OpenStack (controller, two computes, neutron-server, OVN, three instances) with an agent per node, as root
lab: build deps
	scripts/openstack-lab.sh up

lab-down:
	scripts/openstack-lab.sh down

lab-status:
	scripts/openstack-lab.sh status

## deps: what the tests need on a fresh Debian machine
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	$(GO) mod download

## test: everything CI runs: lint, unit, privileged (real netns) and end-to-end tests
test: deps lint unit privileged e2e ui-test

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags privileged,e2e ./...
	@if $(GO) run $(STATICCHECK) -version >/dev/null 2>&1; then \
	  $(GO) run $(STATICCHECK) ./... ; else echo "staticcheck unavailable, skipped"; fi

unit:
	$(GO) test -count=1 ./...

privileged:
	$(GO) test -count=1 -tags privileged ./internal/...

e2e: build
	SKYDIVE_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -tags e2e -timeout 20m -v ./tests/e2e/... 2>&1 | tee e2e.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test.go' ; exit $${PIPESTATUS[0]}

## ui-test: the UI in a real browser (Debian's Chromium, playwright-core)
ui-test: build
	SKIP_UI_BUILD=1 SKYDIVE_BIN=$(CURDIR)/$(BIN) tests/ui/run.sh

## bpf: recompile the ebpf capture's BPF object (clang, llvm); the object is committed
bpf:
	$(GO) generate ./internal/capture/ebpf/

## bench: the benchmarks the issues ask for
# BENCH=full: three runs of each benchmark (the report keeps the median) and a longer capture saturation run.
BENCH_COUNT := $(if $(filter full,$(BENCH)),3,1)
BENCH_CAPTURE := $(if $(filter full,$(BENCH)),3x,1x)
bench:
	@mkdir -p bench
	@# -p 1: one package's benchmarks at a time; two at once on two cores
	@# measure each other (a memory-bound one by half)
	@set -o pipefail; $(GO) test -p 1 -run '^$$' -bench . -benchmem -count $(BENCH_COUNT) -timeout 40m ./internal/... | tee bench/raw.txt
	@if [ "$$(id -u)" = 0 ]; then set -o pipefail; $(GO) test -tags privileged -run '^$$' -bench 'AFPacketSustained|CaptureAtRate' -benchtime $(BENCH_CAPTURE) ./internal/capture/ | tee -a bench/raw.txt; \
	else echo "not root: afpacket capture benchmark skipped"; fi
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory build >/dev/null && \
	  SKIP_UI_BUILD=1 SKYDIVE_BIN=$(CURDIR)/$(BIN) tests/ui/run.sh ./perf.test.mjs >/dev/null && \
	  echo "UI at 10,000 nodes (tests/ui/artifacts/perf.json):" && cat tests/ui/artifacts/perf.json; fi
	$(GO) run ./tools/benchreport -in bench/raw.txt -perf tests/ui/artifacts/perf.json -out bench
	@echo "bench/REPORT.md and bench/report.json written"; sed -n '/## Targets/,/## Every/p' bench/REPORT.md

## fuzz: a short run of every fuzz target (FUZZTIME=10m for a long one)
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./internal/...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; done

clean:
	rm -rf bin e2e.log
