package docs

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/outboxnode/outbox/infra/config"
)

// TestReadmeListsEveryNodeFlag checks that the README's configuration
// table has one row per flag of outbox-node, and no row for a flag it lacks.
func TestReadmeListsEveryNodeFlag(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	start := strings.Index(readme, "\n## Configuration")
	if start < 0 {
		t.Fatal("README.md has no Configuration section")
	}
	section := readme[start+1:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	row := regexp.MustCompile("(?m)^\\| `--([a-z0-9-]+)`")
	var listed []string
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		listed = append(listed, m[1])
	}
	want := config.FlagNames()
	for _, name := range want {
		if !slices.Contains(listed, name) {
			t.Errorf("README.md Configuration: no row for --%s", name)
		}
	}
	for _, name := range listed {
		if !slices.Contains(want, name) {
			t.Errorf("README.md Configuration: row for --%s, which outbox-node does not have", name)
		}
	}
	if !slices.IsSorted(listed) {
		t.Errorf("README.md Configuration: rows not sorted by flag name: %v", listed)
	}
}
