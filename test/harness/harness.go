// Package harness runs the real binaries for end-to-end tests: it builds
// cmd/outbox-node, cmd/outboxctl and cmd/devstack once per test process,
// starts nodes on free loopback ports with their own data directory, drives
// them through outboxctl subprocesses (or sends commands over Proto.Actor
// remote, Command), runs devstack processes, reads their rows with gocqlx
// and their Kafka records with sarama (Collect). Tests talk to the node
// only the way users do: CLI, remote, HTTP and the drivers. The store and
// broker are the embedded twin, or the external services that
// OUTBOX_TEST_SCYLLA and OUTBOX_TEST_KAFKA name (substrate.go).
package harness

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outboxnode/outbox/internal/poll"
)

// Binaries are the built executables.
type Binaries struct {
	Node, Ctl, Devstack string
}

var (
	buildOnce sync.Once
	built     Binaries
	buildErr  error
)

// Build compiles the binaries into a temporary directory, once per process.
func Build(t testing.TB) Binaries {
	t.Helper()
	buildOnce.Do(func() {
		var dir string
		dir, buildErr = os.MkdirTemp("", "outbox-e2e-bin-")
		if buildErr != nil {
			return
		}
		built = Binaries{
			Node:     filepath.Join(dir, "outbox-node"),
			Ctl:      filepath.Join(dir, "outboxctl"),
			Devstack: filepath.Join(dir, "devstack"),
		}
		root := moduleRoot()
		for out, pkg := range map[string]string{built.Node: "./cmd/outbox-node", built.Ctl: "./cmd/outboxctl", built.Devstack: "./cmd/devstack"} {
			cmd := exec.Command("go", "build", "-o", out, pkg)
			cmd.Dir = root
			if b, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatalf("build binaries: %v", buildErr)
	}
	return built
}

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// FreeAddr returns a loopback address whose port was free a moment ago.
// It picks below the kernel's ephemeral range: a port the kernel handed out
// for :0 is soon reused as the source port of some outgoing connection,
// and the process the test starts then fails to bind it.
func FreeAddr(t testing.TB) string {
	t.Helper()
	low := ephemeralLow()
	for range 100 {
		port := freePortFloor + rand.IntN(low-freePortFloor)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			addr := ln.Addr().String()
			ln.Close()
			return addr
		}
	}
	t.Fatalf("no free port between %d and %d after 100 tries", freePortFloor, low)
	return ""
}

// freePortFloor keeps FreeAddr clear of the well-known service ports.
const freePortFloor = 20000

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's
// default where /proc does not say).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if f := strings.Fields(string(b)); err == nil && len(f) == 2 {
		if low, err := strconv.Atoi(f[0]); err == nil && low > freePortFloor+1000 {
			return low
		}
	}
	return 32768
}

// Eventually polls cond until it returns nil or timeout passes, then fails
// the test with cond's last error (poll.Eventually).
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	poll.Eventually(t, timeout, cond)
}

// Within polls cond until it returns nil or timeout passes, then returns
// cond's last error, for callers that count a missed condition instead of
// failing at once (poll.Until).
func Within(timeout time.Duration, cond func() error) error {
	return poll.Until(context.Background(), timeout, cond)
}

// SyncBuffer is a bytes.Buffer safe for a process writing while a test reads.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Result is one finished outboxctl run.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Ctl runs outboxctl against node with args and returns its output and
// exit code; it fails the test only when the binary cannot run. The reply
// timeout is 30 s, generous for a loaded CI machine; a --timeout in args
// wins (the last flag counts).
func Ctl(t testing.TB, bins Binaries, node string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.Ctl, append([]string{"--remote-addr", node, "--timeout", "30s"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run outboxctl %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return Result{Stdout: strings.TrimSpace(stdout.String()), Stderr: strings.TrimSpace(stderr.String()), Code: code}
}

// Follower is an outboxctl process that keeps running (events --follow).
type Follower struct {
	*process
	stdout *SyncBuffer
}

// Follow starts outboxctl with args in the background; it is interrupted
// at cleanup if still running.
func Follow(t testing.TB, bins Binaries, node string, args ...string) *Follower {
	t.Helper()
	f := &Follower{stdout: &SyncBuffer{}}
	cmd := exec.Command(bins.Ctl, append([]string{"--remote-addr", node}, args...)...)
	cmd.Stdout = f.stdout
	cmd.Stderr = f.stdout
	f.process = startProcess(t, "outboxctl", cmd)
	t.Cleanup(func() { f.Interrupt(t) })
	return f
}

// Output is what the process printed so far.
func (f *Follower) Output() string { return f.stdout.String() }

// Interrupt sends SIGINT and returns the exit code.
func (f *Follower) Interrupt(t testing.TB) int {
	t.Helper()
	return f.signal(t, os.Interrupt, 15*time.Second, nil)
}
