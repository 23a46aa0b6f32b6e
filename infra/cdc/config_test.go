package cdc

import (
	"testing"
	"time"
)

// TestConfigDefaultsAndValidate: the required fields alone make a valid
// config once defaulted; each bad field is refused.
func TestConfigDefaultsAndValidate(t *testing.T) {
	c := Config{Keyspace: "ks", ChangeAgeLimit: time.Hour}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]func(*Config){
		"no keyspace":  func(c *Config) { c.Keyspace = "" },
		"no age limit": func(c *Config) { c.ChangeAgeLimit = 0 },
		"window":       func(c *Config) { c.InFlight = -1 },
		"delay":        func(c *Config) { c.PollDelay = -time.Second },
	} {
		b := c
		bad(&b)
		if err := b.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
