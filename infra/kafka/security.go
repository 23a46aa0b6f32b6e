package kafka

import (
	"crypto/tls"
	"fmt"

	"github.com/IBM/sarama"
	"github.com/xdg-go/scram"

	"github.com/outboxnode/outbox/infra/secret"
	"github.com/outboxnode/outbox/infra/tlsfiles"
)

// SASL mechanisms a client authenticates with.
const (
	SASLPlain       = "PLAIN"
	SASLSCRAMSHA256 = "SCRAM-SHA-256"
	SASLSCRAMSHA512 = "SCRAM-SHA-512"
)

// SASL is the authentication of the connections to the brokers. An empty
// Mechanism means none.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512. PLAIN sends the
	// password as is: use it over TLS only.
	Mechanism string
	Username  string
	Password  secret.Secret
}

// TLS is the encryption of the connections to the brokers; the zero value
// is plaintext.
type TLS struct {
	// Enabled turns TLS on; setting any file below turns it on as well.
	Enabled bool
	// CAFile is a PEM bundle of the CAs that sign the brokers'
	// certificates; empty means the system roots.
	CAFile string
	// CertFile and KeyFile are the client certificate and key (PEM) for
	// brokers that require one; both or neither.
	CertFile, KeyFile string
	// InsecureSkipVerify accepts any broker certificate: tests only.
	InsecureSkipVerify bool
}

// On reports whether connections use TLS.
func (t TLS) On() bool {
	return t.Enabled || t.CAFile != "" || t.CertFile != "" || t.KeyFile != ""
}

// Config builds the client TLS configuration, reading the files.
func (t TLS) Config() (*tls.Config, error) {
	verify := tlsfiles.VerifyFull
	if t.InsecureSkipVerify {
		verify = tlsfiles.VerifyNone
	}
	c, err := tlsfiles.Client(tlsfiles.Files{CA: t.CAFile, Cert: t.CertFile, Key: t.KeyFile}, verify)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	return c, nil
}

// Security is how a client connects to the brokers: SASL and TLS.
type Security struct {
	SASL SASL
	TLS  TLS
}

// Validate reports the first invalid setting; it never prints the password.
func (s Security) Validate() error {
	if err := s.SASL.Validate(); err != nil {
		return err
	}
	return s.TLS.Validate()
}

// Validate reports a mechanism without credentials or the reverse; it
// never prints the password.
func (s SASL) Validate() error {
	switch s.Mechanism {
	case "":
		if s.Username != "" || s.Password != "" {
			return fmt.Errorf("%w: SASL username or password without a mechanism", ErrInvalidConfig)
		}
	case SASLPlain, SASLSCRAMSHA256, SASLSCRAMSHA512:
		if s.Username == "" || s.Password == "" {
			return fmt.Errorf("%w: SASL %s needs a username and a password", ErrInvalidConfig, s.Mechanism)
		}
	default:
		return fmt.Errorf("%w: SASL mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", ErrInvalidConfig, s.Mechanism)
	}
	return nil
}

// Validate reports a client certificate without its key or the reverse.
func (t TLS) Validate() error {
	if (t.CertFile == "") != (t.KeyFile == "") {
		return fmt.Errorf("%w: TLS client certificate and key go together", ErrInvalidConfig)
	}
	return nil
}

// Apply sets c's SASL and TLS settings, reading the TLS files.
func (s Security) Apply(c *sarama.Config) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if s.TLS.On() {
		tc, err := s.TLS.Config()
		if err != nil {
			return err
		}
		c.Net.TLS.Enable, c.Net.TLS.Config = true, tc
	}
	if s.SASL.Mechanism == "" {
		return nil
	}
	c.Net.SASL.Enable = true
	c.Net.SASL.Handshake = true
	c.Net.SASL.Mechanism = sarama.SASLMechanism(s.SASL.Mechanism)
	c.Net.SASL.User = s.SASL.Username
	c.Net.SASL.Password = s.SASL.Password.Reveal()
	switch s.SASL.Mechanism {
	case SASLSCRAMSHA256:
		c.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: scram.SHA256} }
	case SASLSCRAMSHA512:
		c.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: scram.SHA512} }
	}
	return nil
}

// scramClient runs one SCRAM exchange for sarama.
type scramClient struct {
	hash scram.HashGeneratorFcn
	conv *scram.ClientConversation
}

var _ sarama.SCRAMClient = (*scramClient)(nil)

func (s *scramClient) Begin(user, password, authzID string) error {
	c, err := s.hash.NewClient(user, password, authzID)
	if err != nil {
		return fmt.Errorf("scram client for %s: %w", user, err)
	}
	s.conv = c.NewConversation()
	return nil
}

func (s *scramClient) Step(challenge string) (string, error) { return s.conv.Step(challenge) }

func (s *scramClient) Done() bool { return s.conv.Done() }
