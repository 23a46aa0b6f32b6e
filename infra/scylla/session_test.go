package scylla_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/miniscylla/miniscyllatest"
	"github.com/outboxnode/outbox/infra/scylla"
	"github.com/outboxnode/outbox/infra/scylla/scyllatest"
	"github.com/outboxnode/outbox/infra/tlsfiles/tlstest"
)

const (
	storeUser     = "outbox"
	storePassword = "Correct-Horse-9"
)

// TestConnectWithAuthAndTLS connects the node's session to a miniscylla
// that requires a login and mutual TLS: the right settings migrate the
// schema and commit through it; a wrong password or a missing client
// certificate fail with errors that say why and never show the password,
// neither in the error nor in the driver's log.
func TestConnectWithAuthAndTLS(t *testing.T) {
	pki := tlstest.NewPKI(t)
	srv := miniscyllatest.Start(t, miniscylla.Config{Users: miniscylla.Credentials{storeUser: storePassword}, TLS: pki.ServerConfig(t, true)})
	good := scyllatest.Config()
	good.Username, good.Password = storeUser, storePassword
	good.TLS = config.StoreTLS{CAFile: pki.CA, CertFile: pki.Client.Cert, KeyFile: pki.Client.Key}

	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	session, err := scylla.Connect(t.Context(), good, []string{srv.Addr()}, logger)
	if err != nil {
		t.Fatalf("connect with credentials and TLS: %v", err)
	}
	defer session.Close()
	scyllatest.Migrate(t, session, good)

	wrong := good
	wrong.Password = "not-the-password"
	noCert := good
	noCert.TLS.CertFile, noCert.TLS.KeyFile = "", ""
	for _, tc := range []struct {
		name string
		cfg  config.Scylla
		want string
	}{
		{"wrong password", wrong, "Username and/or password are incorrect"},
		{"no client certificate", noCert, "certificate required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := scylla.Connect(t.Context(), tc.cfg, []string{srv.Addr()}, logger)
			if err == nil {
				s.Close()
				t.Fatal("connected")
			}
			t.Logf("refused as expected: %v", err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), tc.cfg.Password.Reveal()) {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
	if strings.Contains(log.String(), storePassword) || strings.Contains(log.String(), "not-the-password") {
		t.Fatalf("the driver log shows a password:\n%s", log.String())
	}
	for _, s := range []string{fmt.Sprint(good), fmt.Sprintf("%+v", good), fmt.Sprintf("%#v", good)} {
		if strings.Contains(s, storePassword) {
			t.Fatalf("printing the config shows the password: %s", s)
		}
	}
}

// TestSkipHostVerificationStillChecksTheChain dials the TLS port under a
// name the server's certificate does not carry, with the TLS configuration
// the session hands gocql: accepted with --scylla-tls-skip-host-verify and
// the right CA, refused with another CA or without the switch.
func TestSkipHostVerificationStillChecksTheChain(t *testing.T) {
	pki := tlstest.NewPKI(t)
	srv := miniscyllatest.Start(t, miniscylla.Config{TLS: pki.ServerConfig(t, false)})
	for _, tc := range []struct {
		ca       string
		skipHost bool
		ok       bool
	}{{pki.CA, true, true}, {tlstest.NewCA(t, "other").File, true, false}, {pki.CA, false, false}} {
		cfg := scyllatest.Config()
		cfg.TLS = config.StoreTLS{CAFile: tc.ca, SkipHostVerification: tc.skipHost}
		cluster, err := scylla.ClusterConfig(cfg, []string{srv.Addr()}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if cluster.SslOpts.EnableHostVerification == tc.skipHost {
			t.Fatalf("EnableHostVerification %v with skip %v", cluster.SslOpts.EnableHostVerification, tc.skipHost)
		}
		tlsCfg := cluster.SslOpts.Config.Clone()
		tlsCfg.ServerName = "not-the-server.example"
		conn, err := tls.Dial("tcp", srv.Addr(), tlsCfg)
		if (err == nil) != tc.ok {
			t.Fatalf("CA %s skip %v: dial error %v, want success %v", tc.ca, tc.skipHost, err, tc.ok)
		}
		if conn != nil {
			conn.Close()
		}
	}
}
