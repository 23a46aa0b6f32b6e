package miniscylla

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
)

// FuzzPlainToken feeds arbitrary SASL PLAIN tokens to the authenticator:
// no panic, a login only for the exact user and password, and an error
// that never echoes the token.
func FuzzPlainToken(f *testing.F) {
	a, err := newAuthenticator(Credentials{"app": "pw"})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{"\x00app\x00pw", "zid\x00app\x00pw", "\x00app\x00wrong", "app\x00pw", "", "\x00\x00", "\x00app\x00pw\x00"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, token []byte) {
		user, err := a.check(token)
		parts := bytes.Split(token, []byte{0})
		valid := len(parts) == 3 && string(parts[1]) == "app" && string(parts[2]) == "pw"
		if (err == nil) != valid || (err == nil && user != "app") {
			t.Fatalf("token %q: user %q, err %v", token, user, err)
		}
		if err != nil && len(token) > 3 && strings.Contains(err.Error(), string(token)) {
			t.Fatalf("error %q echoes the token", err)
		}
	})
}

func TestStoredPasswords(t *testing.T) {
	creds := Credentials{"b": "secret-b", "a": "secret-a"}
	for _, got := range []string{fmt.Sprint(Config{Users: creds}), fmt.Sprintf("%+v", &Config{Users: creds, TLS: &tls.Config{}})} {
		if strings.Contains(got, "secret") || !strings.Contains(got, "Users:{a:<redacted>, b:<redacted>}") {
			t.Fatalf("printed config: %s", got)
		}
	}
	a, err := newAuthenticator(creds)
	if err != nil {
		t.Fatal(err)
	}
	roles := a.roles()
	if len(roles) != 2 || roles[0].Name != "a" || roles[1].Name != "b" {
		t.Fatalf("roles %+v", roles)
	}
	// Two users with the same password still get different salts and hashes.
	b, err := newAuthenticator(Credentials{"a": "secret-a"})
	if err != nil {
		t.Fatal(err)
	}
	if h := b.roles()[0].SaltedHash; h == roles[0].SaltedHash || strings.Contains(h, "secret") {
		t.Fatalf("salted hash %q (other %q)", h, roles[0].SaltedHash)
	}
	if _, err := newAuthenticator(nil); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Credentials{{"": "pw"}, {"u": ""}, {"a\x00b": "pw"}} {
		if err := bad.validate(); err == nil {
			t.Errorf("users %q accepted", bad)
		}
	}
}
