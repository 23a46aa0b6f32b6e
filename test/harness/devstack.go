package harness

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Devstack is a running cmd/devstack process.
type Devstack struct {
	// CQL and Kafka are the addresses of its ready line; "" for a service
	// it does not run.
	CQL, Kafka string
	// CQLFault is the address of the CQL server's write-fault switch
	// (devstack --embedded-cql-fault-addr); "" when it serves none.
	CQLFault string
	// Log is everything it wrote to stderr so far.
	Log func() string
	// Stdout is everything it wrote to stdout so far (the ready line and
	// the outage switch's acknowledgements).
	Stdout func() string
	*process
}

// RunDevstack runs cmd/devstack with args and waits for its ready line; it
// fails the test when the process exits first or is not ready within two
// minutes (a long write-ahead log replays first). At cleanup it is stopped
// with SIGTERM unless it has already ended. A devstack is the embedded
// twin: with external services set the test fails (StartingEmbedded).
func RunDevstack(t testing.TB, bins Binaries, args ...string) *Devstack {
	t.Helper()
	StartingEmbedded(t, "a devstack")
	LogSubstrate(t)
	cmd := exec.Command(bins.Devstack, args...)
	stderr, stdout := &SyncBuffer{}, &SyncBuffer{}
	cmd.Stderr, cmd.Stdout = stderr, stdout
	d := &Devstack{Log: stderr.String, Stdout: stdout.String}
	d.process = startProcess(t, "devstack", cmd)
	t.Cleanup(func() { d.signal(t, syscall.SIGTERM, 30*time.Second, d.Log) })
	var line string
	err := Within(2*time.Minute, func() error {
		select {
		case <-d.done:
			t.Fatalf("devstack exited before it was ready (%v):\n%s", d.err, d.Log())
		default:
		}
		for _, l := range strings.Split(stdout.String(), "\n") {
			if strings.HasPrefix(l, "devstack ready ") {
				line = l
				return nil
			}
		}
		return errors.New("no ready line")
	})
	if err != nil {
		t.Fatalf("devstack: %v; log:\n%s", err, d.Log())
	}
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "cql="); ok {
			d.CQL = v
		}
		if v, ok := strings.CutPrefix(f, "kafka="); ok {
			d.Kafka = v
		}
		if v, ok := strings.CutPrefix(f, "cql-fault="); ok {
			d.CQLFault = v
		}
	}
	return d
}

// Kill ends the process with SIGKILL, as a crash would (nothing is
// flushed or closed), and waits for it.
func (d *Devstack) Kill(t testing.TB) {
	t.Helper()
	select {
	case <-d.done:
		return
	default:
	}
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill devstack: %v", err)
	}
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		t.Fatal("devstack did not die within 30s of SIGKILL")
	}
}

// FailWrites makes the CQL server fail every write to keyspace.table at the
// server until HealWrites; the devstack must run with --embedded-cql-fault-addr.
func (d *Devstack) FailWrites(t testing.TB, keyspace, table string) {
	t.Helper()
	d.fault(t, http.MethodPost, "/fail-writes?table="+url.QueryEscape(keyspace+"."+table))
}

// HealWrites ends FailWrites.
func (d *Devstack) HealWrites(t testing.TB) {
	t.Helper()
	d.fault(t, http.MethodPost, "/heal-writes")
}

// FailedWrites is the number of write requests FailWrites refused.
func (d *Devstack) FailedWrites(t testing.TB) int {
	t.Helper()
	body := d.fault(t, http.MethodGet, "/failed-writes")
	n, err := strconv.Atoi(strings.TrimSpace(body))
	if err != nil {
		t.Fatalf("devstack failed-writes %q: %v", body, err)
	}
	return n
}

// fault calls the write-fault switch and returns its response body.
func (d *Devstack) fault(t testing.TB, method, path string) string {
	t.Helper()
	if d.CQLFault == "" {
		t.Fatal("devstack runs no write-fault switch: start it with --embedded-cql-fault-addr")
	}
	req, err := http.NewRequest(method, "http://"+d.CQLFault+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("devstack fault switch %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("devstack fault switch %s %s: %s %s %v", method, path, resp.Status, b, err)
	}
	return string(b)
}

// SetKafkaOutage switches the broker's outage, SIGUSR1 down or SIGUSR2 up
// (the port refuses connections while down), and waits up to 30 s until
// devstack has acknowledged the switch on stdout.
func (d *Devstack) SetKafkaOutage(down bool) error {
	sig, line := syscall.SIGUSR2, "devstack kafka up\n"
	if down {
		sig, line = syscall.SIGUSR1, "devstack kafka down\n"
	}
	before := strings.Count(d.Stdout(), line)
	if err := d.Signal(sig); err != nil {
		return fmt.Errorf("signal devstack: %w", err)
	}
	return Within(30*time.Second, func() error {
		if strings.Count(d.Stdout(), line) == before {
			return fmt.Errorf("devstack has not printed %q", strings.TrimSpace(line))
		}
		return nil
	})
}
