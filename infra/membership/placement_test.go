package membership

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func addrs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("10.0.0.%d:6330", i+1)
	}
	return out
}

func TestAssignSpreadsEvenly(t *testing.T) {
	for n := 1; n <= 5; n++ {
		for k := 1; k <= 16; k++ {
			t.Run(fmt.Sprintf("n=%d/k=%d", n, k), func(t *testing.T) {
				members := addrs(n)
				got := Assign(k, members)
				if len(got) != k {
					t.Fatalf("%d shards placed, want %d", len(got), k)
				}
				counts := map[string]int{}
				for s := range k {
					m, ok := got[s]
					if !ok || !slices.Contains(members, m) {
						t.Fatalf("shard %d on %q, not a member", s, m)
					}
					counts[m]++
				}
				for _, m := range members {
					if c := counts[m]; c != k/n && c != (k+n-1)/n {
						t.Errorf("%s holds %d shards, want %d or %d", m, c, k/n, (k+n-1)/n)
					}
				}
			})
		}
	}
}

func TestAssignIsDeterministicUnderPermutation(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ n, k int }{{1, 1}, {2, 7}, {3, 16}, {5, 16}, {4, 64}} {
		want := Assign(tc.k, addrs(tc.n))
		for range 20 {
			members := addrs(tc.n)
			rng.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
			members = append(members, members[0]) // duplicates do not count
			if got := Assign(tc.k, members); !equal(got, want) {
				t.Fatalf("n=%d k=%d: placement of %v differs: %v, want %v", tc.n, tc.k, members, got, want)
			}
		}
	}
}

// TestAssignMovesFewShards bounds the shards that change owner when one
// member leaves or joins: at least the leaver's (or the joiner's) share must
// move; evening the counts may move at most that many again, plus one.
func TestAssignMovesFewShards(t *testing.T) {
	worst := 0.0
	for n := 2; n <= 6; n++ {
		for k := 1; k <= 64; k++ {
			all := addrs(n)
			before := Assign(k, all)
			for i := range all {
				rest := slices.Delete(slices.Clone(all), i, i+1)
				after := Assign(k, rest)
				share := (k + n - 1) / n
				bound := 2*share + 1
				moved := movedShards(before, after)
				if moved > bound {
					t.Errorf("n=%d k=%d: %s leaves, %d shards move, bound %d", n, k, all[i], moved, bound)
				}
				// Joining is the reverse move.
				if back := movedShards(after, before); back > bound {
					t.Errorf("n=%d k=%d: %s joins, %d shards move, bound %d", n-1, k, all[i], back, bound)
				}
				worst = max(worst, float64(moved)/float64(share))
			}
		}
	}
	t.Logf("worst moved/leaver share: %.2f", worst)
}

func TestAssignEmpty(t *testing.T) {
	if got := Assign(0, addrs(3)); len(got) != 0 {
		t.Errorf("0 shards: %v", got)
	}
	if got := Assign(4, nil); len(got) != 0 {
		t.Errorf("no members: %v", got)
	}
}

func movedShards(a, b map[int]string) int {
	moved := 0
	for s, m := range a {
		if b[s] != m {
			moved++
		}
	}
	return moved
}

func equal(a, b map[int]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
