package miniscylla

import (
	"fmt"
	"strings"
	"time"

	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"
)

// The connection-level messages a driver sends before (and besides) its
// statements: OPTIONS, STARTUP and REGISTER.

// supported is the SUPPORTED answer to OPTIONS. The Scylla LWT marker makes
// gocql treat the node as Scylla (it then reads system.peers, not peers_v2);
// shard keys are left out because the server is a single shard.
var supported = &message.Supported{Options: map[string][]string{
	"CQL_VERSION":                  {"3.3.1"},
	"COMPRESSION":                  {"lz4", "snappy"},
	"PROTOCOL_VERSIONS":            {"4/v4"},
	"SCYLLA_LWT_ADD_METADATA_MARK": {"LWT_OPTIMIZATION_META_BIT_MASK=2147483648"},
}}

func (c *conn) startup(stream int16, m *message.Startup) error {
	if c.started {
		return &frameError{Version: wireVersion, Stream: stream, Msg: "unexpected message STARTUP, the connection is already initialized"}
	}
	var enc compressor
	if name := strings.ToLower(string(m.GetCompression())); name != "" && name != "none" {
		newComp, ok := compressors[name]
		if !ok {
			return &frameError{Version: wireVersion, Stream: stream, Msg: fmt.Sprintf("unknown compression algorithm %q", name)}
		}
		c.dec, enc = newComp(), newComp()
	}
	c.started = true
	// READY (or AUTHENTICATE) itself goes out uncompressed; compression
	// starts with the next frame.
	if c.srv.auth != nil {
		c.out <- response{stream: stream, msg: &message.Authenticate{Authenticator: passwordAuthenticator}, compressWith: enc}
		return nil
	}
	c.setReady()
	c.out <- response{stream: stream, msg: &message.Ready{}, compressWith: enc}
	return nil
}

// authenticate answers an AUTH_RESPONSE. A failed login leaves the
// connection waiting for another, within the handshake deadline.
func (c *conn) authenticate(stream int16, m *message.AuthResponse) {
	user, err := c.srv.auth.check(m.Token)
	if err != nil {
		c.log.Info("miniscylla login refused", "err", err)
		c.out <- response{stream: stream, msg: &message.AuthenticationError{ErrorMessage: err.Error()}}
		return
	}
	c.log.Debug("miniscylla login", "user", user)
	c.setReady()
	c.out <- response{stream: stream, msg: &message.AuthSuccess{}}
}

// setReady lets the connection send statements and lifts the handshake deadline.
func (c *conn) setReady() {
	c.ready = true
	c.handshakeDeadline = time.Time{}
	c.nc.SetReadDeadline(time.Time{})
}

func (c *conn) register(m *message.Register) {
	for _, t := range m.EventTypes {
		if t == primitive.EventTypeSchemaChange {
			c.evMu.Lock()
			c.evWanted = true
			c.evMu.Unlock()
		}
	}
}
