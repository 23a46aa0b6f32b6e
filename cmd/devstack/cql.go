package main

import (
	"flag"
	"fmt"

	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/secret"
	"github.com/outboxnode/outbox/infra/tlsfiles"
)

// envCQLPassword holds the CQL password itself; set it or
// --cql-password-file, not both.
const envCQLPassword = "DEVSTACK_CQL_PASSWORD"

// cqlFlags are the CQL server's authentication, TLS and memory settings.
type cqlFlags struct {
	username     string
	passwordFile string
	tlsCert      string
	tlsKey       string
	tlsClientCA  string
	maxInFlight  int
}

func (c *cqlFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.username, "cql-username", "", "require clients to log in as this user (PasswordAuthenticator); needs --cql-password-file or "+envCQLPassword)
	fs.StringVar(&c.passwordFile, "cql-password-file", "", "file holding the password of --cql-username (first line)")
	fs.StringVar(&c.tlsCert, "cql-tls-cert", "", "PEM certificate: serve CQL over TLS only (with --cql-tls-key)")
	fs.StringVar(&c.tlsKey, "cql-tls-key", "", "PEM key of --cql-tls-cert")
	fs.StringVar(&c.tlsClientCA, "cql-tls-client-ca", "", "PEM CA that client certificates must chain to; set to require them")
	fs.IntVar(&c.maxInFlight, "cql-max-in-flight-bytes", miniscylla.DefaultMaxInFlightBytes, "bytes of CQL requests held at once across all connections")
}

// serverConfig turns the flags into the server's settings; getenv looks
// up envCQLPassword. Errors never contain the password.
func (c cqlFlags) serverConfig(getenv func(string) string) (miniscylla.Config, error) {
	cfg := miniscylla.Config{MaxInFlightBytes: c.maxInFlight}
	password, err := secret.Load(c.passwordFile, envCQLPassword, getenv)
	if err != nil {
		return cfg, fmt.Errorf("--cql-password-file: %w", err)
	}
	switch {
	case c.username != "" && password == "":
		return cfg, fmt.Errorf("--cql-username needs --cql-password-file or %s", envCQLPassword)
	case c.username == "" && password != "":
		return cfg, fmt.Errorf("a CQL password needs --cql-username")
	case c.username != "":
		cfg.Users = miniscylla.Credentials{c.username: password}
	}
	if c.tlsCert == "" && c.tlsKey == "" {
		if c.tlsClientCA != "" {
			return cfg, fmt.Errorf("--cql-tls-client-ca needs --cql-tls-cert and --cql-tls-key")
		}
		return cfg, nil
	}
	if cfg.TLS, err = tlsfiles.Server(tlsfiles.Files{Cert: c.tlsCert, Key: c.tlsKey, CA: c.tlsClientCA}); err != nil {
		return cfg, fmt.Errorf("CQL TLS: %w", err)
	}
	return cfg, nil
}
