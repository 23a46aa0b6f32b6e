package miniscylla

import (
	"context"
	"testing"
	"time"

	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"

	"github.com/outboxnode/outbox/internal/poll"
)

func startAuthServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	cfg.Users = Credentials{"app": "pw"}
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// plainToken is a SASL PLAIN token with an empty authorization id.
func plainToken(user, password string) []byte {
	return []byte("\x00" + user + "\x00" + password)
}

// TestRequestsBeforeLogin walks the login handshake frame by frame: nothing
// but OPTIONS and AUTH_RESPONSE is served before AUTH_SUCCESS, a wrong or
// malformed login is an AUTHENTICATION_ERROR that leaves the connection
// open for another try, and after the login statements run.
func TestRequestsBeforeLogin(t *testing.T) {
	s := startAuthServer(t, Config{})
	c := dial(t, s.Addr())
	query := &message.Query{Query: "SELECT release_version FROM system.local", Options: &message.QueryOptions{Consistency: primitive.ConsistencyLevelOne}}

	if _, ok := c.roundTrip(1, query).(*message.ProtocolError); !ok {
		t.Fatal("QUERY before STARTUP not refused")
	}
	auth, ok := c.roundTrip(2, message.NewStartup()).(*message.Authenticate)
	if !ok || auth.Authenticator != "org.apache.cassandra.auth.PasswordAuthenticator" {
		t.Fatalf("STARTUP answered %v, want AUTHENTICATE PasswordAuthenticator", auth)
	}
	for i, req := range []message.Message{query, &message.Register{EventTypes: []primitive.EventType{primitive.EventTypeSchemaChange}},
		&message.Prepare{Query: "SELECT * FROM system.local"}, message.NewStartup()} {
		if resp, ok := c.roundTrip(int16(10+i), req).(*message.ProtocolError); !ok {
			t.Fatalf("%v before login answered %v, want PROTOCOL_ERROR", req.GetOpCode(), resp)
		}
	}
	if _, ok := c.roundTrip(3, &message.Options{}).(*message.Supported); !ok {
		t.Fatal("OPTIONS before login not answered")
	}
	for _, tok := range [][]byte{plainToken("app", "wrong"), plainToken("nobody", "pw"), []byte("app:pw"), nil} {
		resp, ok := c.roundTrip(4, &message.AuthResponse{Token: tok}).(*message.AuthenticationError)
		if !ok {
			t.Fatalf("bad login %q answered %v, want AUTHENTICATION_ERROR", tok, resp)
		}
	}
	if resp, ok := c.roundTrip(5, &message.AuthResponse{Token: plainToken("app", "pw")}).(*message.AuthSuccess); !ok {
		t.Fatalf("login answered %v, want AUTH_SUCCESS", resp)
	}
	if resp, ok := c.roundTrip(6, query).(*message.RowsResult); !ok {
		t.Fatalf("QUERY after login answered %v", resp)
	}
	if _, ok := c.roundTrip(7, &message.AuthResponse{Token: plainToken("app", "pw")}).(*message.ProtocolError); !ok {
		t.Fatal("a second login not refused")
	}
}

// TestHandshakeBounds: a connection that never gets ready is closed after
// HandshakeTimeout, and one that is not logged in cannot send a large frame.
func TestHandshakeBounds(t *testing.T) {
	s := startAuthServer(t, Config{HandshakeTimeout: 300 * time.Millisecond})
	idle := dial(t, s.Addr())
	idle.expectClosed()

	loggingIn := dial(t, s.Addr())
	if _, ok := loggingIn.roundTrip(1, message.NewStartup()).(*message.Authenticate); !ok {
		t.Fatal("STARTUP not answered with AUTHENTICATE")
	}
	loggingIn.expectClosed() // never sends AUTH_RESPONSE

	big := dial(t, s.Addr())
	big.write(rawFrame(0, 1, primitive.OpCodeQuery, handshakeFrameMax+1, nil))
	if _, ok := big.recv().Body.Message.(*message.ProtocolError); !ok {
		t.Fatal("a large frame before login not refused")
	}
	big.expectClosed()
}

// TestFrameTimeout: a ready connection that sends part of a header, or a
// header and then only part of the body, is closed after FrameTimeout, and
// the body's reservation of the in-flight budget is returned; a ready
// connection that sends nothing at all stays open.
func TestFrameTimeout(t *testing.T) {
	const timeout = time.Second
	s, err := Start(context.Background(), Config{Addr: "127.0.0.1:0", FrameTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	idle := dial(t, s.Addr())
	idle.startup()
	since := time.Now()

	halfHeader := dial(t, s.Addr())
	halfHeader.startup()
	halfHeader.write([]byte{4, 0, 0})
	halfHeader.expectClosed()

	halfBody := dial(t, s.Addr())
	halfBody.startup()
	halfBody.write(rawFrame(0, 2, primitive.OpCodeQuery, 1<<20, []byte("partial")))
	poll.Eventually(t, testTimeout, poll.True("the reservation", func() bool { return s.budget.inUse() == 1<<20 }))
	halfBody.expectClosed()
	poll.Eventually(t, testTimeout, poll.True("the reservation released", func() bool { return s.budget.inUse() == 0 }))

	poll.Eventually(t, testTimeout, poll.True("the idle connection to outlive FrameTimeout", func() bool { return time.Since(since) > 2*timeout }))
	if _, ok := idle.roundTrip(3, &message.Options{}).(*message.Supported); !ok {
		t.Fatal("an idle ready connection was not served")
	}
}
