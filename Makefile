# husk: `make demo` runs a container; `make test` runs every test suite.
# Both install what they need (Debian packages) on a fresh machine.

GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
export PATH := $(dir $(GO)):$(PATH)

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)
COMMIT  ?= $(shell git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

INIT_SRC := $(wildcard libruntime/initproc/c/*.c libruntime/initproc/c/*.h)
INIT_BIN := libruntime/initproc/husk-init.bin
GO_SRC   := $(shell find . -name '*.go' -not -path './_build/*') go.mod go.sum

# Debian packages the build, the demo and the tests need (command:package).
BUILD_DEPS := musl-gcc:musl-tools
TEST_DEPS  := busybox:busybox-static runc:runc newuidmap:uidmap containerd:containerd dockerd:docker.io
# The shim is a light front (what containerd runs for start and delete)
# and the daemon it starts; both go in the same directory.
SHIM_BIN   := bin/containerd-shim-husk-v2
SHIM_DAEMON := bin/containerd-shim-husk-v2-daemon
# The microVM class's runtime (io.containerd.huskvm.v2): the same front,
# under the name that selects it.
SHIM_VM    := bin/containerd-shim-huskvm-v2
# husk's D-Bus client for the systemd cgroup driver, installed beside husk.
SYSTEMD_HELPER := bin/husk-systemd
# containerd 2.x is not packaged in Debian 12: the shim tests build it
# from the Go module proxy once and keep it here.
CONTAINERD24 ?= /var/cache/husk-test/containerd-2.4.2
# The reference runtime of the parity suite (test/parity), built from the
# Go module proxy once and kept here.
RUNC153 ?= /var/cache/husk-test/runc-1.5.3
PARITY_DEPS := busybox:busybox-static taskset:util-linux ip:iproute2

.PHONY: all build demo test unit integration clients shim-test v2host systemd-test vm-test vm-assets vm-proto conformance parity parity-v2 fuzz lint bench deps clean

all: build

build: bin/husk $(SHIM_BIN) $(SHIM_DAEMON) $(SHIM_VM) $(SYSTEMD_HELPER) bin/husk-vm

# Containers in microVMs: husk-vm on the host (husk executes it for --vm),
# husk-agent as the guest's PID 1 (inside the initramfs of vm-assets).
bin/husk-vm bin/husk-agent: bin/%: $(INIT_BIN) $(GO_SRC)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/$*

bin/husk: $(INIT_BIN) $(GO_SRC)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/husk

$(SHIM_BIN) $(SHIM_DAEMON) $(SYSTEMD_HELPER): bin/%: $(INIT_BIN) $(GO_SRC)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/$*

$(SHIM_VM): $(SHIM_BIN)
	ln -sf containerd-shim-husk-v2 $@

# husk-init is a small static C program embedded in husk (see
# libruntime/initproc). musl keeps it at ~60 KB; glibc works too.
$(INIT_BIN): $(INIT_SRC)
	@scripts/ensure-deps.sh $(BUILD_DEPS) || true
	if command -v musl-gcc >/dev/null; then \
		musl-gcc -Os -static -s -Wall -Wextra -Wno-unused-parameter -o $@ libruntime/initproc/c/init.c; \
	else \
		cc -Os -static -s -Wall -Wextra -Wno-unused-parameter -o $@ libruntime/initproc/c/init.c; \
	fi

deps:
	@scripts/ensure-deps.sh $(BUILD_DEPS) $(TEST_DEPS)

# A busybox container from a bundle built here, run with husk.
demo: build deps
	$(GO) run ./internal/testbundle/mkbundle _build/demo
	bin/husk --root _build/demo/state run --bundle _build/demo demo-$$$$

test: lint unit integration clients shim-test v2host systemd-test vm-test parity fuzz conformance

unit: $(INIT_BIN)
	$(GO) test -count=1 ./cgroups/... ./libruntime/... ./nsutil/... ./specs/... ./cmd/... ./shim/... ./internal/fastjson/ ./internal/mountfd/ ./vm/... ./agent/...

integration: build deps
	$(GO) test -count=1 -timeout 20m ./test/integration/... -husk=$(CURDIR)/bin/husk

# containerd (1.6 and, for the CRI checks, 2.4 with its own runc shim),
# dockerd and podman (started by the tests) running husk.
clients: build $(CONTAINERD24)/containerd $(CONTAINERD24)/runc-shim/containerd-shim-runc-v2
	$(GO) test -count=1 -timeout 20m ./test/clients/... -husk=$(CURDIR)/bin/husk -containerd24=$(CONTAINERD24)

# containerd-shim-husk-v2 under containerd 1.6 and 2.4, dockerd, and the
# CRI plugin (with CNI's bridge); the VM class (containerd-shim-huskvm-v2)
# under both containerds and the CRI plugin.
shim-test: $(SHIM_BIN) $(SHIM_DAEMON) $(SHIM_VM) deps vm-assets $(CONTAINERD24)/containerd
	@scripts/ensure-deps.sh /usr/lib/cni/bridge:containernetworking-plugins
	HUSK_VM_ASSETS=$(VM_ASSETS) $(GO) test -count=1 -timeout 20m ./test/shim/... -shim=$(CURDIR)/$(SHIM_BIN) -containerd24=$(CONTAINERD24)

$(CONTAINERD24)/containerd:
	GOBIN=$(CONTAINERD24) GOFLAGS=-buildvcs=false $(GO) install \
		github.com/containerd/containerd/v2/cmd/containerd@v2.4.2 github.com/containerd/containerd/v2/cmd/ctr@v2.4.2

# husk and runc 1.5.3 side by side on every case of test/parity; passes
# when each difference is listed, with its reason, in
# test/parity/differences.tsv.
parity: bin/husk $(RUNC153)/runc
	@scripts/ensure-deps.sh $(PARITY_DEPS)
	$(GO) test -count=1 -timeout 20m ./test/parity/ -parallel 6 \
		-husk=$(CURDIR)/bin/husk -runc=$(RUNC153)/runc -results=$(CURDIR)/test/results/parity
	@cat $(CURDIR)/test/results/parity/summary.txt

# runc with seccomp needs cgo, pkg-config and libseccomp's headers (a
# library without a command: installed when pkg-config does not find it).
$(RUNC153)/runc:
	@scripts/ensure-deps.sh pkg-config:pkg-config gcc:gcc
	pkg-config --exists libseccomp || scripts/ensure-deps.sh no-such-command-libseccomp-dev:libseccomp-dev
	CGO_ENABLED=1 GOBIN=$(RUNC153) GOFLAGS=-buildvcs=false $(GO) install -tags seccomp github.com/opencontainers/runc@v1.5.3

# containerd 2.4's runc shim, in a directory of its own that the client
# tests put first on containerd 2.4's PATH (Debian's 1.6 shim is on PATH).
$(CONTAINERD24)/runc-shim/containerd-shim-runc-v2:
	GOBIN=$(CONTAINERD24)/runc-shim GOFLAGS=-buildvcs=false $(GO) install \
		github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@v2.4.2

fuzz: $(INIT_BIN)
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=15s ./specs/
	$(GO) test -run='^$$' -fuzz=FuzzFastDecode -fuzztime=15s ./specs/
	$(GO) test -run='^$$' -fuzz=FuzzStateCodec -fuzztime=10s ./libruntime/

# The cgroups package's tests, the integration tests and the parity
# cases that can differ between cgroup v1 and v2 (with a sample of the
# rest) on a pure cgroup v2 host: a Debian kernel under qemu (this machine
# is hybrid), one boot. The kernel is kept in /var/cache/husk-test.
v2host: bin/husk bin/husk-systemd $(RUNC153)/runc
	HUSK=$(CURDIR)/bin/husk RUNC=$(RUNC153)/runc test/v2host/run.sh

# Every parity case in the cgroup v2 VM (about 20 minutes under TCG).
parity-v2: bin/husk $(RUNC153)/runc
	HUSK=$(CURDIR)/bin/husk RUNC=$(RUNC153)/runc V2HOST_SUITES=parity V2HOST_PARITY=all V2HOST_TIMEOUT=5400 test/v2host/run.sh

# The systemd cgroup driver under a real systemd: a Debian guest (systemd,
# dbus, containerd, runc 1.5.3) booted under qemu, cgroup v2 and then v1.
# The image is built once and kept in /var/cache/husk-test/systemd.
systemd-test: build
	HUSK_BIN=$(CURDIR)/bin test/systemd/run.sh

# The guest kernel and initramfs of the microVMs, kept in VM_ASSETS (the
# kernel package is downloaded once). husk finds them there, or through
# HUSK_VM_ASSETS.
VM_ASSETS ?= /var/cache/husk/vm
vm-assets: $(VM_ASSETS)/manifest.json

$(VM_ASSETS)/manifest.json: bin/husk-agent bin/husk-vm scripts/vm-assets.sh
	VM_ASSETS=$(VM_ASSETS) scripts/vm-assets.sh bin/husk-agent bin/husk-vm $(VERSION)

# Containers in microVMs (qemu; TCG where there is no KVM), as root.
vm-test: build vm-assets deps
	HUSK_VM_ASSETS=$(VM_ASSETS) $(GO) test -count=1 -timeout 15m ./test/vm/... -husk=$(CURDIR)/bin/husk

# The agent's protocol, and the shim's copy of containerd's sandbox API
# messages: protoc (Debian's protobuf-compiler) with protoc-gen-go and
# protoc-gen-go-ttrpc from the Go module proxy.
PROTOC_GEN := $(CURDIR)/_build/protoc-gen
vm-proto:
	@scripts/ensure-deps.sh protoc:protobuf-compiler
	GOBIN=$(PROTOC_GEN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.11
	GOBIN=$(PROTOC_GEN) $(GO) install github.com/containerd/ttrpc/cmd/protoc-gen-go-ttrpc@v1.2.9
	cd vm/api && PATH=$(PROTOC_GEN):$$PATH protoc --go_out=. --go_opt=paths=source_relative \
		--go-ttrpc_out=. --go-ttrpc_opt=paths=source_relative agent.proto
	cd shim/sandboxapi && PATH=$(PROTOC_GEN):$$PATH protoc --go_out=. --go_opt=paths=source_relative sandbox.proto

conformance: build deps $(RUNC153)/runc
	HUSK=$(CURDIR)/bin/husk RUNC=$(RUNC153)/runc test/conformance/run.sh

lint: $(INIT_BIN)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Side by side with runc and crun; results in test/results/bench.
bench: build vm-assets $(CONTAINERD24)/containerd $(CONTAINERD24)/runc-shim/containerd-shim-runc-v2
	HUSK=$(CURDIR)/bin/husk HUSK_VM_ASSETS=$(VM_ASSETS) CONTAINERD24=$(CONTAINERD24) test/bench/run.sh

clean:
	rm -rf bin _build $(INIT_BIN)
