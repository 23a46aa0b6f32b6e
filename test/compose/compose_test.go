// Package compose checks docker-compose.yml, the real-substrate setup that
// no CI machine can start (there is no Docker engine): the file is loaded
// with compose-go, the loader of Docker Compose itself, and held against
// the node's flag set, its Dockerfile and the ports table of the README.
package compose

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/distribution/reference"
	"go.yaml.in/yaml/v4"

	"github.com/outboxnode/outbox/infra/cliflags"
	"github.com/outboxnode/outbox/infra/config"
)

// nodeService is the compose service that runs outbox-node alone.
const nodeService = "outbox-node"

// ctlEntrypoint is the binary of the outboxctl client services.
const ctlEntrypoint = "/usr/local/bin/outboxctl"

// repoRoot is the module root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// loadProject loads docker-compose.yml as `docker compose --profile '*'`
// would, validation against the Compose Specification schema included,
// with an empty environment so nothing on this machine leaks in.
func loadProject(t *testing.T) *types.Project {
	t.Helper()
	return loadProfiles(t, "*")
}

// loadProfiles loads docker-compose.yml as `docker compose` with these
// --profile flags would: p.Services are the services `up` starts.
func loadProfiles(t *testing.T, profiles ...string) *types.Project {
	t.Helper()
	root := repoRoot(t)
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithProfiles(profiles),
	)
	if err != nil {
		t.Fatalf("compose options: %v", err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	if p.Name != "outbox" {
		t.Errorf("project name = %q, want outbox", p.Name)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("service %s: %v", name, err)
	}
	return s
}

// nodeServices are the services that run outbox-node: built from its
// Dockerfile, with the image's own entrypoint (the clients override it).
func nodeServices(t *testing.T, p *types.Project) []string {
	t.Helper()
	var names []string
	for name, s := range p.Services {
		if s.Build != nil && s.Build.Dockerfile == "cmd/outbox-node/Dockerfile" && len(s.Entrypoint) == 0 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	if !slices.Contains(names, nodeService) {
		t.Fatalf("node services %q lack %s", names, nodeService)
	}
	return names
}

// isClient reports whether s runs outboxctl, a one-shot client for
// `docker compose run`, not a server.
func isClient(s types.ServiceConfig) bool {
	return len(s.Entrypoint) > 0 && s.Entrypoint[0] == ctlEntrypoint
}

// exactTag is a version tag pinned to a release: 1.2.3, v1.2.3, 2025.4.0,
// optionally with a variant suffix (-bookworm).
var exactTag = regexp.MustCompile(`^v?\d+\.\d+\.\d+(-[a-z0-9.]+)?$`)

// checkPinned reports why image is not pinned to one release, or nil.
func checkPinned(image string) error {
	ref, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return fmt.Errorf("image %q: %w", image, err)
	}
	if _, ok := ref.(reference.Digested); ok {
		return nil
	}
	tagged, ok := ref.(reference.Tagged)
	if !ok {
		return fmt.Errorf("image %q has no tag (latest)", image)
	}
	if !exactTag.MatchString(tagged.Tag()) {
		return fmt.Errorf("image %q: tag %q is not an exact version", image, tagged.Tag())
	}
	return nil
}

func TestCheckPinnedRejectsFloatingTags(t *testing.T) {
	for _, image := range []string{"prom/prometheus", "prom/prometheus:latest", "golang:1.26", "scylladb/scylla:2025.4", "gcr.io/distroless/static-debian12:nonroot"} {
		if checkPinned(image) == nil {
			t.Errorf("checkPinned(%q) accepted a floating image", image)
		}
	}
	for _, image := range []string{"prom/prometheus:v2.55.1", "scylladb/scylla:2025.4.0", "golang:1.26.8-bookworm",
		"busybox@sha256:" + strings.Repeat("ab", 32)} {
		if err := checkPinned(image); err != nil {
			t.Errorf("checkPinned(%q): %v", image, err)
		}
	}
}

func TestComposeImagesPinnedOrBuilt(t *testing.T) {
	p := loadProject(t)
	root := repoRoot(t)
	for name, s := range p.Services {
		if s.Build != nil {
			dockerfile := filepath.Join(s.Build.Context, s.Build.Dockerfile)
			if !strings.HasPrefix(dockerfile, root+string(filepath.Separator)) {
				t.Errorf("%s: Dockerfile %s is outside the repository", name, dockerfile)
			}
			if _, err := os.Stat(dockerfile); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if err := checkPinned(s.Image); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestComposeScyllaRunsCDCOnTablets: CDC on tablets keyspaces needs
// ScyllaDB 2025.4 or later, and the node must ask for a tablets keyspace.
func TestComposeScyllaRunsCDCOnTablets(t *testing.T) {
	p := loadProject(t)
	s := service(t, p, "scylla")
	ref, err := reference.ParseNormalizedNamed(s.Image)
	if err != nil {
		t.Fatal(err)
	}
	tagged, ok := ref.(reference.Tagged)
	if !ok || reference.Path(ref) != "scylladb/scylla" {
		t.Fatalf("scylla image %q is not a tagged scylladb/scylla", s.Image)
	}
	parts := strings.SplitN(tagged.Tag(), ".", 3)
	year, _ := strconv.Atoi(parts[0])
	minor := 0
	if len(parts) > 1 {
		minor, _ = strconv.Atoi(parts[1])
	}
	if year < 2025 || (year == 2025 && minor < 4) {
		t.Errorf("scylla image %q: CDC on tablets needs 2025.4 or later", s.Image)
	}
	if slices.ContainsFunc(s.Command, func(a string) bool { return strings.Contains(a, "tablets") }) {
		t.Errorf("scylla command %q changes the tablets setting; the node's keyspace must get the server's tablets", s.Command)
	}
	for _, name := range nodeServices(t, p) {
		cfg := nodeConfig(t, p, name)
		if cfg.Scylla.Replication.Strategy != config.NetworkTopologyStrategy || cfg.Scylla.Replication.Tablets != "on" {
			t.Errorf("%s keyspace = %s tablets=%q, want NetworkTopologyStrategy with --tablets on",
				name, cfg.Scylla.Replication.Strategy, cfg.Scylla.Replication.Tablets)
		}
	}
}

// envOnly are the node's environment variables that have no flag (secrets).
var envOnly = []string{config.EnvScyllaPassword, config.SASLPasswordEnv}

// nodeConfig checks that every flag in the command of the node service
// name and every OUTBOX_* variable of its environment is one the node
// knows, then loads them through config.Load exactly as outbox-node does.
func nodeConfig(t *testing.T, p *types.Project, name string) config.Config {
	t.Helper()
	s := service(t, p, name)
	flags := config.FlagNames()
	if len(flags) < 10 || !slices.Contains(flags, "metrics-addr") {
		t.Fatalf("config.FlagNames() = %q: not the node's flag set", flags)
	}
	for _, arg := range s.Command {
		if !strings.HasPrefix(arg, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if !slices.Contains(flags, name) {
			t.Errorf("%s command: %s is not an outbox-node flag", name, arg)
		}
	}
	env := map[string]string{}
	for key, v := range s.Environment {
		if v == nil {
			t.Errorf("%s environment: %s has no value", name, key)
			continue
		}
		env[key] = *v
		if !strings.HasPrefix(key, cliflags.EnvPrefix) {
			t.Errorf("%s environment: %s is not an %s* variable", name, key, cliflags.EnvPrefix)
			continue
		}
		known := slices.Contains(envOnly, key) || slices.ContainsFunc(flags, func(f string) bool { return cliflags.EnvName(f) == key })
		if !known {
			t.Errorf("%s environment: %s sets no outbox-node flag", name, key)
		}
	}
	var usage strings.Builder
	cfg, err := config.Load(s.Command, func(k string) string { return env[k] }, &usage)
	if err != nil {
		t.Fatalf("outbox-node rejects the compose configuration: %v\n%s", err, usage.String())
	}
	return cfg
}

func TestComposeNodeConfigIsTheNodes(t *testing.T) {
	p := loadProject(t)
	if !strings.Contains(strings.Join(service(t, p, "redpanda").Command, " "), "internal://redpanda:9092") {
		t.Errorf("redpanda does not advertise redpanda:9092 to the node")
	}
	for _, name := range nodeServices(t, p) {
		cfg := nodeConfig(t, p, name)
		if len(cfg.Scylla.Hosts) != 1 || cfg.Scylla.Hosts[0] != "scylla" {
			t.Errorf("%s store hosts = %q, want the scylla service", name, cfg.Scylla.Hosts)
		}
		if len(cfg.Kafka.Brokers) != 1 || cfg.Kafka.Brokers[0] != "redpanda:9092" {
			t.Errorf("%s brokers = %q, want redpanda's internal listener", name, cfg.Kafka.Brokers)
		}
		host, _, err := net.SplitHostPort(cfg.Node.MetricsAddr)
		if err != nil || host != "0.0.0.0" {
			t.Errorf("%s metrics addr %q must listen on every interface of its container", name, cfg.Node.MetricsAddr)
		}
	}
}

// TestComposeNodesShareOneDefinition: the cluster's members are the node
// service with a few settings of their own, not copies that drift apart.
func TestComposeNodesShareOneDefinition(t *testing.T) {
	p := loadProject(t)
	base := service(t, p, nodeService)
	names := nodeServices(t, p)
	if len(names) < 2 {
		t.Fatalf("node services %q: no cluster members", names)
	}
	for _, name := range names {
		s := service(t, p, name)
		if !reflect.DeepEqual(s.Build, base.Build) || !slices.Equal(s.Command, base.Command) || !reflect.DeepEqual(s.HealthCheck, base.HealthCheck) {
			t.Errorf("%s: build, command or healthcheck differ from %s's", name, nodeService)
		}
		// A member that exits 1 (a fatal failure, dropped by its peers) must
		// start again to rejoin.
		if s.Restart != "on-failure" {
			t.Errorf("%s: restart %q, want on-failure", name, s.Restart)
		}
		for key, v := range base.Environment {
			if key == cliflags.EnvName("migrate") {
				continue // which node applies the schema is each one's own
			}
			if got := s.Environment[key]; got == nil || v == nil || *got != *v {
				t.Errorf("%s: %s = %v, want %s's %v", name, key, deref(got), nodeService, deref(v))
			}
		}
		for dep, d := range base.DependsOn {
			if got, ok := s.DependsOn[dep]; !ok || got.Condition != d.Condition || got.Required != d.Required {
				t.Errorf("%s: depends on %s as %q, want %s's %q", name, dep, s.DependsOn[dep].Condition, nodeService, d.Condition)
			}
		}
	}
}

func deref(v *string) string {
	if v == nil {
		return "(unset)"
	}
	return *v
}

// TestComposePrometheusScrapesNodeAndLoadsRules: every node in a container
// and a node on the host (through the host gateway) are targets, and
// the mounted rules file is the one Prometheus loads.
func TestComposePrometheusScrapesNodeAndLoadsRules(t *testing.T) {
	p := loadProject(t)
	prom := service(t, p, "prometheus")
	var promConfigPath string
	var promConfig types.ConfigObjConfig
	for _, c := range prom.Configs {
		promConfigPath, promConfig = c.Target, p.Configs[c.Source]
	}
	if promConfigPath != "/etc/prometheus/prometheus.yml" || promConfig.Content == "" {
		t.Fatalf("prometheus config: target %q, content %d bytes; want inline content at the image's config path", promConfigPath, len(promConfig.Content))
	}
	var pc struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Load([]byte(promConfig.Content), &pc); err != nil {
		t.Fatalf("prometheus config is not YAML: %v", err)
	}
	var targets []string
	for _, sc := range pc.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	_, defaultPort, _ := net.SplitHostPort(config.Default().Node.MetricsAddr)
	want := []string{"host.docker.internal:" + defaultPort}
	for _, name := range nodeServices(t, p) {
		_, port, _ := net.SplitHostPort(nodeConfig(t, p, name).Node.MetricsAddr)
		want = append(want, name+":"+port)
	}
	for _, w := range want {
		if !slices.Contains(targets, w) {
			t.Errorf("prometheus targets %q lack %s", targets, w)
		}
	}
	if gw := prom.ExtraHosts["host.docker.internal"]; !slices.Contains(gw, "host-gateway") {
		t.Errorf("prometheus extra_hosts host.docker.internal = %q, want host-gateway", gw)
	}
	mounts := bindMounts(t, prom)
	if len(pc.RuleFiles) == 0 {
		t.Fatal("prometheus loads no rule files")
	}
	for _, rf := range pc.RuleFiles {
		if mounts[rf] != "infra/metrics/prometheus/rules.yml" {
			t.Errorf("rule file %s is mounted from %q, want infra/metrics/prometheus/rules.yml", rf, mounts[rf])
		}
	}
}

// bindMounts maps each bind mount's container path to its source, relative
// to the repository root; every one must be read-only and inside the repo.
func bindMounts(t *testing.T, s types.ServiceConfig) map[string]string {
	t.Helper()
	root := repoRoot(t)
	m := map[string]string{}
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		rel, err := filepath.Rel(root, v.Source)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Errorf("%s: bind mount %s is outside the repository", s.Name, v.Source)
			continue
		}
		if _, err := os.Stat(v.Source); err != nil {
			t.Errorf("%s: bind mount source: %v", s.Name, err)
		}
		if !v.ReadOnly {
			t.Errorf("%s: bind mount %s is writable", s.Name, rel)
		}
		m[v.Target] = filepath.ToSlash(rel)
	}
	return m
}

func TestComposeGrafanaProvisionsDashboard(t *testing.T) {
	p := loadProject(t)
	g := service(t, p, "grafana")
	want := map[string]string{
		"/etc/grafana/provisioning/datasources/prometheus.yml": "infra/metrics/grafana/provisioning/datasources/prometheus.yml",
		"/etc/grafana/provisioning/dashboards/outbox.yml":      "infra/metrics/grafana/provisioning/dashboards/outbox.yml",
		"/var/lib/grafana/dashboards/outbox.json":              "infra/metrics/grafana/dashboards/outbox.json",
	}
	got := bindMounts(t, g)
	for target, src := range want {
		if got[target] != src {
			t.Errorf("grafana %s mounted from %q, want %s", target, got[target], src)
		}
	}
	if d, ok := g.DependsOn["prometheus"]; !ok || d.Condition != types.ServiceConditionHealthy {
		t.Errorf("grafana does not wait for a healthy prometheus")
	}
}

// TestComposeJaegerReceivesOTLP: the node's spans go to Jaeger over OTLP,
// gRPC 4317 or HTTP 4318, from the compose network or from the host.
func TestComposeJaegerReceivesOTLP(t *testing.T) {
	p := loadProject(t)
	j := service(t, p, "jaeger")
	if v := j.Environment["COLLECTOR_OTLP_ENABLED"]; v == nil || *v != "true" {
		t.Errorf("jaeger COLLECTOR_OTLP_ENABLED = %v, want true", v)
	}
	var targets []uint32
	for _, port := range j.Ports {
		targets = append(targets, port.Target)
	}
	for _, want := range []uint32{4317, 4318, 16686} {
		if !slices.Contains(targets, want) {
			t.Errorf("jaeger publishes %v, lacks %d", targets, want)
		}
	}
	for _, name := range nodeServices(t, p) {
		if d, ok := service(t, p, name).DependsOn["jaeger"]; !ok || d.Condition != types.ServiceConditionHealthy {
			t.Errorf("%s does not wait for a healthy jaeger", name)
		}
	}
}

// TestComposeHealthAndStartOrder: every long-running service has a
// healthcheck, and whatever a service depends on is waited for healthy.
func TestComposeHealthAndStartOrder(t *testing.T) {
	p := loadProject(t)
	for name, s := range p.Services {
		if isClient(s) {
			// a one-shot client (`docker compose run`), not a server
			continue
		}
		if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) < 2 {
			t.Errorf("%s has no healthcheck", name)
		}
	}
	for name, s := range p.Services {
		for dep, d := range s.DependsOn {
			if d.Condition != types.ServiceConditionHealthy {
				t.Errorf("%s depends on %s with condition %q, want %s", name, dep, d.Condition, types.ServiceConditionHealthy)
			}
			if _, ok := p.Services[dep]; !ok {
				t.Errorf("%s depends on unknown service %s", name, dep)
			}
		}
	}
	for _, name := range nodeServices(t, p) {
		node := service(t, p, name)
		for _, dep := range []string{"scylla", "redpanda"} {
			if _, ok := node.DependsOn[dep]; !ok {
				t.Errorf("%s starts without waiting for %s", name, dep)
			}
		}
		// The node image has no shell: its check must exec a binary it ships.
		if hc := node.HealthCheck; hc != nil && len(hc.Test) >= 2 && (hc.Test[0] != "CMD" || !strings.HasPrefix(hc.Test[1], "/usr/local/bin/")) {
			t.Errorf("%s healthcheck %q needs a shell the image does not have", name, hc.Test)
		}
	}
}

// portRow is one published port: service, host address, container port.
type portRow struct {
	service, host string
	target        uint32
}

func (r portRow) String() string { return fmt.Sprintf("%s %s->%d", r.service, r.host, r.target) }

// readmePorts reads the table that follows the "compose ports" marker in
// the README: | service | host address | container port | what |.
func readmePorts(r io.Reader) ([]portRow, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "<!-- compose ports:") {
			break
		}
	}
	var rows []portRow
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) != 4 {
			return nil, fmt.Errorf("ports table row %q: want 4 cells", line)
		}
		if cells[0] == "service" || strings.HasPrefix(cells[0], "---") {
			continue
		}
		target, err := strconv.ParseUint(cells[2], 10, 16)
		if err != nil {
			return nil, fmt.Errorf("ports table row %q: container port: %w", line, err)
		}
		rows = append(rows, portRow{service: cells[0], host: cells[1], target: uint32(target)})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("no compose ports table")
	}
	return rows, nil
}

func TestReadmePortsParsesTable(t *testing.T) {
	rows, err := readmePorts(strings.NewReader("x\n<!-- compose ports: -->\n| service | host address | container port | what |\n|---|---|---|---|\n| a | 127.0.0.1:1 | 2 | b |\n\nafter\n"))
	if err != nil || len(rows) != 1 || rows[0] != (portRow{"a", "127.0.0.1:1", 2}) {
		t.Fatalf("rows %v, err %v", rows, err)
	}
	for _, bad := range []string{"no table", "<!-- compose ports: -->\n| a | 1 | x | y |\n", "<!-- compose ports: -->\n| a | 1 |\n"} {
		if _, err := readmePorts(strings.NewReader(bad)); err == nil {
			t.Errorf("readmePorts(%q) accepted a broken table", bad)
		}
	}
}

// TestComposePortsMatchReadme: the README's ports table lists exactly the
// ports the compose file publishes, every one on loopback only.
func TestComposePortsMatchReadme(t *testing.T) {
	p := loadProject(t)
	var compose []portRow
	for name, s := range p.Services {
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %d on %q, want 127.0.0.1 only", name, port.Target, port.HostIP)
			}
			compose = append(compose, portRow{service: name, host: net.JoinHostPort(port.HostIP, port.Published), target: port.Target})
		}
	}
	f, err := os.Open(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	readme, err := readmePorts(f)
	if err != nil {
		t.Fatalf("README: %v", err)
	}
	for _, r := range readme {
		if !slices.Contains(compose, r) {
			t.Errorf("README lists %s, docker-compose.yml does not publish it", r)
		}
	}
	for _, c := range compose {
		if !slices.Contains(readme, c) {
			t.Errorf("docker-compose.yml publishes %s, the README ports table does not list it", c)
		}
	}
}

// dockerfileFacts is what TestNodeDockerfile needs from a Dockerfile.
type dockerfileFacts struct {
	froms      []string // image of each stage, in order
	stages     []string // stage names (FROM ... AS name)
	lastUser   string   // USER of the final stage
	staticLink bool     // the build says CGO_ENABLED=0
}

// readDockerfile is a light reading of the instructions, continuation
// lines joined; enough for the checks below, not a full parser.
func readDockerfile(r io.Reader) (dockerfileFacts, error) {
	var d dockerfileFacts
	sc := bufio.NewScanner(r)
	var inst string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if inst == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if more, ok := strings.CutSuffix(line, "\\"); ok {
			inst += more + " "
			continue
		}
		inst += line
		fields := strings.Fields(inst)
		inst = ""
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			if len(fields) < 2 {
				return d, fmt.Errorf("FROM without an image")
			}
			d.froms = append(d.froms, fields[1])
			d.lastUser = ""
			if len(fields) == 4 && strings.EqualFold(fields[2], "AS") {
				d.stages = append(d.stages, fields[3])
			}
		case "USER":
			if len(fields) < 2 {
				return d, fmt.Errorf("USER without a user")
			}
			d.lastUser = fields[1]
		case "RUN", "ENV", "ARG":
			if strings.Contains(strings.Join(fields, " "), "CGO_ENABLED=0") {
				d.staticLink = true
			}
		}
	}
	return d, sc.Err()
}

// check reports what makes the image not static, not non-root or not pinned.
func (d dockerfileFacts) check() []error {
	var errs []error
	if len(d.froms) < 2 {
		errs = append(errs, fmt.Errorf("%d stage(s), want a build stage and a runtime stage", len(d.froms)))
	}
	for _, from := range d.froms {
		if from == "scratch" || slices.Contains(d.stages, from) {
			continue
		}
		if err := checkPinned(from); err != nil {
			errs = append(errs, fmt.Errorf("FROM: %w", err))
		}
	}
	uid, _, _ := strings.Cut(d.lastUser, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		// scratch has no /etc/passwd: only a numeric, non-zero uid is surely not root
		errs = append(errs, fmt.Errorf("final stage USER %q, want a numeric non-root uid", d.lastUser))
	}
	if !d.staticLink {
		errs = append(errs, fmt.Errorf("the build does not set CGO_ENABLED=0"))
	}
	return errs
}

func TestNodeDockerfileStaticNonRootPinned(t *testing.T) {
	p := loadProject(t)
	s := service(t, p, nodeService)
	if s.Build == nil {
		t.Fatalf("%s is not built from the repository", nodeService)
	}
	f, err := os.Open(filepath.Join(s.Build.Context, s.Build.Dockerfile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := readDockerfile(f)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	for _, err := range d.check() {
		t.Errorf("%s: %v", s.Build.Dockerfile, err)
	}
}

func TestDockerfileCheckRejectsBadImages(t *testing.T) {
	for name, text := range map[string]string{
		"single stage":             "FROM golang:1.26.8\nRUN CGO_ENABLED=0 go build .\nUSER 65532\n",
		"root":                     "FROM golang:1.26.8 AS b\nRUN CGO_ENABLED=0 go build .\nFROM scratch\nUSER 0:0\n",
		"named user":               "FROM golang:1.26.8 AS b\nRUN CGO_ENABLED=0 go build .\nFROM scratch\nUSER nobody\n",
		"no user":                  "FROM golang:1.26.8 AS b\nRUN CGO_ENABLED=0 go build .\nFROM scratch\n",
		"user in build stage only": "FROM golang:1.26.8 AS b\nUSER 1000\nRUN CGO_ENABLED=0 go build .\nFROM scratch\n",
		"floating":                 "FROM golang:1.26 AS b\nRUN CGO_ENABLED=0 go build .\nFROM scratch\nUSER 65532\n",
		"cgo":                      "FROM golang:1.26.8 AS b\nRUN go build .\nFROM scratch\nUSER 65532\n",
	} {
		d, err := readDockerfile(strings.NewReader(text))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(d.check()) == 0 {
			t.Errorf("%s: accepted", name)
		}
	}
	d, err := readDockerfile(strings.NewReader("FROM golang:1.26.8 AS b\nRUN a \\\n && CGO_ENABLED=0 go build .\nFROM scratch\nCOPY --from=b /x /x\nUSER 65532:65532\n"))
	if err != nil || len(d.check()) != 0 {
		t.Errorf("a good Dockerfile: %v %v", err, d.check())
	}
}

// hostRunCommand returns the arguments of the README's quick-start command
// that runs outbox-node on the host (`go run ./cmd/outbox-node ...`, with
// its continuation lines).
func hostRunCommand(r io.Reader) ([]string, error) {
	const prefix = "go run ./cmd/outbox-node "
	sc := bufio.NewScanner(r)
	var cmd string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cmd == "" && !strings.HasPrefix(line, prefix) {
			continue
		}
		more, cont := strings.CutSuffix(line, "\\")
		cmd += more + " "
		if !cont {
			return strings.Fields(strings.TrimPrefix(cmd, prefix)), nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("no %q command", prefix)
}

// TestReadmeHostRunNodeIsScraped: the README's host-run node loads with the
// node's flags, talks to the ports compose publishes, asks for a tablets
// keyspace, and listens for metrics where the Prometheus container looks.
func TestReadmeHostRunNodeIsScraped(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	args, err := hostRunCommand(f)
	if err != nil {
		t.Fatalf("README: %v", err)
	}
	var usage strings.Builder
	cfg, err := config.Load(args, func(string) string { return "" }, &usage)
	if err != nil {
		t.Fatalf("README's host-run node %q does not load: %v\n%s", args, err, usage.String())
	}
	p := loadProject(t)
	published := map[string]bool{}
	for _, s := range p.Services {
		for _, port := range s.Ports {
			published[net.JoinHostPort(port.HostIP, port.Published)] = true
		}
	}
	for _, addr := range append(slices.Clone(cfg.Scylla.Hosts), cfg.Kafka.Brokers...) {
		if !strings.Contains(addr, ":") {
			addr = net.JoinHostPort(addr, "9042")
		}
		if !published[addr] {
			t.Errorf("README's host-run node connects to %s, which compose does not publish", addr)
		}
	}
	if len(cfg.Scylla.Hosts) == 0 || len(cfg.Kafka.Brokers) == 0 {
		t.Fatalf("README's host-run node %q starts the embedded store or broker, not compose's", args)
	}
	if !strings.Contains(strings.Join(service(t, p, "redpanda").Command, " "), "external://"+cfg.Kafka.Brokers[0]) {
		t.Errorf("redpanda does not advertise %s to clients on the host", cfg.Kafka.Brokers[0])
	}
	if cfg.Scylla.Replication.Strategy != config.NetworkTopologyStrategy || cfg.Scylla.Replication.Tablets != "on" {
		t.Errorf("README's host-run node does not ask for a NetworkTopologyStrategy tablets keyspace")
	}
	host, port, err := net.SplitHostPort(cfg.Node.MetricsAddr)
	if err != nil {
		t.Fatal(err)
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		t.Errorf("README's host-run node listens for metrics on %s, unreachable from the Prometheus container", cfg.Node.MetricsAddr)
	}
	prom := p.Configs[service(t, p, "prometheus").Configs[0].Source].Content
	if !strings.Contains(prom, `"host.docker.internal:`+port+`"`) {
		t.Errorf("prometheus does not scrape host.docker.internal:%s", port)
	}
}

func TestHostRunCommandJoinsLines(t *testing.T) {
	args, err := hostRunCommand(strings.NewReader("x\n```sh\ngo run ./cmd/outbox-node --a 1 \\\n    --b 2\n```\n"))
	if err != nil || !slices.Equal(args, []string{"--a", "1", "--b", "2"}) {
		t.Fatalf("args %q, err %v", args, err)
	}
	if _, err := hostRunCommand(strings.NewReader("no command\n")); err == nil {
		t.Fatal("no error without a command")
	}
}
