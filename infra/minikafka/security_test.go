package minikafka

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/infra/minikafka/minikafkatest"
	"github.com/outboxnode/outbox/infra/tlsfiles/tlstest"
)

// saslUsers has one user per mechanism.
var saslUsers = []User{
	{Mechanism: kafka.SASLPlain, Name: "alice", Password: "plain-pw"},
	{Mechanism: kafka.SASLSCRAMSHA256, Name: "bob", Password: "scram256-pw"},
	{Mechanism: kafka.SASLSCRAMSHA512, Name: "carol", Password: "scram512-pw"},
}

// secured returns a sarama config with sec applied the node's way.
func secured(t *testing.T, sec kafka.Security) *sarama.Config {
	t.Helper()
	c := idempotentConfig()
	c.Metadata.Retry.Max = 0
	c.Net.DialTimeout = 10 * time.Second
	if err := sec.Apply(c); err != nil {
		t.Fatalf("apply security: %v", err)
	}
	return c
}

func TestSASLWithSarama(t *testing.T) {
	b := startBroker(t, Config{Users: saslUsers})
	for _, u := range saslUsers {
		t.Run(u.Mechanism, func(t *testing.T) {
			right := kafka.Security{SASL: kafka.SASL{Mechanism: u.Mechanism, Username: u.Name, Password: u.Password}}
			topic := "sasl." + u.Name
			p := syncProducer(t, b.Addr(), secured(t, right))
			if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(u.Mechanism)}); err != nil {
				t.Fatalf("produce as %s: %v", u.Name, err)
			}
			msgs := minikafkatest.ReadTopic(t, b.Addr(), topic, func(c *sarama.Config) {
				if err := right.Apply(c); err != nil {
					t.Fatal(err)
				}
			})
			if len(msgs) != 1 || string(msgs[0].Value) != u.Mechanism {
				t.Fatalf("read back %d records", len(msgs))
			}

			wrong := right
			wrong.SASL.Password = "not-" + u.Password
			if c, err := sarama.NewClient([]string{b.Addr()}, secured(t, wrong)); err == nil {
				c.Close()
				t.Fatal("client with a wrong password connected")
			} else if strings.Contains(err.Error(), wrong.SASL.Password.Reveal()) {
				t.Fatalf("error reveals the password: %v", err)
			}
		})
	}
	t.Run("no SASL", func(t *testing.T) {
		if c, err := sarama.NewClient([]string{b.Addr()}, secured(t, kafka.Security{})); err == nil {
			c.Close()
			t.Fatal("client without SASL connected")
		}
	})
}

// TestSASLPlainEmptyPasswordRefused: kfake would take any unknown user
// with an empty PLAIN password; the broker closes such a connection. The
// handshake before it answers as Kafka does.
func TestSASLPlainEmptyPasswordRefused(t *testing.T) {
	b := startBroker(t, Config{Users: saslUsers})
	c := dial(t, b.Addr())
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version = 1
	hs.Mechanism = kafka.SASLPlain
	if _, err := c.Write(requestFrame(hs, 1)); err != nil {
		t.Fatal(err)
	}
	_, body, err := readResponse(c, 30*time.Second)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	// Kafka lists the enabled mechanisms in every handshake answer
	// (kafkajs needs it); kfake only on failure, the gate adds them.
	hsResp := hs.ResponseKind().(*kmsg.SASLHandshakeResponse)
	if err := hsResp.ReadFrom(body); err != nil || hsResp.ErrorCode != 0 ||
		!slices.Equal(hsResp.SupportedMechanisms, []string{kafka.SASLPlain, kafka.SASLSCRAMSHA256, kafka.SASLSCRAMSHA512}) {
		t.Fatalf("handshake answer %+v, err %v; want success listing the three mechanisms", hsResp, err)
	}
	auth := kmsg.NewPtrSASLAuthenticateRequest()
	auth.SASLAuthBytes = []byte("\x00nobody\x00")
	if _, err := c.Write(requestFrame(auth, 2)); err != nil {
		t.Fatal(err)
	}
	awaitClosed(t, c)
}

func kcat(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(kcatPath(t), args...).CombinedOutput()
	return string(out), err
}

func TestSASLWithKcat(t *testing.T) {
	b := startBroker(t, Config{Users: saslUsers, Topics: []string{"kcat.sasl"}})
	for _, u := range saslUsers[:2] {
		t.Run(u.Mechanism, func(t *testing.T) {
			// -m bounds kcat's wait for metadata: with a wrong password it
			// retries until then.
			args := func(password, wait string) []string {
				return []string{"-b", b.Addr(), "-L", "-t", "kcat.sasl", "-m", wait,
					"-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=" + u.Mechanism,
					"-X", "sasl.username=" + u.Name, "-X", "sasl.password=" + password}
			}
			out, err := kcat(t, args(u.Password.Reveal(), "30")...)
			if err != nil || !strings.Contains(out, `topic "kcat.sasl" with 3 partitions`) {
				t.Fatalf("kcat with the right password: %v\n%s", err, out)
			}
			out, err = kcat(t, args("wrong", "2")...)
			if err == nil || strings.Contains(out, `topic "kcat.sasl"`) {
				t.Fatalf("kcat with a wrong password listed the topic (err %v):\n%s", err, out)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	files := tlstest.NewPKI(t)
	b := startBroker(t, Config{TLS: files.ServerConfig(t, false), Users: saslUsers[1:2]})
	sec := kafka.Security{
		TLS:  kafka.TLS{CAFile: files.CA},
		SASL: kafka.SASL{Mechanism: saslUsers[1].Mechanism, Username: saslUsers[1].Name, Password: saslUsers[1].Password},
	}
	p := syncProducer(t, b.Addr(), secured(t, sec))
	if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "tls", Value: sarama.StringEncoder("v")}); err != nil {
		t.Fatalf("produce over TLS: %v", err)
	}

	other := tlstest.NewPKI(t) // a CA that did not sign the broker's certificate
	sec.TLS.CAFile = other.CA
	if c, err := sarama.NewClient([]string{b.Addr()}, secured(t, sec)); err == nil {
		c.Close()
		t.Fatal("client trusting another CA connected")
	}
	sec.TLS = kafka.TLS{}
	if c, err := sarama.NewClient([]string{b.Addr()}, secured(t, sec)); err == nil {
		c.Close()
		t.Fatal("plaintext client connected to the TLS port")
	}

	out, err := kcat(t, "-b", b.Addr(), "-L", "-m", "10", "-X", "security.protocol=SASL_SSL", "-X", "ssl.ca.location="+files.CA,
		"-X", "sasl.mechanisms="+saslUsers[1].Mechanism, "-X", "sasl.username="+saslUsers[1].Name, "-X", "sasl.password="+saslUsers[1].Password.Reveal())
	if err != nil || !strings.Contains(out, `topic "tls"`) {
		t.Fatalf("kcat over SASL_SSL: %v\n%s", err, out)
	}
}
