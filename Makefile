# Every target works on a fresh machine: `make deps` (.ci/deps) installs what the
# tests need from Debian and npm; the Go toolchain fetches modules.
GO        ?= go
PKGS      ?= ./...
TEST_FLAGS ?= -race -count=1 -timeout 25m

.PHONY: all build test deps fmt-check vet lint run conformance bench proto proto-check chaos

all: build

build:
	$(GO) build ./...

# Runs the node on the embedded store and broker (miniscylla + minikafka, in-process).
run:
	$(GO) run ./cmd/outbox-node $(ARGS)

# The test command from README.md: installs missing system packages, then runs every test.
test: deps
	$(GO) test $(TEST_FLAGS) $(PKGS)

deps:
	@./.ci/deps

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

STATICCHECK_VERSION := 0.8.2

# staticcheck at a pinned version, installed into GOPATH/bin when missing or different.
lint:
	@v=$$(staticcheck -version 2>/dev/null); case "$$v" in *"($(STATICCHECK_VERSION))"*) ;; *) echo "installing staticcheck $(STATICCHECK_VERSION)"; $(GO) install honnef.co/go/tools/cmd/staticcheck@v$(STATICCHECK_VERSION);; esac
	staticcheck ./...

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3s ./...

# The long chaos run (test/chaos): 12 SIGKILLs of node and store, broker outages and ten SIGTERM
# stops under load; prints a summary line and a table per phase. CHAOS_FLAGS=-chaos.seed=N replays a run.
chaos:
	$(GO) test -race -count=1 -timeout 20m -v -run '^TestChaos$$' ./test/chaos/ \
		-chaos.node-kills=8 -chaos.store-kills=4 -chaos.outages=3 -chaos.sigterms=10 $(CHAOS_FLAGS)

# Regenerates messages/*.pb.go with buf + protoc-gen-go at pinned versions (no protoc needed).
proto:
	./messages/generate.sh

# Fails when the committed generated code differs from what `make proto` produces.
proto-check: proto
	@git diff --exit-code -- messages || { echo "messages/*.pb.go are stale: run make proto and commit"; exit 1; }

# scylla-cdc-go's own integration tests (TestConsumer*, TestTypes*), unmodified, against miniscylla.
conformance:
	./infra/miniscylla/cdc/conformance.sh

# Renders every Mermaid block of docs/diagrams.md to docs/diagrams/NN-<heading>.svg (mmdc + chromium, from .ci/deps).
.PHONY: diagrams
diagrams: deps
	DIAGRAMS_UPDATE=1 $(GO) test -count=1 -run '^TestMermaidBlocksRender$$' ./test/diagrams/
