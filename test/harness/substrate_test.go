package harness

import (
	"fmt"
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

// fakeTB records what EmbeddedOnly and StartingEmbedded ask of a test.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Skipf(format string, a ...any)  { f.skipped = fmt.Sprintf(format, a...) }
func (f *fakeTB) Fatalf(format string, a ...any) { f.failed = fmt.Sprintf(format, a...) }

// TestSubstrateFromEnvironment: with no external address everything runs
// embedded; with either one set, embedded-only tests skip naming the
// variable and their reason, starting an embedded server fails the test,
// Describe names the external service, and readers get a wider window.
func TestSubstrateFromEnvironment(t *testing.T) {
	t.Setenv(EnvScylla, "")
	t.Setenv(EnvKafka, "")
	embeddedWindow := CDCConfidenceWindow()
	f := &fakeTB{}
	EmbeddedOnly(f, "needs the twin")
	StartingEmbedded(f, "a devstack")
	if f.skipped != "" || f.failed != "" {
		t.Fatalf("embedded run: skipped %q, failed %q", f.skipped, f.failed)
	}
	if d := Describe(); !strings.Contains(d, "miniscylla (embedded)") || !strings.Contains(d, "minikafka (embedded)") {
		t.Errorf("embedded run described as %q", d)
	}

	for _, env := range []string{EnvScylla, EnvKafka} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, "192.0.2.1:9999")
			f := &fakeTB{}
			EmbeddedOnly(f, "needs the twin")
			if !strings.Contains(f.skipped, env+`="192.0.2.1:9999"`) || !strings.Contains(f.skipped, "needs the twin") {
				t.Errorf("EmbeddedOnly skipped with %q", f.skipped)
			}
			StartingEmbedded(f, "a devstack")
			if !strings.Contains(f.failed, "a devstack") || !strings.Contains(f.failed, "EmbeddedOnly") {
				t.Errorf("StartingEmbedded failed with %q", f.failed)
			}
			if d := Describe(); !strings.Contains(d, env+"=192.0.2.1:9999 (external)") {
				t.Errorf("external run described as %q", d)
			}
		})
	}

	t.Setenv(EnvScylla, "192.0.2.1:9042")
	if w := CDCConfidenceWindow(); w <= embeddedWindow {
		t.Errorf("confidence window on an external store %s, not wider than the embedded %s", w, embeddedWindow)
	}
}
