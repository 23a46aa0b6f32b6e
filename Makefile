# Every target works on a fresh machine: `make deps` (.ci/deps) installs what the
# tests need from Debian and npm; the Go toolchain fetches modules.
GO        ?= go
PKGS      ?= ./...
TEST_FLAGS ?= -race -count=1 -timeout 25m

.PHONY: help all build test deps fmt-check vet lint run devstack dev metrics integration-test clean conformance bench bench-cluster gobench soak bench-bins proto proto-check chaos diagrams

# Address of a running node's /metrics and /health (the node's --metrics-addr).
METRICS_ADDR ?= 127.0.0.1:9090

# `make` with no target prints this list: the first target is the default one.
help: ## lists every target with one line each (the default target)
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

all: build ## builds every package (same as build)

build: ## go build ./...
	$(GO) build ./...

# Runs the node on the embedded store and broker (miniscylla + minikafka, in-process).
# exec makes the node make's own child: Ctrl+C reaches it alone through make,
# and its exit status (0 after a graceful shutdown) is make's.
run: ## builds bin/outbox-node and runs it on its embedded store and broker (no Docker); ARGS=... adds flags
	$(GO) build -o bin/outbox-node ./cmd/outbox-node
	exec bin/outbox-node $(ARGS)

devstack: ## runs miniscylla + minikafka as a process (the store and broker without Docker)
	$(GO) run ./cmd/devstack $(ARGS)

# dev and integration-test need a Docker engine with Compose v2.23.1+ (README, "Running against
# real ScyllaDB and Redpanda"); without one, make stops before the recipe with one line saying so.
DOCKER_HINT = without Docker use `make run` (embedded) or `make devstack`
docker_check = $(if $(shell docker info >/dev/null 2>&1 && echo ok),,$(error make $@: needs a running Docker engine with Compose v2.23.1+ (docker info failed); $(DOCKER_HINT)))$(if $(shell docker compose version >/dev/null 2>&1 && echo ok),,$(error make $@: needs Docker Compose v2.23.1+ (docker compose version failed); $(DOCKER_HINT)))

dev: ## starts the compose stack (ScyllaDB, Redpanda, Prometheus, Grafana, Jaeger), waits for health, runs the node on it with --migrate
	$(docker_check)
	docker compose up -d --wait
	$(GO) run ./cmd/outbox-node --scylla-hosts 127.0.0.1 --kafka-brokers 127.0.0.1:19092 --migrate \
		--replication datacenter1:1 --tablets on --metrics-addr 0.0.0.0:9090 $(ARGS)

integration-test: ## runs the e2e, relay, CDC and chaos suites against the compose stack (ScyllaDB 9042, Redpanda 19092), one package at a time
	$(docker_check)
	docker compose up -d --wait scylla redpanda
	OUTBOX_TEST_SCYLLA=127.0.0.1:9042 OUTBOX_TEST_KAFKA=127.0.0.1:19092 \
		$(GO) test $(TEST_FLAGS) -p 1 ./test/e2e/ ./test/relay/ ./test/cdc/ ./test/chaos/

metrics: ## prints a running node's /metrics (METRICS_ADDR=host:port, default 127.0.0.1:9090)
	@curl -fs http://$(METRICS_ADDR)/metrics || { echo "make metrics: no node answers on http://$(METRICS_ADDR)/metrics; start one with \`make run\` (or set METRICS_ADDR=host:port)" >&2; exit 1; }

# Only paths inside the repository: build outputs of `go build -o` in the root and the node's
# default data directory (./data, where the embedded store keeps its write-ahead log).
CLEAN_PATHS = bin outbox-node outboxctl devstack data

clean: ## removes build outputs (bin/ from make run, ./outbox-node, ./outboxctl, ./devstack) and the node's default ./data dir
	@echo "removing (in $(CURDIR)): $(CLEAN_PATHS)"
	rm -rf $(addprefix ./,$(CLEAN_PATHS))

# The test command from README.md: installs missing system packages, then runs every test.
test: deps ## installs the test clients if missing (.ci/deps), runs every test with -race
	$(GO) test $(TEST_FLAGS) $(PKGS)

deps: ## installs the Debian and npm packages the tests drive (.ci/deps)
	@./.ci/deps

fmt-check: ## fails when a tracked .go file needs gofmt
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet: ## go vet ./...
	$(GO) vet ./...

STATICCHECK_VERSION := 0.8.2

# staticcheck at a pinned version, installed into GOPATH/bin when missing or different.
lint: ## staticcheck at a pinned version (installed when missing)
	@v=$$(staticcheck -version 2>/dev/null); case "$$v" in *"($(STATICCHECK_VERSION))"*) ;; *) echo "installing staticcheck $(STATICCHECK_VERSION)"; $(GO) install honnef.co/go/tools/cmd/staticcheck@v$(STATICCHECK_VERSION);; esac
	staticcheck ./...

gobench: ## runs every Go benchmark (3 s each)
	$(GO) test -run '^$$' -bench . -benchtime 3s ./...

# The bench and the soak run the node, devstack and the naive relay as their own processes from bin/.
BENCH_BINS = bin/outbox-node bin/devstack bin/outbox-bench
BENCH_OUT ?= docs/bench
bench-bins: ## builds bin/outbox-node, bin/devstack and bin/outbox-bench, the processes of bench and soak
	@mkdir -p bin
	$(GO) build -o bin/outbox-node ./cmd/outbox-node
	$(GO) build -o bin/devstack ./cmd/devstack
	$(GO) build -o bin/outbox-bench ./cmd/outbox-bench

bench: bench-bins ## ceilings, then naive, CDC and polling relays at 250/1000/4000/max orders/s, one run (~5 min); table, plots in docs/bench
	bin/outbox-bench run --out $(BENCH_OUT) $(ARGS)

bench-cluster: bench-bins ## cluster mode: commands/s and latency through 1 and 3 members, relay drain with K=1 vs K=8 (~1.5 min); table
	bin/outbox-bench cluster $(ARGS)

soak: bench-bins ## steady load for SOAK_DURATION (default 10m); samples RSS, goroutines, fds, CDC lag; fails on growth
	bin/outbox-bench soak $(if $(SOAK_DURATION),--duration $(SOAK_DURATION)) $(ARGS)

# The long chaos run (test/chaos): 12 SIGKILLs of node and store, broker outages and ten SIGTERM
# stops under load; prints a summary line and a table per phase. CHAOS_FLAGS=-chaos.seed=N replays a run.
chaos: ## the long chaos run: SIGKILLs, broker outages, SIGTERMs under load (CHAOS_FLAGS=-chaos.seed=N)
	$(GO) test -race -count=1 -timeout 20m -v -run '^TestChaos$$' ./test/chaos/ \
		-chaos.node-kills=8 -chaos.store-kills=4 -chaos.outages=3 -chaos.sigterms=10 $(CHAOS_FLAGS)

# Regenerates messages/*.pb.go with buf + protoc-gen-go at pinned versions (no protoc needed).
proto: ## regenerates messages/*.pb.go (buf + protoc-gen-go, pinned)
	./messages/generate.sh

# Fails when the committed generated code differs from what `make proto` produces.
proto-check: proto ## fails when messages/*.pb.go differ from what make proto produces
	@git diff --exit-code -- messages || { echo "messages/*.pb.go are stale: run make proto and commit"; exit 1; }

# scylla-cdc-go's own integration tests (TestConsumer*, TestTypes*), unmodified, against miniscylla.
conformance: ## scylla-cdc-go's own integration tests against miniscylla
	./infra/miniscylla/cdc/conformance.sh

# mmdc and chromium come from .ci/deps.
diagrams: deps ## renders every Mermaid block of docs/diagrams.md to docs/diagrams/NN-<heading>.svg
	DIAGRAMS_UPDATE=1 $(GO) test -count=1 -run '^TestMermaidBlocksRender$$' ./test/diagrams/
