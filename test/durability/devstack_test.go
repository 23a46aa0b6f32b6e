package durability_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"

	"github.com/outboxnode/outbox/test/harness"
)

var (
	buildOnce sync.Once
	devstack  string
	buildErr  error
)

// buildDevstack compiles cmd/devstack into a temporary directory, once per
// test process.
func buildDevstack(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "durability-bin-")
		if err != nil {
			buildErr = err
			return
		}
		devstack = filepath.Join(dir, "devstack")
		_, file, _, _ := runtime.Caller(0)
		cmd := exec.Command("go", "build", "-o", devstack, "./cmd/devstack")
		cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/devstack: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return devstack
}

// server is one devstack process serving CQL with a data directory.
type server struct {
	cmd    *exec.Cmd
	cql    string
	stderr *harness.SyncBuffer
	done   chan struct{}
}

// startDevstack runs devstack (CQL only) on a free port over dataDir, with
// extra flags, and waits for its ready line. The process is killed at
// cleanup if still alive.
func startDevstack(t testing.TB, dataDir string, extra ...string) *server {
	t.Helper()
	s := &server{stderr: &harness.SyncBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(buildDevstack(t), append([]string{"--cql-addr", "127.0.0.1:0", "--kafka-addr", "", "--data-dir", dataDir}, extra...)...)
	s.cmd.Stderr = s.stderr
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start devstack: %v", err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() { s.kill(t) })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "devstack ready ") {
				ready <- line
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-ready:
		for _, f := range strings.Fields(line) {
			if addr, ok := strings.CutPrefix(f, "cql="); ok {
				s.cql = addr
			}
		}
	case <-s.done:
		t.Fatalf("devstack exited before it was ready:\n%s", s.stderr.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("devstack not ready within 2 minutes:\n%s", s.stderr.String())
	}
	if s.cql == "" {
		t.Fatal("ready line without a cql address")
	}
	return s
}

// kill sends SIGKILL, as a crash would, and waits for the process to exit.
func (s *server) kill(t testing.TB) {
	t.Helper()
	select {
	case <-s.done:
		return
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill devstack: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatal("devstack did not die")
	}
}

// cluster returns a gocql cluster config for the server.
func (s *server) cluster(t testing.TB) *gocql.ClusterConfig {
	t.Helper()
	host, portStr, err := net.SplitHostPort(s.cql)
	if err != nil {
		t.Fatal(err)
	}
	c := gocql.NewCluster(host)
	c.Port, _ = strconv.Atoi(portStr)
	c.Timeout = 20 * time.Second
	c.ConnectTimeout = 10 * time.Second
	c.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.RoundRobinHostPolicy())
	// A write must fail rather than be retried silently on another
	// connection: the tests count what was acknowledged.
	c.RetryPolicy = &gocql.SimpleRetryPolicy{NumRetries: 0}
	return c
}

// session connects gocqlx to the server; it is closed at cleanup.
func (s *server) session(t testing.TB) gocqlx.Session {
	t.Helper()
	sess, err := gocqlx.WrapSession(s.cluster(t).CreateSession())
	if err != nil {
		t.Fatalf("connect to %s: %v", s.cql, err)
	}
	t.Cleanup(sess.Close)
	return sess
}

func mustExec(t testing.TB, s gocqlx.Session, stmt string) {
	t.Helper()
	if err := s.ExecStmt(stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// waitFor polls cond every 20 ms until it returns nil or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not met within %s: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
