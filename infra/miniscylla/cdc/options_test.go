package cdc

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]string
		want Options
	}{
		{"defaults", map[string]string{}, Options{TTL: 86400}},
		{"enabled", map[string]string{"enabled": "true"}, Options{Enabled: true, TTL: 86400}},
		{"case-insensitive keys and values", map[string]string{"ENABLED": "TRUE", "PostImage": "1"},
			Options{Enabled: true, Postimage: true, TTL: 86400}},
		{"numeric booleans", map[string]string{"enabled": "1", "preimage": "0"}, Options{Enabled: true, TTL: 86400}},
		{"preimage true", map[string]string{"preimage": "true"}, Options{Preimage: ImageChanged, TTL: 86400}},
		{"preimage full", map[string]string{"preimage": "full"}, Options{Preimage: ImageFull, TTL: 86400}},
		{"delta keys ttl 0", map[string]string{"delta": "keys", "ttl": "0"}, Options{Delta: DeltaKeys}},
		{"all", map[string]string{"enabled": "false", "preimage": "FULL", "postimage": "true", "delta": "full", "ttl": "2"},
			Options{Preimage: ImageFull, Postimage: true, TTL: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseOptions(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseOptionsRejects(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]string
		key  string
	}{
		{"unknown key", map[string]string{"enabled": "true", "colour": "blue"}, "colour"},
		{"bad bool", map[string]string{"enabled": "yes"}, "enabled"},
		{"postimage full", map[string]string{"postimage": "full"}, "postimage"},
		{"bad delta", map[string]string{"delta": "some"}, "delta"},
		{"negative ttl", map[string]string{"ttl": "-1"}, "ttl"},
		{"ttl not a number", map[string]string{"ttl": "1d"}, "ttl"},
		{"ttl overflow", map[string]string{"ttl": "99999999999"}, "ttl"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseOptions(tc.in)
			var cfgErr *ConfigError
			if !errors.As(err, &cfgErr) {
				t.Fatalf("got %v, want *ConfigError", err)
			}
			if cfgErr.Key != tc.key {
				t.Fatalf("error names key %q, want %q (%v)", cfgErr.Key, tc.key, err)
			}
		})
	}
}

func TestExtensionBytes(t *testing.T) {
	got := EncodeStringMap(map[string]string{"ttl": "2", "a": ""})
	want := []byte{
		2, 0, 0, 0,
		1, 0, 0, 0, 'a', 0, 0, 0, 0,
		3, 0, 0, 0, 't', 't', 'l', 1, 0, 0, 0, '2',
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got % x\nwant % x", got, want)
	}

	opts := Options{Enabled: true, Preimage: ImageFull, TTL: 600}
	m, err := DecodeStringMap(opts.Extension())
	if err != nil {
		t.Fatal(err)
	}
	wantMap := map[string]string{"enabled": "true", "preimage": "full", "postimage": "false", "delta": "full", "ttl": "600"}
	if !reflect.DeepEqual(m, wantMap) {
		t.Fatalf("decoded %v, want %v", m, wantMap)
	}
}

func TestDecodeStringMapRejectsGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, {1, 0}, {1, 0, 0, 0}, {1, 0, 0, 0, 9, 0, 0, 0, 'a', 0, 0, 0, 0}, {0, 0, 0, 0, 7}, {255, 255, 255, 255}} {
		if _, err := DecodeStringMap(b); !errors.Is(err, ErrBadExtension) {
			t.Errorf("DecodeStringMap(% x) = %v, want ErrBadExtension", b, err)
		}
	}
}
