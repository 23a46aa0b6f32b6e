package docs

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repoRoot is the module root, two levels above this package.
const repoRoot = "../.."

// targetLine matches a rule's first line ("name: prerequisites ## text"), not ":=" assignments.
var targetLine = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9_-]*):([^=]|$)`)

// makefileTargets returns every rule target of the Makefile in order.
func makefileTargets(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatalf("open Makefile: %v", err)
	}
	defer f.Close()
	var targets []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := targetLine.FindStringSubmatch(sc.Text()); m != nil {
			targets = append(targets, m[1])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read Makefile: %v", err)
	}
	if len(targets) == 0 {
		t.Fatal("no targets found in the Makefile")
	}
	return targets
}

// runMake runs make in the repository root with the given PATH and returns its combined output.
func runMake(t *testing.T, path string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("make", append([]string{"--no-print-directory", "-C", repoRoot}, args...)...)
	cmd.Env = append(os.Environ(), "PATH="+path)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestMakeHelpListsEveryTarget(t *testing.T) {
	targets := makefileTargets(t)
	if targets[0] != "help" {
		t.Fatalf("the first (default) target is %q, want help", targets[0])
	}
	help, err := runMake(t, os.Getenv("PATH"), "help")
	if err != nil {
		t.Fatalf("make help: %v\n%s", err, help)
	}
	bare, err := runMake(t, os.Getenv("PATH"))
	if err != nil {
		t.Fatalf("make: %v\n%s", err, bare)
	}
	if bare != help {
		t.Errorf("make with no target printed\n%s\nwant the output of make help\n%s", bare, help)
	}
	described := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(help), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			t.Errorf("help line %q has no description", line)
			continue
		}
		described[fields[0]] = strings.Join(fields[1:], " ")
	}
	for _, target := range targets {
		if described[target] == "" {
			t.Errorf("make help does not describe target %q; add a `## one line` comment after its colon", target)
		}
	}
	if len(described) != len(targets) {
		t.Errorf("make help lists %d entries, the Makefile has %d targets: %v", len(described), len(targets), targets)
	}
	for _, want := range []string{"help", "dev", "run", "devstack", "metrics", "integration-test", "clean", "test", "bench", "gobench", "soak", "chaos", "conformance", "proto", "lint"} {
		if _, ok := described[want]; !ok {
			t.Errorf("make help does not list %q", want)
		}
	}
}

// fakeDocker puts a `docker` script running body first on PATH and returns that PATH.
func fakeDocker(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	script := "#!/bin/sh\n" + body + "\n"
	if err := os.WriteFile(filepath.Join(dir, "docker"), []byte(script), 0o755); err != nil {
		t.Fatalf("write fake docker: %v", err)
	}
	return dir + string(os.PathListSeparator) + os.Getenv("PATH")
}

func TestDockerTargetsFailInOneLineWithoutDocker(t *testing.T) {
	cases := []struct {
		name, docker, want string
	}{
		{"no engine", "exit 1", "needs a running Docker engine with Compose v2.23.1+ (docker info failed)"},
		{"no compose v2", `[ "$1" = info ] && exit 0; exit 1`, "needs Docker Compose v2.23.1+ (docker compose version failed)"},
	}
	for _, tc := range cases {
		path := fakeDocker(t, tc.docker)
		for _, target := range []string{"dev", "integration-test"} {
			t.Run(tc.name+"/"+target, func(t *testing.T) {
				out, err := runMake(t, path, target)
				if err == nil {
					t.Fatalf("make %s succeeded without Docker:\n%s", target, out)
				}
				lines := strings.Split(strings.TrimSpace(out), "\n")
				if len(lines) != 1 {
					t.Fatalf("make %s printed %d lines, want one:\n%s", target, len(lines), out)
				}
				for _, want := range []string{"make " + target + ": " + tc.want, "make run", "make devstack"} {
					if !strings.Contains(lines[0], want) {
						t.Errorf("make %s printed %q, want it to contain %q", target, lines[0], want)
					}
				}
			})
		}
	}
}

// nodeCommand returns the words of the first `go run ./cmd/outbox-node ...` command in text
// (continuation lines joined), from the flags on, without make's $(ARGS).
func nodeCommand(t *testing.T, text, where string) []string {
	t.Helper()
	joined := strings.NewReplacer("\\\n", " ").Replace(text)
	for _, line := range strings.Split(joined, "\n") {
		_, rest, ok := strings.Cut(line, " run ./cmd/outbox-node ")
		if !ok || !strings.Contains(rest, "--scylla-hosts") {
			continue
		}
		var words []string
		for _, w := range strings.Fields(rest) {
			if w != "$(ARGS)" {
				words = append(words, w)
			}
		}
		return words
	}
	t.Fatalf("%s has no `run ./cmd/outbox-node --scylla-hosts ...` command", where)
	return nil
}

func TestMakeDevRunsTheReadmeCommand(t *testing.T) {
	makefile := nodeCommand(t, readRepoFile(t, "Makefile"), "Makefile")
	readme := nodeCommand(t, readRepoFile(t, "README.md"), "README.md")
	if strings.Join(makefile, " ") != strings.Join(readme, " ") {
		t.Errorf("make dev runs the node with\n  %s\nREADME's \"Running against real ScyllaDB and Redpanda\" says\n  %s", strings.Join(makefile, " "), strings.Join(readme, " "))
	}
}

func TestMakeCleanRemovesOnlyRepoPaths(t *testing.T) {
	out, err := runMake(t, os.Getenv("PATH"), "-n", "clean")
	if err != nil {
		t.Fatalf("make -n clean: %v\n%s", err, out)
	}
	var removed []string
	for _, line := range strings.Split(out, "\n") {
		if words := strings.Fields(line); len(words) > 2 && words[0] == "rm" {
			removed = append(removed, words[2:]...)
		}
	}
	if len(removed) == 0 {
		t.Fatalf("make clean removes nothing:\n%s", out)
	}
	for _, p := range removed {
		if !strings.HasPrefix(p, "./") || strings.Contains(p, "..") || strings.ContainsAny(p, "*$~") {
			t.Errorf("make clean removes %q, not a plain path inside the repository", p)
		}
	}
	if !strings.Contains(out, "./data") {
		t.Errorf("make clean does not remove the node's default ./data directory:\n%s", out)
	}
	if !strings.HasPrefix(out, "echo ") {
		t.Errorf("make clean does not say what it removes before removing it:\n%s", out)
	}
}
