package membership

import (
	"hash/fnv"
	"slices"
	"sort"
)

// Assign places shards 0..shards-1 over members (cluster addresses) and
// returns shard -> member. It is a pure function of the member set, so every
// node computes the same placement from the same topology whatever the order
// or duplicates in members. Each member gets shards/n or shards/n+1 shards.
//
// Every (shard, member) pair gets a rendezvous score; pairs are taken best
// score first and a shard goes to the first member in that order that still
// has room. A member's best pairs stay its own when another member joins or
// leaves, so few shards move: mostly the leaver's shards, or the shards the
// joiner wins, plus the few needed to even the counts again.
func Assign(shards int, members []string) map[int]string {
	ms := slices.Clone(members)
	slices.Sort(ms)
	ms = slices.Compact(ms)
	out := make(map[int]string, max(shards, 0))
	if shards <= 0 || len(ms) == 0 {
		return out
	}
	type pair struct {
		score  uint64
		shard  int
		member int
	}
	pairs := make([]pair, 0, shards*len(ms))
	for m, name := range ms {
		base := hashString(name)
		for s := range shards {
			pairs = append(pairs, pair{score: mix(base ^ mix(uint64(s)+1)), shard: s, member: m})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		a, b := pairs[i], pairs[j]
		if a.score != b.score {
			return a.score > b.score
		}
		if a.shard != b.shard {
			return a.shard < b.shard
		}
		return a.member < b.member
	})
	// floor members hold exactly floor shards, the first extra members to
	// reach floor+1 take the remainder: the counts sum to shards only then.
	floor, extra := shards/len(ms), shards%len(ms)
	counts := make([]int, len(ms))
	for _, p := range pairs {
		if _, done := out[p.shard]; done {
			continue
		}
		limit := floor
		if extra > 0 {
			limit = floor + 1
		}
		if counts[p.member] >= limit {
			continue
		}
		out[p.shard] = ms[p.member]
		counts[p.member]++
		if counts[p.member] == floor+1 {
			extra--
		}
		if len(out) == shards {
			break
		}
	}
	return out
}

func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// mix is splitmix64's finaliser: FNV alone spreads neighbouring shard
// numbers poorly.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
