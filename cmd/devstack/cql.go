package main

import (
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/outboxnode/outbox/infra/cliflags"
	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/secret"
	"github.com/outboxnode/outbox/infra/tlsfiles"
)

// passwordFlag names the variable that holds the CQL password itself
// (OUTBOX_SCYLLA_PASSWORD, as on the node); set it or --scylla-password-file,
// not both.
const passwordFlag = "scylla-password"

// cqlFlags are the CQL server's authentication, TLS and memory settings.
type cqlFlags struct {
	username     string
	passwordFile string
	tlsCert      string
	tlsKey       string
	tlsClientCA  string
	maxInFlight  int
}

// flags returns the CQL flags over c; env gives each its variable.
func (c *cqlFlags) flags(env func(string) cli.ValueSourceChain) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "scylla-username", Destination: &c.username, Sources: env("scylla-username"),
			Usage: "require clients to log in as this user (PasswordAuthenticator); needs --scylla-password-file or " + cliflags.EnvName(passwordFlag)},
		&cli.StringFlag{Name: "scylla-password-file", Destination: &c.passwordFile, Sources: env("scylla-password-file"), TakesFile: true,
			Usage: "file holding the password of --scylla-username (first line)"},
		&cli.StringFlag{Name: "embedded-cql-tls-cert", Destination: &c.tlsCert, Sources: env("embedded-cql-tls-cert"), TakesFile: true,
			Usage: "PEM certificate: serve CQL over TLS only (with --embedded-cql-tls-key)"},
		&cli.StringFlag{Name: "embedded-cql-tls-key", Destination: &c.tlsKey, Sources: env("embedded-cql-tls-key"), TakesFile: true,
			Usage: "PEM key of --embedded-cql-tls-cert"},
		&cli.StringFlag{Name: "embedded-cql-tls-client-ca", Destination: &c.tlsClientCA, Sources: env("embedded-cql-tls-client-ca"), TakesFile: true,
			Usage: "PEM CA that client certificates must chain to; set to require them"},
		&cli.IntFlag{Name: "embedded-cql-max-in-flight-bytes", Value: miniscylla.DefaultMaxInFlightBytes, Destination: &c.maxInFlight,
			Sources: env("embedded-cql-max-in-flight-bytes"), Usage: "bytes of CQL requests held at once across all connections"},
	}
}

// serverConfig turns the flags into the server's settings; getenv looks
// up the password variable. Errors never contain the password.
func (c cqlFlags) serverConfig(getenv func(string) string) (miniscylla.Config, error) {
	cfg := miniscylla.Config{MaxInFlightBytes: c.maxInFlight}
	envPassword := cliflags.EnvName(passwordFlag)
	password, err := secret.Load(c.passwordFile, envPassword, getenv)
	if err != nil {
		return cfg, fmt.Errorf("--scylla-password-file: %w", err)
	}
	switch {
	case c.username != "" && password == "":
		return cfg, fmt.Errorf("--scylla-username needs --scylla-password-file or %s", envPassword)
	case c.username == "" && password != "":
		return cfg, fmt.Errorf("a CQL password needs --scylla-username")
	case c.username != "":
		cfg.Users = miniscylla.Credentials{c.username: password}
	}
	if c.tlsCert == "" && c.tlsKey == "" {
		if c.tlsClientCA != "" {
			return cfg, fmt.Errorf("--embedded-cql-tls-client-ca needs --embedded-cql-tls-cert and --embedded-cql-tls-key")
		}
		return cfg, nil
	}
	if cfg.TLS, err = tlsfiles.Server(tlsfiles.Files{Cert: c.tlsCert, Key: c.tlsKey, CA: c.tlsClientCA}); err != nil {
		return cfg, fmt.Errorf("--embedded-cql-tls-cert: %w", err)
	}
	return cfg, nil
}
