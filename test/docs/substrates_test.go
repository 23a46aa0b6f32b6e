package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// embeddedOnlyHeader opens the table of embedded-only tests in docs/operations.md.
const embeddedOnlyHeader = "| test | why it is embedded-only |"

// backticked is one name in a table cell.
var backticked = regexp.MustCompile("`([^`]+)`")

// TestEmbeddedOnlyTableMatchesTheCode: the table of tests that skip on
// external services ("Running the suites against real services") names
// exactly the tests and benchmarks under test/ that call
// harness.EmbeddedOnly, so a reader running against real services knows
// what did not run.
func TestEmbeddedOnlyTableMatchesTheCode(t *testing.T) {
	documented := embeddedOnlyTable(t, readRepoFile(t, "docs/operations.md"))
	marked := embeddedOnlyCalls(t)
	if len(marked) == 0 {
		t.Fatal("no test under test/ calls harness.EmbeddedOnly")
	}
	for _, name := range marked {
		if !slices.Contains(documented, name) {
			t.Errorf("%s calls harness.EmbeddedOnly but docs/operations.md does not list it", name)
		}
	}
	for _, name := range documented {
		if !slices.Contains(marked, name) {
			t.Errorf("docs/operations.md lists %s as embedded-only, but no such test calls harness.EmbeddedOnly", name)
		}
	}
}

// embeddedOnlyTable returns the names of the table's first column as
// package/Name; a row's later names take the package of its first.
func embeddedOnlyTable(t *testing.T, doc string) []string {
	t.Helper()
	_, table, ok := strings.Cut(doc, embeddedOnlyHeader)
	if !ok {
		t.Fatalf("docs/operations.md lacks the table %q", embeddedOnlyHeader)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimLeft(table, "\n"), "\n")[1:] { // [1:] skips |---|
		if !strings.HasPrefix(line, "|") {
			break
		}
		cell := strings.Split(line, "|")[1]
		pkg := ""
		for _, m := range backticked.FindAllStringSubmatch(cell, -1) {
			name := m[1]
			if p, _, ok := strings.Cut(name, "/"); ok {
				pkg = p
			} else {
				name = pkg + "/" + name
			}
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		t.Fatal("the embedded-only table of docs/operations.md is empty")
	}
	return names
}

// embeddedOnlyCalls returns, as package/Name, the Test and Benchmark
// functions of the suites under test/ whose body calls harness.EmbeddedOnly.
func embeddedOnlyCalls(t *testing.T) []string {
	t.Helper()
	var names []string
	root := filepath.Join(repoRoot, "test")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		pkg := filepath.Base(filepath.Dir(path))
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || fn.Body == nil ||
				!(strings.HasPrefix(fn.Name.Name, "Test") || strings.HasPrefix(fn.Name.Name, "Benchmark")) {
				continue
			}
			if callsEmbeddedOnly(fn.Body) {
				names = append(names, pkg+"/"+fn.Name.Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read the suites under test/: %v", err)
	}
	return names
}

func callsEmbeddedOnly(body *ast.BlockStmt) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "EmbeddedOnly" {
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "harness" {
				found = true
			}
		}
		return !found
	})
	return found
}
