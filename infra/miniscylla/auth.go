package miniscylla

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"github.com/outboxnode/outbox/infra/miniscylla/engine"
	"github.com/outboxnode/outbox/infra/secret"
)

// Password authentication, as ScyllaDB's PasswordAuthenticator does it: the
// server answers STARTUP with AUTHENTICATE naming the authenticator, the
// client sends a SASL PLAIN token in AUTH_RESPONSE, and the server answers
// AUTH_SUCCESS or an AUTHENTICATION_ERROR. Only then may the connection
// send statements or REGISTER.

const (
	// passwordAuthenticator is the class name drivers match to pick their
	// PLAIN authenticator (gocql's PasswordAuthenticator, the DataStax
	// drivers' PlainTextAuthProvider).
	passwordAuthenticator = "org.apache.cassandra.auth.PasswordAuthenticator"
	// authFailedMsg is ScyllaDB's answer to a wrong user or password.
	authFailedMsg = "Username and/or password are incorrect"
	// Passwords are kept as PBKDF2-SHA256 hashes; checking one costs about
	// a millisecond, which is paid once per connection.
	hashIterations = 4096
	hashLen        = 32
	saltLen        = 16
)

// Credentials maps user names to passwords. Its String form lists the user
// names only, so logging a Config never shows a password.
type Credentials map[string]secret.Secret

// String returns "{name:<redacted>, ...}" in name order.
func (c Credentials) String() string {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n+":<redacted>")
	}
	slices.Sort(names)
	return "{" + strings.Join(names, ", ") + "}"
}

// validate rejects empty names and passwords, and names with a NUL byte
// (the SASL PLAIN separator).
func (c Credentials) validate() error {
	for name, pw := range c {
		switch {
		case name == "" || strings.ContainsRune(name, 0):
			return &ConfigError{Field: "Users", Reason: fmt.Sprintf("bad user name %q", name)}
		case pw == "":
			return &ConfigError{Field: "Users", Reason: fmt.Sprintf("user %q has an empty password", name)}
		}
	}
	return nil
}

// saltedPassword is a password as stored: never the plaintext.
type saltedPassword struct {
	salt []byte
	hash []byte
}

func newSaltedPassword(password string) (saltedPassword, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return saltedPassword{}, fmt.Errorf("miniscylla: password salt: %w", err)
	}
	h, err := pbkdf2.Key(sha256.New, password, salt, hashIterations, hashLen)
	if err != nil {
		return saltedPassword{}, fmt.Errorf("miniscylla: hash password: %w", err)
	}
	return saltedPassword{salt: salt, hash: h}, nil
}

// matches hashes candidate with the stored salt and compares in constant time.
func (p saltedPassword) matches(candidate []byte) bool {
	h, err := pbkdf2.Key(sha256.New, string(candidate), p.salt, hashIterations, hashLen)
	return err == nil && subtle.ConstantTimeCompare(h, p.hash) == 1
}

// String is the salted_hash column of system_auth.roles.
func (p saltedPassword) String() string {
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$pbkdf2-sha256$i=%d$%s$%s", hashIterations, enc.EncodeToString(p.salt), enc.EncodeToString(p.hash))
}

// authenticator checks SASL PLAIN tokens against the configured users. It
// is immutable after newAuthenticator and safe for concurrent use.
type authenticator struct {
	users map[string]saltedPassword
	// decoy is hashed for unknown users, so that a wrong name costs the
	// same time as a wrong password and does not reveal which names exist.
	decoy saltedPassword
}

// newAuthenticator returns nil when users is empty: authentication is off.
func newAuthenticator(users Credentials) (*authenticator, error) {
	if len(users) == 0 {
		return nil, nil
	}
	a := &authenticator{users: make(map[string]saltedPassword, len(users))}
	var err error
	if a.decoy, err = newSaltedPassword("decoy"); err != nil {
		return nil, err
	}
	for name, pw := range users {
		if a.users[name], err = newSaltedPassword(pw.Reveal()); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// check verifies a SASL PLAIN token ("authzid NUL user NUL password", the
// authorization id ignored). It returns the user name, or an error message
// for AUTHENTICATION_ERROR that never echoes the token.
func (a *authenticator) check(token []byte) (string, error) {
	parts := bytes.Split(token, []byte{0})
	if len(parts) != 3 {
		return "", fmt.Errorf("malformed SASL PLAIN token: want authzid, user and password separated by NUL bytes")
	}
	name, password := string(parts[1]), parts[2]
	stored, known := a.users[name]
	if !known {
		stored = a.decoy
	}
	if !stored.matches(password) || !known {
		return "", fmt.Errorf("%s", authFailedMsg)
	}
	return name, nil
}

// roles lists the configured users as system_auth.roles rows: each can log
// in and is a superuser (there are no permissions to grant).
func (a *authenticator) roles() []engine.Role {
	if a == nil {
		return nil
	}
	out := make([]engine.Role, 0, len(a.users))
	for name, p := range a.users {
		out = append(out, engine.Role{Name: name, CanLogin: true, IsSuperuser: true, SaltedHash: p.String()})
	}
	slices.SortFunc(out, func(x, y engine.Role) int { return strings.Compare(x.Name, y.Name) })
	return out
}
