package docs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/outboxnode/outbox/test/harness"
)

// The markers of docs/tutorial.md say how TestTutorialRuns treats the fence that follows them
// or, for signal, the key the prose asks the reader to press:
//
//	<!-- tutorial:run -->                   run each `$ command` once; its output must be the lines under it
//	<!-- tutorial:wait -->                  as run, but run the block again until the outputs match:
//	                                        the reader waits for a state, e.g. the breaker to open
//	<!-- tutorial:start NAME -->            start the fence's one command in the background as NAME (one
//	                                        of the tutorial's terminals); its output must show the lines
//	                                        under it, in order, other lines between them
//	<!-- tutorial:signal NAME SIG [CODE] --> send SIG (Ctrl+C is SIGINT) to NAME, which must exit (with CODE)
//	<!-- tutorial:log NAME -->              NAME's output must show the fence's lines, in order, each as the
//	                                        end of a line (the doc leaves out the time= prefix)
//	<!-- tutorial:show -->                  not run: setup the test does itself
//
// In an expected line `…` matches any text, and a line that is only `…` any number of lines.
// Ids, timestamps, clock times and durations differ from run to run and are compared as such.
var (
	marker     = regexp.MustCompile(`^<!-- tutorial:(run|wait|start|signal|log|show)((?: [A-Za-z0-9-]+)*) -->$`)
	shellFence = regexp.MustCompile("^```(console|sh|shell|bash)$")
	assignment = regexp.MustCompile(`(?m)(?:^|[;&|]\s*)([A-Z][A-Z0-9_]*)=`)
	loopback   = regexp.MustCompile(`127\.0\.0\.1:(\d+)`)
	uuidPat    = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	stampPat   = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
	clockPat   = regexp.MustCompile(`\b\d\d:\d\d:\d\d\b`)
	durPat     = regexp.MustCompile(`\b(\d+(\.\d+)?(h|ms|µs|ns|m|s))+\b`)
)

// addrVars name, for each default address of the binaries, the variable that moves it: the
// tutorial's commands use the defaults, and the test gives each a free port so that it runs
// beside other tests. A flag on the command line wins over its variable, so the addresses the
// commands name are rewritten to the same free ports.
var addrVars = map[string]string{
	"127.0.0.1:9042": "OUTBOX_EMBEDDED_CQL_ADDR",
	"127.0.0.1:9092": "OUTBOX_EMBEDDED_KAFKA_ADDR",
	"127.0.0.1:8090": "OUTBOX_REMOTE_ADDR",
	"127.0.0.1:9090": "OUTBOX_METRICS_ADDR",
}

// externalTools are the programs the tutorial runs besides the built binaries and the shell's
// own; .ci/deps installs them. The test fails, not skips, without one: CI must run it.
var externalTools = []string{"kcat", "jq", "curl", "base64", "pkill", "/usr/bin/python3"}

// Bounds of the waits. A wait block outlasts the breaker's 10 s delay on a loaded machine; a
// stop outlasts the node's 30 s shutdown bound.
const (
	commandTimeout = 60 * time.Second
	waitTimeout    = 60 * time.Second
	startTimeout   = 60 * time.Second
	stopTimeout    = 40 * time.Second
)

// step is one marked block of the tutorial.
type step struct {
	line    int // of the marker, for messages
	action  string
	args    []string
	entries []entry  // run, wait, start: the commands and the output under each
	lines   []string // log: the fence's lines
}

type entry struct {
	cmd  string
	want []string
}

// TestTutorialRuns runs docs/tutorial.md as a reader would, its terminals as background
// processes, against the built binaries on free ports, and fails where an output differs from
// the page.
func TestTutorialRuns(t *testing.T) {
	harness.EmbeddedOnly(t, "the tutorial starts its own store and broker with devstack")
	steps := parseTutorial(t, readRepoFile(t, "docs/tutorial.md"))
	if missing := missingTools(steps); len(missing) > 0 {
		t.Fatalf("the tutorial needs %s: run make deps (.ci/deps)", strings.Join(missing, ", "))
	}
	e := newTutorialEnv(t)
	for _, s := range steps {
		if err := e.do(s); err != nil {
			t.Fatalf("docs/tutorial.md:%d: %s: %v", s.line, s.action, err)
		}
	}
}

// parseTutorial returns the marked steps, and fails the test on a shell fence without a marker:
// each says how it runs, so that no command escapes the test unseen.
func parseTutorial(t *testing.T, doc string) []step {
	t.Helper()
	lines := strings.Split(doc, "\n")
	var steps []step
	marked := map[int]bool{} // fence line -> has a marker
	for i := 0; i < len(lines); i++ {
		m := marker.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		s := step{line: i + 1, action: m[1], args: strings.Fields(m[2])}
		if s.action == "signal" {
			steps = append(steps, s)
			continue
		}
		if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "```") {
			t.Fatalf("docs/tutorial.md:%d: a %s marker must stand right before a fence", i+1, s.action)
		}
		end := i + 2
		for end < len(lines) && lines[end] != "```" {
			end++
		}
		marked[i+1] = true
		body := lines[i+2 : end]
		switch s.action {
		case "log":
			s.lines = body
		case "run", "wait", "start":
			s.entries = parseConsole(body)
			if len(s.entries) == 0 || !strings.HasPrefix(body[0], "$ ") {
				t.Fatalf("docs/tutorial.md:%d: a %s fence must start with a `$ command`", i+1, s.action)
			}
		}
		steps = append(steps, s)
		i = end
	}
	for i, l := range lines {
		if shellFence.MatchString(l) && !marked[i] {
			t.Errorf("docs/tutorial.md:%d: shell fence without a <!-- tutorial:... --> marker", i+1)
		}
	}
	if len(steps) == 0 {
		t.Fatal("docs/tutorial.md has no <!-- tutorial:... --> markers")
	}
	return steps
}

// parseConsole splits a console fence into commands (a `$ ` line with its `\` continuations
// and here-document) and the output lines under each.
func parseConsole(block []string) []entry {
	var out []entry
	for i := 0; i < len(block); i++ {
		l := block[i]
		if !strings.HasPrefix(l, "$ ") {
			if len(out) > 0 {
				out[len(out)-1].want = append(out[len(out)-1].want, l)
			}
			continue
		}
		cmd := strings.TrimPrefix(l, "$ ")
		for strings.HasSuffix(cmd, `\`) && i+1 < len(block) {
			i++
			cmd += "\n" + block[i]
		}
		if j := strings.Index(cmd, "<<'"); j >= 0 {
			delim, _, _ := strings.Cut(cmd[j+3:], "'")
			for i+1 < len(block) {
				i++
				cmd += "\n" + block[i]
				if block[i] == delim {
					break
				}
			}
		}
		out = append(out, entry{cmd: cmd})
	}
	return out
}

// missingTools lists the external programs the tutorial's commands use that are not installed,
// and the Python driver when its script cannot import it.
func missingTools(steps []step) []string {
	var cmds []string
	for _, s := range steps {
		for _, en := range s.entries {
			cmds = append(cmds, en.cmd)
		}
	}
	all := strings.Join(cmds, "\n")
	var missing []string
	for _, tool := range externalTools {
		if !regexp.MustCompile(`(^|[\s|;&(])` + regexp.QuoteMeta(tool) + `\b`).MatchString(all) {
			continue
		}
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		} else if strings.HasSuffix(tool, "python3") && exec.Command(tool, "-c", "import cassandra").Run() != nil {
			missing = append(missing, "python3-cassandra")
		}
	}
	return missing
}

// tutorialEnv is the reader's machine: the built binaries on PATH, the default addresses moved
// to free ports, /tmp/ moved to a temporary directory, and the terminals' processes.
type tutorialEnv struct {
	t     *testing.T
	dir   string             // working directory; /tmp/ in the commands points here
	state string             // the shell variables the commands set, as declare -p lines
	env   []string           // of every command
	ports map[string]string  // free port -> default port, for outputs
	fwd   *strings.Replacer  // default -> free, and /tmp/ -> dir, in commands
	procs map[string]*bgProc // each terminal's latest process
	all   []*bgProc          // every process started, in order, for the log
}

// bgProc is one terminal's process.
type bgProc struct {
	name string
	cmd  *exec.Cmd
	out  *harness.SyncBuffer
	done chan struct{}
}

func (p *bgProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func newTutorialEnv(t *testing.T) *tutorialEnv {
	bins := harness.Build(t)
	e := &tutorialEnv{t: t, dir: t.TempDir(), ports: map[string]string{}, procs: map[string]*bgProc{}}
	e.state = filepath.Join(t.TempDir(), "state")
	for _, bin := range []string{bins.Node, bins.Ctl, bins.Devstack} {
		checkAddrVars(t, bin)
	}
	e.env = append(withoutOutboxVars(os.Environ()),
		"PATH="+filepath.Dir(bins.Node)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"LC_ALL=C") // sort orders bytes, as on the page
	var fwd []string
	for def, name := range addrVars {
		free := harness.FreeAddr(t)
		e.env = append(e.env, name+"="+free)
		defPort, freePort := port(def), port(free)
		e.ports[freePort] = defPort
		// Python's driver takes the port apart from the host.
		fwd = append(fwd, def, free, "port="+defPort, "port="+freePort)
	}
	e.fwd = strings.NewReplacer(append(fwd, "/tmp/", e.dir+"/")...)
	t.Cleanup(e.stopAll)
	return e
}

// checkAddrVars fails the test when bin -h shows a default address without the variable that
// moves it: the test would then run on a port other tests, or a developer's node, may use.
func checkAddrVars(t *testing.T, bin string) {
	t.Helper()
	help, err := exec.Command(bin, "-h").CombinedOutput()
	if err != nil {
		t.Fatalf("%s -h: %v\n%s", bin, err, help)
	}
	defaultAddr := regexp.MustCompile(`\(default: "(127\.0\.0\.1:[1-9]\d*)"\)`)
	for _, l := range strings.Split(string(help), "\n") {
		m := defaultAddr.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		if name, ok := addrVars[m[1]]; !ok || !strings.Contains(l, "$"+name) {
			t.Fatalf("%s -h: the test cannot move this default address (addrVars):\n%s", filepath.Base(bin), l)
		}
	}
}

// withoutOutboxVars drops the OUTBOX_ variables of the test's environment, which would change
// what the binaries print.
func withoutOutboxVars(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "OUTBOX_") {
			out = append(out, kv)
		}
	}
	return out
}

func port(addr string) string { return addr[strings.LastIndex(addr, ":")+1:] }

// restore maps the free ports and the temporary directory in an output back to the page's.
func (e *tutorialEnv) restore(out string) string {
	out = strings.ReplaceAll(out, e.dir+"/", "/tmp/")
	return loopback.ReplaceAllStringFunc(out, func(a string) string {
		if def, ok := e.ports[port(a)]; ok {
			return "127.0.0.1:" + def
		}
		return a
	})
}

// shell returns bash running cmd, as typed, after the variables earlier commands set; it saves
// the variables cmd sets. The script goes on stdin, not in -c, so that `pkill -f` in a
// command does not match the shell running it.
func (e *tutorialEnv) shell(ctx context.Context, cmd string) *exec.Cmd {
	script := "if [ -f " + e.state + " ]; then . " + e.state + "; fi\n" + e.fwd.Replace(cmd) + "\n"
	if names := assignment.FindAllStringSubmatch(cmd, -1); len(names) > 0 {
		script += "rc=$?; declare -p"
		for _, n := range names {
			script += " " + n[1]
		}
		script += " >> " + e.state + "; exit $rc\n"
	}
	c := exec.CommandContext(ctx, "bash", "-s")
	c.Stdin = strings.NewReader(script)
	c.Dir, c.Env = e.dir, e.env
	return c
}

func (e *tutorialEnv) do(s step) error {
	switch s.action {
	case "run", "wait":
		return e.runBlock(s)
	case "start":
		return e.start(s)
	case "signal":
		return e.signal(s)
	case "log":
		return e.log(s)
	}
	return nil // show
}

// runBlock runs a run block once, or a wait block until its outputs match, and logs the
// last run's transcript: with -v it is there to paste into the page when the page needs an
// update.
func (e *tutorialEnv) runBlock(s step) error {
	var transcript strings.Builder
	once := func() error {
		transcript.Reset()
		return e.runEntries(s.entries, &transcript)
	}
	err := once()
	if err != nil && s.action == "wait" {
		err = harness.Within(waitTimeout, once)
	}
	e.t.Logf("docs/tutorial.md:%d:\n%s", s.line, transcript.String())
	return err
}

// runEntries runs the commands in turn and compares each output with the page.
func (e *tutorialEnv) runEntries(entries []entry, transcript *strings.Builder) error {
	for _, en := range entries {
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		out, err := e.shell(ctx, en.cmd).CombinedOutput()
		timedOut := ctx.Err() != nil
		cancel()
		have := e.restore(string(out))
		fmt.Fprintf(transcript, "$ %s\n%s", en.cmd, have)
		if timedOut {
			return fmt.Errorf("$ %s\ndid not end within %s: %w", en.cmd, commandTimeout, err)
		}
		// The exit status is not compared: the page shows it where it matters (echo "exit $?").
		if err := matchLines(en.want, have); err != nil {
			return fmt.Errorf("$ %s\n%w", en.cmd, err)
		}
	}
	return nil
}

// start runs the fence's command as the terminal NAME and waits for its first lines.
func (e *tutorialEnv) start(s step) error {
	if len(s.args) != 1 || len(s.entries) != 1 {
		return errors.New("start needs a NAME and one command")
	}
	name, en := s.args[0], s.entries[0]
	if p, ok := e.procs[name]; ok {
		// The page may stop it with a command (pkill) rather than a signal step.
		if err := harness.Within(stopTimeout, func() error { return exitedErr(name, p) }); err != nil {
			return err
		}
	}
	p := &bgProc{name: name, out: &harness.SyncBuffer{}, done: make(chan struct{})}
	p.cmd = e.shell(context.Background(), "exec "+en.cmd)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	e.procs[name] = p
	e.all = append(e.all, p)
	shown := func() error { return matchSubsequence(en.want, e.restore(p.out.String()), false) }
	// An exit ends the wait too: the lines will not come.
	err := harness.Within(startTimeout, func() error {
		if p.exited() {
			return nil
		}
		return shown()
	})
	if err == nil && p.exited() {
		err = fmt.Errorf("%s exited: %s", name, p.cmd.ProcessState)
	}
	if err != nil {
		return fmt.Errorf("$ %s\n%w\noutput:\n%s", en.cmd, err, e.restore(p.out.String()))
	}
	return nil
}

func exitedErr(name string, p *bgProc) error {
	if p.exited() {
		return nil
	}
	return fmt.Errorf("%s is still running", name)
}

var signals = map[string]syscall.Signal{"SIGINT": syscall.SIGINT, "SIGTERM": syscall.SIGTERM, "SIGKILL": syscall.SIGKILL}

// signal is the reader's key press in terminal NAME; the process must stop, with the exit code
// the page states.
func (e *tutorialEnv) signal(s step) error {
	if len(s.args) < 2 || len(s.args) > 3 {
		return errors.New("signal needs NAME SIGNAL [EXIT-CODE]")
	}
	p, ok := e.procs[s.args[0]]
	sig, known := signals[s.args[1]]
	if !ok || !known {
		return fmt.Errorf("no terminal %q started, or unknown signal %q", s.args[0], s.args[1])
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("%s: %w", s.args[0], err)
	}
	if err := harness.Within(stopTimeout, func() error { return exitedErr(s.args[0], p) }); err != nil {
		return err
	}
	if len(s.args) < 3 {
		return nil
	}
	want, err := strconv.Atoi(s.args[2])
	if err != nil {
		return fmt.Errorf("exit code: %w", err)
	}
	if got := p.cmd.ProcessState.ExitCode(); got != want {
		return fmt.Errorf("%s exited with %s, want exit code %d\noutput:\n%s", s.args[0], p.cmd.ProcessState, want, e.restore(p.out.String()))
	}
	return nil
}

// log waits until the terminal NAME has printed the fence's lines.
func (e *tutorialEnv) log(s step) error {
	if len(s.args) != 1 || e.procs[s.args[0]] == nil {
		return fmt.Errorf("log needs a started NAME, got %q", s.args)
	}
	p := e.procs[s.args[0]]
	err := harness.Within(waitTimeout, func() error {
		return matchSubsequence(s.lines, e.restore(p.out.String()), true)
	})
	if err != nil {
		return fmt.Errorf("%s: %w\noutput:\n%s", s.args[0], err, e.restore(p.out.String()))
	}
	return nil
}

// stopAll kills the processes the page left running (after a failure), and shows every
// terminal's output when the test failed or runs with -v.
func (e *tutorialEnv) stopAll() {
	for _, p := range e.all {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if e.t.Failed() || testing.Verbose() {
			e.t.Logf("terminal %s (%s):\n%s", p.name, p.cmd.ProcessState, e.restore(p.out.String()))
		}
	}
}

// normalize replaces what differs from run to run (ids, times, durations) by placeholders.
func normalize(s string) string {
	s = uuidPat.ReplaceAllString(s, "<id>")
	s = stampPat.ReplaceAllString(s, "<time>")
	s = clockPat.ReplaceAllString(s, "<clock>")
	return durPat.ReplaceAllString(s, "<duration>")
}

// linePattern matches the lines that want, normalized, stands for; `…` matches any text.
// With suffix it matches lines that end with want.
func linePattern(want string, suffix bool) *regexp.Regexp {
	parts := strings.Split(normalize(strings.TrimRight(want, " ")), "…")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	prefix := "^"
	if suffix {
		prefix = "^(?:.* )?"
	}
	return regexp.MustCompile(prefix + strings.Join(parts, ".*") + "$")
}

func isEllipsis(want string) bool { return strings.TrimSpace(want) == "…" }

// matchLines compares an output with want line by line; a want line that is only `…` stands for
// any number of lines.
func matchLines(want []string, output string) error {
	var have []string
	if strings.TrimSpace(output) != "" {
		have = strings.Split(strings.TrimRight(output, "\n"), "\n")
	}
	if !matchFrom(want, have) {
		return fmt.Errorf("output differs from the page\nwant:\n%s\nhave:\n%s", strings.Join(want, "\n"), output)
	}
	return nil
}

func matchFrom(want, have []string) bool {
	if len(want) == 0 {
		return len(have) == 0
	}
	if isEllipsis(want[0]) {
		for k := 0; k <= len(have); k++ {
			if matchFrom(want[1:], have[k:]) {
				return true
			}
		}
		return false
	}
	return len(have) > 0 && linePattern(want[0], false).MatchString(normalize(strings.TrimRight(have[0], " "))) &&
		matchFrom(want[1:], have[1:])
}

// matchSubsequence reports whether output shows want's lines in order, other lines between
// them; with suffix a want line may be the end of an output line.
func matchSubsequence(want []string, output string, suffix bool) error {
	var pending []string
	for _, w := range want {
		if !isEllipsis(w) {
			pending = append(pending, w)
		}
	}
	for _, h := range strings.Split(output, "\n") {
		if len(pending) > 0 && linePattern(pending[0], suffix).MatchString(normalize(h)) {
			pending = pending[1:]
		}
	}
	if len(pending) > 0 {
		return fmt.Errorf("no line after the earlier ones matches %q", pending[0])
	}
	return nil
}

// TestTutorialOutputMatching pins what the page's expected lines accept: TestTutorialRuns is
// only as strict as these rules.
func TestTutorialOutputMatching(t *testing.T) {
	for _, c := range []struct {
		name   string
		want   []string
		output string
		ok     bool
	}{
		{"ids, times and durations", []string{"54d776f5-6547-47f7-8d04-174e316fe6ef at 2026-11-27T03:23:07.833Z 12:25:55 lag 14.988s"},
			"3b09e15e-d9b6-44b7-8470-6c7fa244ba5b at 2026-12-05T12:45:58.4Z 03:23:17 lag 0s\n", true},
		{"other numbers count", []string{"dlq_messages_total 3"}, "dlq_messages_total 2\n", false},
		{"… within a line", []string{"exit … done"}, "exit 4 then done\n", true},
		{"… line for none", []string{"20", "…"}, "20\n", true},
		{"… line for several", []string{"…", "last"}, "a\nb\nlast\n", true},
		{"a missing line", []string{"a", "b"}, "a\n", false},
		{"an extra line", []string{"a"}, "a\nb\n", false},
	} {
		if err := matchLines(c.want, c.output); (err == nil) != c.ok {
			t.Errorf("%s: matchLines(%q, %q) = %v, want ok %v", c.name, c.want, c.output, err, c.ok)
		}
	}
	logged := "time=2026-12-05T12:46:19.580Z level=info msg=stopped\n"
	if err := matchSubsequence([]string{"level=info msg=stopped"}, logged, true); err != nil {
		t.Errorf("a log line without its time= prefix: %v", err)
	}
	if err := matchSubsequence([]string{"msg=stopped extra"}, logged, true); err == nil {
		t.Error("a log line matched a line it is not the end of")
	}
}
