package harness

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// process is a started binary whose end is awaited aside, so that tests
// can select on it.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // of cmd.Wait, once done is closed
}

// startProcess starts cmd, failing the test when it cannot.
func startProcess(t testing.TB, name string, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p
}

// Signal sends sig to the process: a devstack's broker outage switch, or
// SIGSTOP and SIGCONT to pause a node.
func (p *process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// signal sends sig unless the process has ended, and returns its exit code
// once it has. When it runs on past timeout it is killed and the test
// fails, with log (what the process wrote) when given.
func (p *process) signal(t testing.TB, sig os.Signal, timeout time.Duration, log func() string) int {
	t.Helper()
	code, ok := p.signalWithin(sig, timeout)
	if !ok {
		out := ""
		if log != nil {
			out = "; log:\n" + log()
		}
		t.Errorf("%s did not stop within %s of %v%s", p.name, timeout, sig, out)
	}
	return code
}

// signalWithin sends sig unless the process has ended and waits up to
// timeout for it to exit. It returns the exit code and whether the process
// ended by itself in time; one still running then is killed (exit code -1).
func (p *process) signalWithin(sig os.Signal, timeout time.Duration) (int, bool) {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), true
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), true
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return p.cmd.ProcessState.ExitCode(), false
	}
}
