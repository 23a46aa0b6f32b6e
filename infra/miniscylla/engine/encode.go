package engine

import (
	"encoding/binary"
	"math"
	"net"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// Small encoders for values the engine produces itself (system tables,
// function results).

func encText(s string) []byte { return []byte(s) }

func encInt(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

func encBigint(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

func encDouble(v float64) []byte { return binary.BigEndian.AppendUint64(nil, math.Float64bits(v)) }

func encUUID(u uuid.UUID) []byte { return slices.Clone(u[:]) }

func encBool(v bool) []byte {
	if v {
		return []byte{1}
	}
	return []byte{0}
}

func encInet(ip net.IP) []byte {
	if v4 := ip.To4(); v4 != nil {
		return []byte(v4)
	}
	return []byte(ip.To16())
}

// encTextSet encodes a set<text> (sorted, as sets are).
func encTextSet(items ...string) []byte {
	s := slices.Clone(items)
	slices.Sort(s)
	return encTextList(s...)
}

func encTextList(items ...string) []byte {
	enc := make([][]byte, len(items))
	for i, it := range items {
		enc[i] = []byte(it)
	}
	return encodeCollection(len(items), enc)
}

// encTextMap encodes a map<text, text> with sorted keys.
func encTextMap(m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, strings.Compare)
	items := make([][]byte, 0, 2*len(keys))
	for _, k := range keys {
		items = append(items, []byte(k), []byte(m[k]))
	}
	return encodeCollection(len(keys), items)
}

// encBlobMap encodes a map<text, blob> with sorted keys.
func encBlobMap(m map[string][]byte) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	items := make([][]byte, 0, 2*len(keys))
	for _, k := range keys {
		items = append(items, []byte(k), m[k])
	}
	return encodeCollection(len(keys), items)
}
