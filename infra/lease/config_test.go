package lease

import (
	"errors"
	"testing"
	"time"
)

func TestConfigDefaultsAndValidate(t *testing.T) {
	c := Config{Keyspace: "ks", Owner: "n1", Shards: 4}
	c.SetDefaults()
	if c.TTL != DefaultTTL || c.ProgressTTL != DefaultProgressTTL || c.RenewInterval() != DefaultTTL/3 {
		t.Fatalf("defaults = %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"keyspace":     func(c *Config) { c.Keyspace = "" },
		"owner":        func(c *Config) { c.Owner = "" },
		"shards":       func(c *Config) { c.Shards = 0 },
		"ttl":          func(c *Config) { c.TTL = -time.Second },
		"progress ttl": func(c *Config) { c.ProgressTTL = time.Millisecond },
	} {
		bad := c
		mut(&bad)
		if err := bad.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v, want ErrInvalidConfig", name, err)
		}
	}
}
