package compose

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// composeCommand is one `docker compose ...` command quoted in the docs.
type composeCommand struct {
	text     string
	profiles []string // --profile values
	sub      string   // the subcommand
	services []string // the services it names
}

// serviceArgs are the subcommands whose arguments are services; run and
// exec take one, followed by the container's command.
var serviceArgs = []string{"up", "run", "exec", "kill", "start", "stop", "restart", "logs", "ps", "pull", "build", "create", "rm", "pause", "unpause", "top", "port"}

// quotedCommand is a `docker compose` command up to a backtick or line end.
var quotedCommand = regexp.MustCompile("docker compose[^`\n]*")

// parseCompose reads the commands of text. Flags other than --profile
// and -f take no value (the docs use -d, --wait, --build, --rm, -v), and
// a command ends at a shell operator.
func parseCompose(text string) []composeCommand {
	var cmds []composeCommand
	for _, m := range quotedCommand.FindAllString(text, -1) {
		c := composeCommand{text: strings.TrimSpace(m)}
		args := strings.Fields(strings.TrimPrefix(m, "docker compose"))
		for i := 0; i < len(args); i++ {
			a := args[i]
			if strings.ContainsAny(a[:1], "<>|&;()$") {
				break
			}
			switch {
			case c.sub == "" && (a == "--profile" || a == "-f") && i+1 < len(args):
				if a == "--profile" {
					c.profiles = append(c.profiles, args[i+1])
				}
				i++
			case strings.HasPrefix(a, "-"):
			case c.sub == "":
				c.sub = a
			case slices.Contains(serviceArgs, c.sub):
				c.services = append(c.services, a)
				if c.sub == "run" || c.sub == "exec" {
					i = len(args)
				}
			}
		}
		if c.sub != "" {
			cmds = append(cmds, c)
		}
	}
	return cmds
}

func TestParseCompose(t *testing.T) {
	got := parseCompose("a `docker compose --profile x run --rm ctl order create -c 1` b\n" +
		"docker compose up -d --wait s1 s2 >/dev/null && echo\n`docker compose\nversion`")
	want := []composeCommand{
		{text: "docker compose --profile x run --rm ctl order create -c 1", profiles: []string{"x"}, sub: "run", services: []string{"ctl"}},
		{text: "docker compose up -d --wait s1 s2 >/dev/null && echo", sub: "up", services: []string{"s1", "s2"}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i].text != want[i].text || got[i].sub != want[i].sub || !slices.Equal(got[i].profiles, want[i].profiles) || !slices.Equal(got[i].services, want[i].services) {
			t.Errorf("command %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestDocsComposeCommandsNameEnabledServices: every `docker compose`
// command in the README, docs/, the Makefile and the compose file's own
// comments names profiles and services the file has, and each service it
// names is startable: Compose (v2.22 on) enables the profiles of the
// services a command names, not those of what they depend on, which the
// --profile flags must enable. docs/cluster.md must still kill and
// restart a member and ask for `outboxctl cluster`.
func TestDocsComposeCommandsNameEnabledServices(t *testing.T) {
	root := repoRoot(t)
	files := []string{"README.md", "Makefile", "docker-compose.yml"}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		files = append(files, filepath.Join("docs", filepath.Base(d)))
	}
	all := loadProject(t)
	profiles := map[string]bool{}
	for _, s := range all.AllServices() {
		for _, pr := range s.Profiles {
			profiles[pr] = true
		}
	}
	var cluster []composeCommand
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range parseCompose(string(b)) {
			if f == filepath.Join("docs", "cluster.md") {
				cluster = append(cluster, c)
			}
			for _, pr := range c.profiles {
				if !profiles[pr] {
					t.Errorf("%s: %q: no service has profile %s", f, c.text, pr)
				}
			}
			if (c.sub == "run" || c.sub == "exec") && len(c.services) != 1 {
				t.Errorf("%s: %q names no service", f, c.text)
			}
			p := loadProfiles(t, c.profiles...)
			for _, name := range c.services {
				if _, ok := all.Services[name]; !ok {
					t.Errorf("%s: %q: no service %s", f, c.text, name)
					continue
				}
				enabled, err := p.WithServicesEnabled(name)
				if err != nil {
					t.Fatal(err)
				}
				if !startable(enabled, name) {
					t.Errorf("%s: %q: %s or what it depends on is not in the profiles the command enables", f, c.text, name)
				}
			}
		}
	}
	members := map[string]bool{}
	for _, m := range clusterMembers(t, all) {
		members[m.name] = true
	}
	for _, sub := range []string{"kill", "up"} {
		if !slices.ContainsFunc(cluster, func(c composeCommand) bool {
			return c.sub == sub && len(c.services) == 1 && members[c.services[0]]
		}) {
			t.Errorf("docs/cluster.md has no `docker compose %s` of a cluster member", sub)
		}
	}
	if !slices.ContainsFunc(cluster, func(c composeCommand) bool {
		return c.sub == "run" && strings.HasSuffix(c.text, c.services[0]+" cluster") && isClient(all.Services[c.services[0]])
	}) {
		t.Error("docs/cluster.md has no `docker compose run` of outboxctl cluster")
	}
}

// startable reports whether name and everything it depends on are enabled in p.
func startable(p *types.Project, name string) bool {
	s, ok := p.Services[name]
	if !ok {
		return false
	}
	for dep := range s.DependsOn {
		if !startable(p, dep) {
			return false
		}
	}
	return true
}
