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
# run, build and install compile with the same flags, so that they share
# Go's build cache: make run after make build (or install) compiles nothing.
BUILDFLAGS := -trimpath -ldflags '$(LDFLAGS)'

.DEFAULT_GOAL := help
.PHONY: help run build install deps test bench fuzz lint fmt vet tidy clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-7s %s\n", $$1, $$2}'

run: build ## relay, agent and UI in one process on localhost (FORWARD_TO=url to change the app)
	$(BIN) dev --forward-to $(FORWARD_TO)

build: ## build bin/hooktap
	$(GO) build $(BUILDFLAGS) -o $(BIN) ./cmd/hooktap

install: ## install hooktap to $(go env GOBIN), else $(go env GOPATH)/bin (~/go/bin)
	$(GO) install $(BUILDFLAGS) ./cmd/hooktap
	@dir=$$($(GO) env GOBIN); gopath=$$($(GO) env GOPATH); [ -n "$$dir" ] || dir=$${gopath%%:*}/bin; \
	echo "installed $$dir/hooktap"; \
	case ":$$PATH:" in *":$$dir:"*) ;; *) echo "$$dir is not on your PATH: add it, e.g. export PATH=\"\$$PATH:$$dir\"";; esac

deps: ## install what the tests need when missing: Chromium and curl (apt-get, as root), staticcheck
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
	rm -rf bin
