package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	// symbolRef is the walkthrough's marked form for code: `path/file.go: Name` or
	// `path/file.go: Type.method` (the space after the colon may be a line break).
	symbolRef = regexp.MustCompile("`([a-z0-9_./-]+\\.go):\\s+([A-Za-z_]\\w*)(?:\\.([A-Za-z_]\\w*))?`")
	// excerpt is a quote from the code: a marker comment naming the file, then a go fence.
	excerpt = regexp.MustCompile("(?s)<!-- excerpt: ([a-z0-9_./-]+\\.go) -->\n```go\n(.*?)```")
	// goFence counts every go fence, so that none escapes the check by lacking its marker.
	goFence = regexp.MustCompile("(?m)^```go$")
)

func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatalf("read %s: %v", rel, err)
	}
	return string(b)
}

// declares reports whether the Go file declares name (a function, type, var or const) or,
// with method set, the method method of type name.
func declares(f *ast.File, name, method string) bool {
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if method == "" && d.Recv == nil && d.Name.Name == name {
				return true
			}
			if method != "" && d.Recv != nil && d.Name.Name == method && receiverType(d.Recv.List[0].Type) == name {
				return true
			}
		case *ast.GenDecl:
			if method != "" {
				continue
			}
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					if s.Name.Name == name {
						return true
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.Name == name {
							return true
						}
					}
				}
			}
		}
	}
	return false
}

// receiverType names a method's receiver type without its pointer or type parameters.
func receiverType(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}

// trimLines drops each line's leading whitespace and trailing spaces, and blank lines at the ends.
func trimLines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		out = append(out, strings.TrimRight(strings.TrimLeft(l, " \t"), " \t\r"))
	}
	return out
}

// containsRun reports whether want appears in have as consecutive lines.
func containsRun(have, want []string) bool {
	for i := 0; i+len(want) <= len(have); i++ {
		match := true
		for j := range want {
			if have[i+j] != want[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

func TestWalkthroughMatchesCode(t *testing.T) {
	doc := readRepoFile(t, "docs/walkthrough.md")
	fset := token.NewFileSet()
	parsed := map[string]*ast.File{}
	parse := func(rel string) *ast.File {
		if f, ok := parsed[rel]; ok {
			return f
		}
		f, err := parser.ParseFile(fset, filepath.Join(repoRoot, rel), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Errorf("walkthrough names %s: %v", rel, err)
		}
		parsed[rel] = f
		return f
	}

	refs := symbolRef.FindAllStringSubmatch(doc, -1)
	if len(refs) < 20 {
		t.Fatalf("found %d `file.go: Symbol` references in docs/walkthrough.md, want at least 20 (has the marked form changed?)", len(refs))
	}
	for _, m := range refs {
		file, name, method := m[1], m[2], m[3]
		f := parse(file)
		if f != nil && !declares(f, name, method) {
			t.Errorf("walkthrough names %s but %s declares no such symbol", strings.Join(strings.Fields(m[0]), " "), file)
		}
	}

	quotes := excerpt.FindAllStringSubmatch(doc, -1)
	if fences := len(goFence.FindAllString(doc, -1)); fences != len(quotes) {
		t.Errorf("docs/walkthrough.md has %d go fences but %d of them follow an <!-- excerpt: file.go --> marker; every quote must name its file", fences, len(quotes))
	}
	if len(quotes) < 10 {
		t.Fatalf("found %d excerpts in docs/walkthrough.md, want at least 10", len(quotes))
	}
	for _, m := range quotes {
		file, body := m[1], m[2]
		if parse(file) == nil {
			continue
		}
		if !containsRun(trimLines(readRepoFile(t, file)), trimLines(body)) {
			t.Errorf("excerpt of %s no longer appears in it verbatim:\n%s", file, body)
		}
	}
}

func TestDocsIndexLinksEveryDoc(t *testing.T) {
	index := readRepoFile(t, "docs/README.md")
	docs, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		name := filepath.Base(d)
		if name != "README.md" && !strings.Contains(index, "]("+name+")") {
			t.Errorf("docs/README.md does not link docs/%s", name)
		}
	}
	for _, name := range []string{"tutorial.md", "architecture.md", "operations.md", "faq.md", "miniscylla.md", "minikafka.md", "walkthrough.md", "diagrams.md"} {
		if !strings.Contains(index, "]("+name+")") {
			t.Errorf("docs/README.md does not link %s", name)
		}
	}
	readme := readRepoFile(t, "README.md")
	for _, link := range []string{"](docs/README.md)", "](docs/walkthrough.md)", "](docs/diagrams.md)"} {
		if !strings.Contains(readme, link) {
			t.Errorf("README.md has no link %s", link)
		}
	}
}
