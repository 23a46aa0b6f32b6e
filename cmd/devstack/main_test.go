package main

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/outboxnode/outbox/infra/miniscylla/miniscyllatest"
)

const testTimeout = 30 * time.Second

var binPath struct {
	once sync.Once
	path string
	err  error
}

// buildDevstack builds the binary once per test run.
func buildDevstack(t *testing.T) string {
	t.Helper()
	binPath.once.Do(func() {
		dir, err := os.MkdirTemp("", "devstack-test")
		if err != nil {
			binPath.err = err
			return
		}
		binPath.path = filepath.Join(dir, "devstack")
		out, err := exec.Command("go", "build", "-o", binPath.path, ".").CombinedOutput()
		if err != nil {
			binPath.err = errors.New(string(out))
		}
	})
	if binPath.err != nil {
		t.Fatalf("go build: %v", binPath.err)
	}
	return binPath.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath.path != "" {
		os.RemoveAll(filepath.Dir(binPath.path))
	}
	os.Exit(code)
}

// proc is a running devstack with its stdout lines and stderr captured.
type proc struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr bytes.Buffer
	done   chan error
}

func startDevstack(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(buildDevstack(t), args...), lines: make(chan string, 16), done: make(chan error, 1)}
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() { p.cmd.Process.Kill() }) // no-op once it exited
	return p
}

// wait returns everything else the process printed on stdout and its exit error.
func (p *proc) wait(t *testing.T) ([]string, error) {
	t.Helper()
	var rest []string
	timeout := time.After(testTimeout)
	for {
		select {
		case l, ok := <-p.lines:
			if ok {
				rest = append(rest, l)
				continue
			}
			return rest, <-p.done
		case <-timeout:
			t.Fatalf("devstack did not exit; stderr:\n%s", p.stderr.String())
		}
	}
}

var readyRe = regexp.MustCompile(`^devstack ready cql=(127\.0\.0\.1:\d+) kafka=(127\.0\.0\.1:\d+)$`)

// TestLogLines checks that devstack's log lines read like the node's:
// levels in lower case, each server's lines tagged component=<name>.
func TestLogLines(t *testing.T) {
	p := startDevstack(t, "--embedded-cql-addr", "127.0.0.1:0", "--embedded-kafka-addr", "127.0.0.1:0")
	if l := nextLine(t, p); readyRe.FindStringSubmatch(l) == nil {
		t.Fatalf("ready line %q", l)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, err := p.wait(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	log := p.stderr.String()
	for _, want := range []string{`level=info msg="miniscylla listening" component=miniscylla`, `level=info msg="kafka broker started" component=minikafka`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "level=INFO") || strings.Contains(log, "service=") {
		t.Errorf("log has an upper-case level or a service= key:\n%s", log)
	}
}

func TestReadyAndStopOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			p := startDevstack(t, "--embedded-cql-addr", "127.0.0.1:0", "--embedded-kafka-addr", "127.0.0.1:0")
			var line string
			select {
			case line = <-p.lines:
			case <-time.After(testTimeout):
				t.Fatal("no ready line")
			}
			m := readyRe.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("ready line %q does not match %v", line, readyRe)
			}
			checkCQL(t, m[1])
			nc, err := net.DialTimeout("tcp", m[2], testTimeout)
			if err != nil {
				t.Fatalf("kafka port not accepting: %v", err)
			}
			nc.Close()

			if err := p.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			rest, err := p.wait(t)
			if err != nil {
				t.Fatalf("exit after %v: %v; stderr:\n%s", sig, err, p.stderr.String())
			}
			if len(rest) > 0 {
				t.Errorf("stdout has more than the ready line: %q", rest)
			}
		})
	}
}

func TestOutageSignals(t *testing.T) {
	p := startDevstack(t, "--embedded-cql-addr", "127.0.0.1:0", "--embedded-kafka-addr", "127.0.0.1:0")
	m := readyRe.FindStringSubmatch(nextLine(t, p))
	if m == nil {
		t.Fatal("no ready line")
	}
	for _, step := range []struct {
		sig    syscall.Signal
		line   string
		refuse bool
	}{
		{syscall.SIGUSR1, "devstack kafka down", true},
		{syscall.SIGUSR1, "devstack kafka down", true}, // already down: stays down
		{syscall.SIGUSR2, "devstack kafka up", false},
	} {
		if err := p.cmd.Process.Signal(step.sig); err != nil {
			t.Fatal(err)
		}
		if got := nextLine(t, p); got != step.line {
			t.Fatalf("after %v stdout says %q, want %q", step.sig, got, step.line)
		}
		nc, err := net.DialTimeout("tcp", m[2], testTimeout)
		if err == nil {
			nc.Close()
		}
		if refused := errors.Is(err, syscall.ECONNREFUSED); refused != step.refuse {
			t.Fatalf("after %v: dial kafka: %v, want refused %v", step.sig, err, step.refuse)
		}
	}
	checkCQL(t, m[1])
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, err := p.wait(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", err, p.stderr.String())
	}
}

// nextLine returns the next line devstack prints on stdout.
func nextLine(t *testing.T, p *proc) string {
	t.Helper()
	select {
	case l := <-p.lines:
		return l
	case <-time.After(testTimeout):
		t.Fatalf("no line on stdout within %s; stderr:\n%s", testTimeout, p.stderr.String())
	}
	return ""
}

// checkCQL connects gocql to addr and reads system.local.
func checkCQL(t *testing.T, addr string) {
	t.Helper()
	sess := miniscyllatest.Connect(t, addr, func(c *gocql.ClusterConfig) {
		c.ConnectTimeout, c.Timeout = testTimeout, testTimeout
	})
	var version string
	if err := sess.Query("SELECT release_version FROM system.local WHERE key = 'local'").Scan(&version); err != nil || version == "" {
		t.Fatalf("system.local release_version %q, %v", version, err)
	}
}

func TestStartupErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	const password = "devstack-secret"
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kafkaOnly := []string{"--embedded-cql-addr", "127.0.0.1:0", "--embedded-kafka-addr", "127.0.0.1:0"}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"data dir is a file", []string{"--embedded-cql-addr", "127.0.0.1:0", "--embedded-kafka-addr", "", "--data-dir", notADir}, exitFailed, "not a directory"},
		{"busy cql port", []string{"--embedded-cql-addr", busy.Addr().String(), "--embedded-kafka-addr", ""}, exitUsage, "address already in use (change --embedded-cql-addr)"},
		{"busy kafka port", []string{"--embedded-cql-addr", "127.0.0.1:0", "--embedded-kafka-addr", busy.Addr().String()}, exitUsage, "address already in use (change --embedded-kafka-addr)"},
		{"unknown flag", []string{"--no-such-flag"}, exitUsage, "flag provided but not defined: -no-such-flag"},
		{"bad log level", []string{"--log-level", "loud"}, exitUsage, `--log-level: log level "loud": want debug, info, warn or error`},
		{"upper-case log level", []string{"--log-level", "INFO"}, exitUsage, "want debug, info, warn or error"},
		{"bad address", []string{"--embedded-cql-addr", "nonsense"}, exitUsage, "--embedded-cql-addr: address nonsense"},
		{"bad WAL recovery", []string{"--embedded-wal-recovery", "maybe"}, exitUsage, "--embedded-wal-recovery"},
		{"stray argument", []string{"--embedded-cql-addr", "127.0.0.1:0", "extra"}, exitUsage, `takes no arguments, got ["extra"]`},
		{"missing kafka password file", append(kafkaOnly, "--kafka-sasl-mechanism", "PLAIN", "--kafka-sasl-username", "u", "--kafka-sasl-password-file", filepath.Join(t.TempDir(), "none")), exitUsage, "--kafka-sasl-password-file"},
		{"unknown kafka SASL mechanism", append(kafkaOnly, "--kafka-sasl-mechanism", "GSSAPI", "--kafka-sasl-username", "u", "--kafka-sasl-password-file", pwFile), exitFailed, "SASL user"},
		{"kafka TLS key missing", append(kafkaOnly, "--embedded-kafka-tls-cert", notADir), exitUsage, "--embedded-kafka-tls-cert"},
		{"fault switch off loopback", []string{"--embedded-cql-addr", "127.0.0.1:0", "--embedded-kafka-addr", "", "--embedded-cql-fault-addr", "0.0.0.0:0"}, exitFailed, "not a loopback address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startDevstack(t, tt.args...)
			stdout, err := p.wait(t)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != tt.code {
				t.Fatalf("exit = %v, want exit status %d; stderr:\n%s", err, tt.code, p.stderr.String())
			}
			if len(stdout) > 0 {
				t.Errorf("printed %q on stdout", stdout)
			}
			if !strings.Contains(p.stderr.String(), tt.stderr) {
				t.Errorf("stderr %q does not mention %q", p.stderr.String(), tt.stderr)
			}
			if strings.Contains(p.stderr.String(), password) {
				t.Errorf("stderr reveals the SASL password: %q", p.stderr.String())
			}
		})
	}
}
