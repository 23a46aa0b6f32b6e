package harness

import (
	"regexp"
	"strings"
	"testing"
)

// TestUniqueNamesAreValidAndDistinct: every keyspace is a CQL identifier
// the node accepts, whatever the test name (subtests, long names, upper
// case, punctuation), and no two calls share a keyspace or topic prefix.
func TestUniqueNamesAreValidAndDistinct(t *testing.T) {
	identifier := regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)
	topicPrefix := regexp.MustCompile(`^t[0-9a-f]{8}\.$`)
	keyspaces, prefixes := map[string]bool{}, map[string]bool{}
	names := []string{
		"TestX",
		"TestTwoHundredOrdersLifecycle",
		"TestChaos/seed=42/phase #3",
		strings.Repeat("TestVeryLongName", 10),
		"Ünïcode-Ťest.name",
	}
	for range 200 {
		for _, name := range names {
			ks, prefix := UniqueNames(name)
			if !identifier.MatchString(ks) {
				t.Fatalf("keyspace %q of %q is not a valid keyspace name", ks, name)
			}
			if !topicPrefix.MatchString(prefix) {
				t.Fatalf("topic prefix %q of %q", prefix, name)
			}
			if keyspaces[ks] || prefixes[prefix] {
				t.Fatalf("keyspace %q or prefix %q given twice", ks, prefix)
			}
			keyspaces[ks], prefixes[prefix] = true, true
		}
	}
	if ks, _ := UniqueNames("TestTwoHundredOrdersLifecycle"); !strings.HasPrefix(ks, "t_testtwohundredorderslifecycle_") {
		t.Errorf("keyspace %q does not say which test it belongs to", ks)
	}
}

// TestNamesAreSharedWithinATest: the nodes one test starts (a restart, a
// second node) share its keyspace and topics; another test has its own.
func TestNamesAreSharedWithinATest(t *testing.T) {
	ks1, p1 := namesFor(t)
	ks2, p2 := namesFor(t)
	if ks1 != ks2 || p1 != p2 {
		t.Fatalf("one test got %q/%q then %q/%q", ks1, p1, ks2, p2)
	}
	t.Run("other", func(t *testing.T) {
		if ks, p := namesFor(t); ks == ks1 || p == p1 {
			t.Fatalf("a subtest shares its parent's names %q/%q", ks, p)
		}
	})
}
