# Rubrica: `make run` serves the demo workspace, `make test` runs every test.
# Both need Go and the PostgreSQL programs (initdb, pg_ctl); with DATABASE_URL /
# TEST_DATABASE_URL unset they run a private cluster under ./.data.

GO       ?= go
BIN      := bin/rubrica
# VERSION is what `rubrica version` prints: the git tag (v1.2.0, or v1.2.0-3-gabc1234-dirty
# past it), else the commit.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null)
LDFLAGS  := $(if $(VERSION),-X main.version=$(VERSION))
GENERATED := graph/generated/generated.go graph/generated/lists.go graph/model/models_gen.go

.PHONY: run build image test check fmt vet generate check-generated bench fuzz db-stop clean

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/rubrica

## image: the container image (Dockerfile) tagged rubrica, with CONTAINER (docker, podman).
CONTAINER ?= docker
image:
	$(CONTAINER) build --build-arg VERSION=$(VERSION) -t rubrica .

## run: serve on :8080 (PORT) with the demo workspace, printing its tokens.
run: build
	./$(BIN) serve --demo

## test: static checks, then every test against a real PostgreSQL.
test: check
	$(GO) test -count=1 -timeout 20m ./...

check: fmt vet check-generated

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.data/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

generate:
	$(GO) generate ./...

## check-generated: fails when gqlgen's output is not what the schema generates.
check-generated:
	@before=$$(cat $(GENERATED) graph/*.resolvers.go | sha256sum); \
	$(GO) generate ./... || exit 1; \
	after=$$(cat $(GENERATED) graph/*.resolvers.go | sha256sum); \
	if [ "$$before" != "$$after" ]; then \
		echo "generated code was stale: run 'go generate ./...' and commit the result"; exit 1; fi

## bench: the benchmarks (dataloader wait, event delivery on the bus and over 1,000 and 10,000
## websockets, the read path on 100,000 contacts, writes beside the comparable SQL transaction).
## BENCH picks them by name (a go test -bench pattern), PKG the packages, BENCHTIME how long
## each runs (go test's default when empty), e.g.
##   make bench BENCH=ReadPath PKG=./internal/readpath/ BENCHTIME=5s
##   make bench BENCH=Writes PKG=./graph/
##   make bench BENCH=Delivery PKG=./server/
BENCH     ?= .
PKG       ?= ./...
BENCHTIME ?=
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' $(if $(BENCHTIME),-benchtime $(BENCHTIME)) -benchmem -timeout 30m $(PKG)

## fuzz: every Go fuzz target (func FuzzX) of every package, FUZZTIME each (default 60s), one
## at a time. New failing inputs land in the package's testdata/fuzz/FuzzX/: commit them.
## Minimising a new input is bounded too (Go's default is 60s): a large input being minimised
## when FUZZTIME ends would fail the run with "context deadline exceeded".
FUZZTIME ?= 60s
FUZZMINIMIZETIME ?= 5s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg; \
		done; \
	done

## db-stop: stop the private PostgreSQL cluster under ./.data.
db-stop:
	$(GO) run ./cmd/rubrica devdb stop

clean: db-stop
	rm -rf bin .data
