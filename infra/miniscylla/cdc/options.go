package cdc

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ImageMode says whether and how pre-images are written.
type ImageMode int

// Pre-image modes: none, the changed columns only, or the whole row ('full').
const (
	ImageOff ImageMode = iota
	ImageChanged
	ImageFull
)

// DeltaMode says which columns delta rows carry.
type DeltaMode int

// Delta modes: every written column ('full', the default) or the key columns only.
const (
	DeltaFull DeltaMode = iota
	DeltaKeys
)

// DefaultTTL is the log TTL ScyllaDB uses when the options omit 'ttl' (24 h).
const DefaultTTL = 86400

// Options are the parsed `WITH cdc = {...}` table options.
type Options struct {
	Enabled   bool
	Preimage  ImageMode
	Postimage bool
	Delta     DeltaMode
	// TTL is the TTL in seconds of every log cell; 0 means no TTL.
	TTL int64
}

// DefaultOptions returns the options of a table without a cdc clause.
func DefaultOptions() Options {
	return Options{TTL: DefaultTTL}
}

// ConfigError reports invalid CDC options; the engine answers it with an
// Invalid or ConfigurationException error to the client.
type ConfigError struct {
	Key    string
	Value  string
	Reason string
}

// Error names the option, its value and why it was refused.
func (e *ConfigError) Error() string {
	if e.Key == "" {
		return "invalid cdc options: " + e.Reason
	}
	return fmt.Sprintf("invalid cdc option %q = %q: %s", e.Key, e.Value, e.Reason)
}

// ParseOptions parses the map literal of `WITH cdc = {...}`. Keys are
// case-insensitive; booleans accept true/false/1/0; 'preimage' also accepts
// 'full'. Unknown keys are rejected as ScyllaDB does. Omitted keys keep
// their defaults.
func ParseOptions(raw map[string]string) (Options, error) {
	opts := DefaultOptions()
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic error for several bad keys
	for _, k := range keys {
		v := raw[k]
		if err := opts.set(strings.ToLower(k), v); err != nil {
			return Options{}, err
		}
	}
	return opts, nil
}

func (o *Options) set(key, value string) error {
	lv := strings.ToLower(strings.TrimSpace(value))
	bad := func(reason string) error { return &ConfigError{Key: key, Value: value, Reason: reason} }
	switch key {
	case "enabled":
		b, ok := parseBool(lv)
		if !ok {
			return bad("expected true or false")
		}
		o.Enabled = b
	case "preimage":
		if lv == "full" {
			o.Preimage = ImageFull
			return nil
		}
		b, ok := parseBool(lv)
		if !ok {
			return bad("expected true, false or 'full'")
		}
		o.Preimage = ImageOff
		if b {
			o.Preimage = ImageChanged
		}
	case "postimage":
		b, ok := parseBool(lv)
		if !ok {
			return bad("expected true or false")
		}
		o.Postimage = b
	case "delta":
		switch lv {
		case "full":
			o.Delta = DeltaFull
		case "keys":
			o.Delta = DeltaKeys
		default:
			return bad("expected 'full' or 'keys'")
		}
	case "ttl":
		n, err := strconv.ParseInt(lv, 10, 32)
		if err != nil || n < 0 {
			return bad("expected a non-negative number of seconds")
		}
		o.TTL = n
	default:
		return bad("unknown option")
	}
	return nil
}

func parseBool(s string) (bool, bool) {
	switch s {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

// Map renders the options the way ScyllaDB's options::to_map does; these are
// the key/value pairs of the schema extension.
func (o Options) Map() map[string]string {
	pre := "false"
	switch o.Preimage {
	case ImageChanged:
		pre = "true"
	case ImageFull:
		pre = "full"
	}
	delta := "full"
	if o.Delta == DeltaKeys {
		delta = "keys"
	}
	return map[string]string{
		"enabled":   strconv.FormatBool(o.Enabled),
		"preimage":  pre,
		"postimage": strconv.FormatBool(o.Postimage),
		"delta":     delta,
		"ttl":       strconv.FormatInt(o.TTL, 10),
	}
}
