package miniscylla_test

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/miniscylla/miniscyllatest"
	"github.com/outboxnode/outbox/infra/tlsfiles/tlstest"
)

const (
	testUser     = "outbox"
	testPassword = "s3cret-Pa55"
)

func authServer(t *testing.T, pki *tlstest.PKI, clientCA bool) *miniscylla.Server {
	t.Helper()
	cfg := miniscylla.Config{Users: miniscylla.Credentials{testUser: testPassword}}
	if pki != nil {
		cfg.TLS = pki.ServerConfig(t, clientCA)
	}
	return miniscyllatest.Start(t, cfg)
}

// connect opens a gocql session with opts, returning the error instead of failing.
func connect(t *testing.T, addr string, opts ...func(*gocql.ClusterConfig)) (*gocql.Session, error) {
	t.Helper()
	cluster := miniscyllatest.Cluster(t, addr)
	for _, o := range opts {
		o(cluster)
	}
	sess, err := cluster.CreateSession()
	if err == nil {
		t.Cleanup(sess.Close)
	}
	return sess, err
}

func withPassword(user, password string) func(*gocql.ClusterConfig) {
	return func(c *gocql.ClusterConfig) {
		c.Authenticator = gocql.PasswordAuthenticator{Username: user, Password: password}
	}
}

// TestGocqlPasswordAuth logs in through gocql: a wrong password, an unknown
// user and no credentials at all are refused with ScyllaDB's messages; the
// right ones work, and system_auth.roles lists the user with a salted hash.
func TestGocqlPasswordAuth(t *testing.T) {
	s := authServer(t, nil, false)
	for _, tc := range []struct {
		name string
		opt  func(*gocql.ClusterConfig)
		want string
	}{
		{"wrong password", withPassword(testUser, "wrong"), "Username and/or password are incorrect"},
		{"unknown user", withPassword("mallory", testPassword), "Username and/or password are incorrect"},
		{"no credentials", func(*gocql.ClusterConfig) {}, "authentication required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := connect(t, s.Addr(), tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("session error %v, want one containing %q", err, tc.want)
			}
			t.Logf("refused as expected: %v", err)
			if strings.Contains(err.Error(), testPassword) {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
	sess, err := connect(t, s.Addr(), withPassword(testUser, testPassword), func(c *gocql.ClusterConfig) { c.Compressor = gocql.SnappyCompressor{} })
	if err != nil {
		t.Fatalf("login with the right password: %v", err)
	}
	miniscyllatest.Exec(t, sess, "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
	miniscyllatest.Exec(t, sess, "CREATE TABLE ks.kv (k int PRIMARY KEY, v text)")
	miniscyllatest.Exec(t, sess, "INSERT INTO ks.kv (k, v) VALUES (?, ?)", 1, "one")
	var v string
	if err := sess.Query("SELECT v FROM ks.kv WHERE k = 1").Scan(&v); err != nil || v != "one" {
		t.Fatalf("read back %q, %v", v, err)
	}
	var (
		role, hash       string
		login, superuser bool
	)
	if err := sess.Query("SELECT role, can_login, is_superuser, salted_hash FROM system_auth.roles").Scan(&role, &login, &superuser, &hash); err != nil {
		t.Fatalf("system_auth.roles: %v", err)
	}
	if role != testUser || !login || !superuser || !strings.HasPrefix(hash, "$pbkdf2-sha256$") || strings.Contains(hash, testPassword) {
		t.Fatalf("system_auth.roles row: %q login=%v superuser=%v hash=%q", role, login, superuser, hash)
	}
	if _, err := sess.KeyspaceMetadata("system_auth"); err != nil {
		t.Fatalf("system_auth metadata: %v", err)
	}
}

// TestGocqlTLS connects gocql over TLS with host verification: with the
// right CA it works; a client that does not trust the CA, a plain-text
// client, and (when the server requires client certificates) a client
// without one are refused.
func TestGocqlTLS(t *testing.T) {
	files := tlstest.NewPKI(t)
	ssl := func(cert, key string) func(*gocql.ClusterConfig) {
		return func(c *gocql.ClusterConfig) {
			c.SslOpts = &gocql.SslOptions{CaPath: files.CA, CertPath: cert, KeyPath: key, EnableHostVerification: true}
		}
	}
	login := withPassword(testUser, testPassword)
	fast := func(c *gocql.ClusterConfig) { c.ConnectTimeout, c.Timeout = 3*time.Second, 3*time.Second }

	s := authServer(t, &files, false)
	sess, err := connect(t, s.Addr(), login, ssl("", ""))
	if err != nil {
		t.Fatalf("TLS session: %v", err)
	}
	var version string
	if err := sess.Query("SELECT release_version FROM system.local WHERE key = 'local'").Scan(&version); err != nil {
		t.Fatalf("query over TLS: %v", err)
	}
	if _, err := connect(t, s.Addr(), login, fast); err == nil {
		t.Fatal("a plain-text client connected to the TLS port")
	}
	untrusted := func(c *gocql.ClusterConfig) {
		c.SslOpts = &gocql.SslOptions{CaPath: tlstest.NewPKI(t).CA, EnableHostVerification: true}
	}
	if _, err := connect(t, s.Addr(), login, fast, untrusted); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a client with another CA: %v, want a certificate error", err)
	}

	mutual := authServer(t, &files, true)
	if _, err := connect(t, mutual.Addr(), login, fast, ssl("", "")); err == nil {
		t.Fatal("a client without a certificate connected to a server requiring one")
	}
	if _, err := connect(t, mutual.Addr(), login, ssl(files.Client.Cert, files.Client.Key)); err != nil {
		t.Fatalf("mutual TLS session: %v", err)
	}
}

// TestPythonDriverAuth logs in with the DataStax Python driver's
// PlainTextAuthProvider, over TLS: the wrong password is refused with
// AuthenticationFailed, the right one runs a query.
func TestPythonDriverAuth(t *testing.T) {
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import cassandra.cluster").CombinedOutput(); err != nil {
		t.Fatalf("the DataStax Python driver (Debian python3-cassandra) is missing: run `make deps`.\n%v: %s", err, out)
	}
	files := tlstest.NewPKI(t)
	s := authServer(t, &files, false)
	host, port, err := net.SplitHostPort(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		password, want string
	}{{"wrong", "refused: "}, {testPassword, "ok: "}} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		out, err := exec.CommandContext(ctx, python, "testdata/pydriver_auth.py", host, port, testUser, tc.password, files.CA).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("pydriver_auth.py: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), tc.want) {
			t.Fatalf("password %q: want %q in\n%s", tc.password, tc.want, out)
		}
		if tc.want == "refused: " && !strings.Contains(string(out), "Username and/or password are incorrect") {
			t.Fatalf("refusal does not say why:\n%s", out)
		}
		t.Logf("%s", out)
	}
}
