# hooktap: see README.md. `make help` lists the targets.
GO         ?= go
FORWARD_TO ?= http://localhost:3000/webhooks
BIN        ?= bin/hooktap
FUZZTIME   ?= 10s
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# staticcheck, pinned (2026.2.2): make lint installs it under bin/ with
# go install when it is missing.
STATICCHECK_VERSION := v0.8.2
STATICCHECK         := bin/tools/staticcheck-$(STATICCHECK_VERSION)/staticcheck
LDFLAGS    := -s -w -X main.version=$(VERSION)
# run, build, install, dist and the container image compile with the same
# flags, so that they share Go's build cache (make run after make build
# compiles nothing), and every binary is static: CGO_ENABLED=0, the SQLite is
# pure Go.
BUILDFLAGS := -trimpath -ldflags '$(LDFLAGS)'
GOBUILD    := CGO_ENABLED=0 $(GO) build $(BUILDFLAGS)
# make dist: release binaries for these platforms, with SHA256SUMS.
DIST_PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
DIST_FILES     := $(foreach p,$(DIST_PLATFORMS),dist/hooktap_$(subst /,_,$(p))$(if $(findstring windows,$(p)),.exe))
SHA256SUM      := $(shell command -v sha256sum >/dev/null 2>&1 && echo sha256sum || echo shasum -a 256)

.DEFAULT_GOAL := help
.PHONY: help run build install dist deps test bench fuzz lint fmt vet tidy clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-7s %s\n", $$1, $$2}'

# FORWARD_TO, ADDR and WEB go to sh quoted, so that a query's & or a quote
# stays in the URL; ADDR and WEB only when set (else dev's defaults).
run: build ## relay, agent and UI in one process on localhost (FORWARD_TO=url to change the app; ADDR=host:port for the relay, WEB=host:port for the web inspector; SECRET= or HOOKTAP_SECRET to sign resends)
	HOOKTAP_SECRET="$${SECRET:-$$HOOKTAP_SECRET}" $(BIN) dev --forward-to '$(subst ','\'',$(FORWARD_TO))'$(if $(ADDR), --addr '$(subst ','\'',$(ADDR))')$(if $(WEB), --web '$(subst ','\'',$(WEB))')

build: ## build bin/hooktap (static; the Dockerfile builds with this target)
	$(GOBUILD) -o $(BIN) ./cmd/hooktap

install: ## install hooktap to $(go env GOBIN), else $(go env GOPATH)/bin (~/go/bin)
	CGO_ENABLED=0 $(GO) install $(BUILDFLAGS) ./cmd/hooktap
	@dir=$$($(GO) env GOBIN); gopath=$$($(GO) env GOPATH); [ -n "$$dir" ] || dir=$${gopath%%:*}/bin; \
	echo "installed $$dir/hooktap"; \
	case ":$$PATH:" in *":$$dir:"*) ;; *) echo "$$dir is not on your PATH: add it, e.g. export PATH=\"\$$PATH:$$dir\"";; esac

dist: ## cross-compile release binaries into dist/ (linux, darwin, windows x amd64, arm64) with SHA256SUMS
	rm -rf dist
	@$(MAKE) --no-print-directory $(DIST_FILES)
	cd dist && $(SHA256SUM) hooktap_* > SHA256SUMS

dist/hooktap_%:
	GOOS=$(word 1,$(subst _, ,$(basename $*))) GOARCH=$(word 2,$(subst _, ,$(basename $*))) $(GOBUILD) -o $@ ./cmd/hooktap

deps: ## install what the tests need when missing: Chromium, curl and tmux (apt-get, as root), staticcheck
	@sh .ci/testdeps
	@$(MAKE) --no-print-directory $(STATICCHECK)

test: deps ## run every test with the race detector (installs what they need first)
	$(GO) test -race -count=1 -timeout 20m ./...

bench: ## run the benchmarks and print the performance table
	$(GO) run ./cmd/hooktap-bench

fuzz: ## run each fuzz target for FUZZTIME
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

lint: vet $(STATICCHECK) ## gofmt, go vet and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(STATICCHECK) ./...

$(STATICCHECK):
	GOBIN=$(CURDIR)/$(dir $(STATICCHECK)) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

vet: ## go vet
	$(GO) vet ./...

tidy: ## tidy go.mod and go.sum
	$(GO) mod tidy

clean: ## remove build output
	rm -rf bin dist
