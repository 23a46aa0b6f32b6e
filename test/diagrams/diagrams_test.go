package diagrams

import (
	"bufio"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// block is one ```mermaid block of a Markdown file.
type block struct {
	file    string // path relative to the repository root
	line    int    // line of the opening fence
	heading string // nearest heading above the block
	source  string
}

// repoRoot is the repository root, found from this file's location so the
// test works from any working directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// extract returns the mermaid blocks of one Markdown file in order.
func extract(t *testing.T, root, rel string) []block {
	t.Helper()
	f, err := os.Open(filepath.Join(root, rel))
	if err != nil {
		t.Fatalf("open %s: %v", rel, err)
	}
	defer f.Close()
	var (
		blocks  []block
		heading string
		cur     *block
		inFence bool
		body    strings.Builder
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur != nil && trimmed == "```":
			cur.source = body.String()
			blocks = append(blocks, *cur)
			cur = nil
			body.Reset()
		case cur != nil:
			body.WriteString(line + "\n")
		case trimmed == "```mermaid" && !inFence:
			cur = &block{file: rel, line: n, heading: heading}
		case strings.HasPrefix(trimmed, "```"):
			// Other fenced blocks may hold lines starting with '#'.
			inFence = !inFence
		case !inFence && strings.HasPrefix(line, "#"):
			heading = strings.TrimSpace(strings.TrimLeft(line, "#"))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", rel, err)
	}
	if cur != nil {
		t.Fatalf("%s:%d: mermaid block is never closed", rel, cur.line)
	}
	return blocks
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// svgName is the committed SVG of the i-th (from 1) block of docs/diagrams.md:
// its number and the slug of its heading, e.g. 03-relay-sequence-acks-and-checkpoints.svg.
func svgName(i int, b block) string {
	slug := strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(b.heading), "-"), "-")
	return fmt.Sprintf("%02d-%s.svg", i, slug)
}

var labelRE = regexp.MustCompile(`(?m)\["([^"<]+)|^\s*participant \S+ as (.+)$`)

// firstLabel is the first node label or participant name of a block, which
// its SVG must contain: proof the SVG was rendered from this block.
func firstLabel(src string) string {
	m := labelRE.FindStringSubmatch(src)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1] + m[2])
}

// mmdc is the pinned Mermaid CLI of docs/diagrams (npm ci there; .ci/deps).
func mmdc(t *testing.T, root string) (bin, puppeteer string) {
	t.Helper()
	dir := filepath.Join(root, "docs", "diagrams")
	bin = filepath.Join(dir, "node_modules", ".bin", "mmdc")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("mermaid CLI missing (run .ci/deps, which runs npm ci in docs/diagrams): %v", err)
	}
	if _, err := exec.LookPath("chromium"); err != nil {
		t.Fatalf("chromium missing (Debian package chromium, .ci/deps): %v", err)
	}
	return bin, filepath.Join(dir, "puppeteer.json")
}

// render runs mmdc on one block and returns the SVG it wrote.
func render(t *testing.T, bin, puppeteer, dir, name string, b block) []byte {
	t.Helper()
	in := filepath.Join(dir, name+".mmd")
	out := filepath.Join(dir, name+".svg")
	if err := os.WriteFile(in, []byte(b.source), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--quiet", "--puppeteerConfigFile", puppeteer, "--input", in, "--output", out, "--backgroundColor", "white")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s:%d (%s): mermaid block does not render: %v\n%s", b.file, b.line, b.heading, err, msg)
	}
	svg, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("%s:%d: mmdc wrote no SVG: %v", b.file, b.line, err)
	}
	return svg
}

// checkSVG fails unless svg looks like a rendering of b.
func checkSVG(t *testing.T, what string, svg []byte, b block) {
	t.Helper()
	if !strings.Contains(string(svg), "<svg") {
		t.Errorf("%s is not an SVG (%d bytes)", what, len(svg))
		return
	}
	label := firstLabel(b.source)
	if label == "" {
		t.Errorf("%s:%d: block has no node label or participant to check its SVG against", b.file, b.line)
		return
	}
	if !strings.Contains(string(svg), label) && !strings.Contains(string(svg), html.EscapeString(label)) {
		t.Errorf("%s does not mention %q, the first label of %s:%d", what, label, b.file, b.line)
	}
}

// TestMermaidBlocksRender renders every mermaid block of README.md and
// docs/*.md, and checks that each block of docs/diagrams.md has its SVG
// committed and linked. DIAGRAMS_UPDATE=1 rewrites the committed SVGs.
func TestMermaidBlocksRender(t *testing.T) {
	root := repoRoot(t)
	bin, puppeteer := mmdc(t, root)
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"README.md"}
	for _, d := range docs {
		files = append(files, filepath.Join("docs", filepath.Base(d)))
	}
	update := os.Getenv("DIAGRAMS_UPDATE") == "1"
	tmp := t.TempDir()
	var ofDiagrams []block
	for _, rel := range files {
		for i, b := range extract(t, root, rel) {
			name := fmt.Sprintf("%s-%02d", strings.ReplaceAll(strings.TrimSuffix(rel, ".md"), "/", "-"), i+1)
			svg := render(t, bin, puppeteer, tmp, name, b)
			checkSVG(t, fmt.Sprintf("rendering of %s:%d", rel, b.line), svg, b)
			if rel == filepath.Join("docs", "diagrams.md") {
				ofDiagrams = append(ofDiagrams, b)
				if update {
					if err := os.WriteFile(filepath.Join(root, "docs", "diagrams", svgName(i+1, b)), svg, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	if len(ofDiagrams) == 0 {
		t.Fatal("docs/diagrams.md has no mermaid blocks")
	}
	page, err := os.ReadFile(filepath.Join(root, "docs", "diagrams.md"))
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range ofDiagrams {
		name := svgName(i+1, b)
		committed, err := os.ReadFile(filepath.Join(root, "docs", "diagrams", name))
		if err != nil {
			t.Errorf("%s:%d: committed SVG missing (run make diagrams): %v", b.file, b.line, err)
			continue
		}
		checkSVG(t, "docs/diagrams/"+name, committed, b)
		if !strings.Contains(string(page), "(diagrams/"+name+")") {
			t.Errorf("docs/diagrams.md does not link diagrams/%s", name)
		}
	}
}
