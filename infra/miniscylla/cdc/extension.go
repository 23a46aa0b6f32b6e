package cdc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// ExtensionKey is the key of the CDC entry in the base table's
// system_schema.tables.extensions map.
const ExtensionKey = "cdc"

// ErrBadExtension reports extension bytes that are not a valid encoded map.
var ErrBadExtension = errors.New("malformed cdc schema extension")

// Extension returns the value stored under extensions['cdc'] of the base
// table: a little-endian uint32 entry count, then each key and value as a
// little-endian uint32 length and UTF-8 bytes (ScyllaDB's cdc_extension).
// Keys are written sorted so the bytes are deterministic.
func (o Options) Extension() []byte {
	return EncodeStringMap(o.Map())
}

// EncodeStringMap encodes m in the schema-extension map format.
func EncodeStringMap(m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	size := 4
	for k, v := range m {
		keys = append(keys, k)
		size += 8 + len(k) + len(v)
	}
	sort.Strings(keys)
	out := make([]byte, 0, size)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(m)))
	for _, k := range keys {
		out = appendString(out, k)
		out = appendString(out, m[k])
	}
	return out
}

func appendString(out []byte, s string) []byte {
	out = binary.LittleEndian.AppendUint32(out, uint32(len(s)))
	return append(out, s...)
}

// DecodeStringMap decodes the schema-extension map format.
func DecodeStringMap(b []byte) (map[string]string, error) {
	n, rest, err := readUint32(b)
	if err != nil {
		return nil, err
	}
	if uint64(n) > uint64(len(rest))/8 {
		return nil, fmt.Errorf("%w: %d entries in %d bytes", ErrBadExtension, n, len(rest))
	}
	m := make(map[string]string, n)
	for i := uint32(0); i < n; i++ {
		var k, v string
		if k, rest, err = readString(rest); err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		if v, rest, err = readString(rest); err != nil {
			return nil, fmt.Errorf("value %d: %w", i, err)
		}
		m[k] = v
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadExtension, len(rest))
	}
	return m, nil
}

func readUint32(b []byte) (uint32, []byte, error) {
	if len(b) < 4 {
		return 0, nil, fmt.Errorf("%w: truncated length", ErrBadExtension)
	}
	return binary.LittleEndian.Uint32(b), b[4:], nil
}

func readString(b []byte) (string, []byte, error) {
	n, rest, err := readUint32(b)
	if err != nil {
		return "", nil, err
	}
	if uint64(n) > uint64(len(rest)) {
		return "", nil, fmt.Errorf("%w: string of %d bytes in %d", ErrBadExtension, n, len(rest))
	}
	return string(rest[:n]), rest[n:], nil
}
