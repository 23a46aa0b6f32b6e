package minikafka

import (
	"bytes"
	"errors"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// everyRequest runs fix on every request with key before kfake handles it.
// fix may change the request; an error closes the connection unanswered.
//
// kfake keeps, per control function, the last request it ran on for each
// connection, and never forgets closed connections; a control kept for the
// broker's life would hold every connection it ever saw. So each run drops
// its control and registers a fresh one, which holds one entry.
func everyRequest(c *kfake.Cluster, key int16, fix func(kmsg.Request) error) {
	c.ControlKey(key, func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.DropControl()
		everyRequest(c, key, fix)
		if err := fix(req); err != nil {
			return nil, err, true
		}
		return nil, nil, false
	})
}

// allowAutoCreateBeforeV4 lets Metadata v0-v3 create topics: the field
// exists from v4 on, and Kafka treats older requests as allowing it
// (kafka-python 2.0.2 sends v1 and would wait for a topic forever).
func allowAutoCreateBeforeV4(req kmsg.Request) error {
	if m, ok := req.(*kmsg.MetadataRequest); ok && m.Version < 4 {
		m.AllowAutoTopicCreation = true
	}
	return nil
}

// errEmptyPassword closes a PLAIN authentication without a password.
var errEmptyPassword = errors.New("sasl plain: empty password")

// refuseEmptyPlainPassword refuses a PLAIN exchange ("authzid\x00user\x00
// password") whose password is empty: kfake compares it with the stored
// password of the user, which for an unknown user is "", so any name would
// pass. SCRAM messages have no NUL bytes and pass through.
func refuseEmptyPlainPassword(req kmsg.Request) error {
	a, ok := req.(*kmsg.SASLAuthenticateRequest)
	if !ok {
		return nil
	}
	if parts := bytes.Split(a.SASLAuthBytes, []byte{0}); len(parts) == 3 && len(parts[2]) == 0 {
		return errEmptyPassword
	}
	return nil
}
