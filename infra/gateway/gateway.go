// Package gateway guards the node's Proto.Actor remote port, the boundary
// where outboxctl's commands enter the data path (outboxctl -> remote ->
// gateway -> coordinator). protoactor delivers any registered message to
// any local actor and panics on malformed envelopes; the gateway is a gRPC
// interceptor that inspects every envelope before protoactor's endpoint
// reader decodes it and lets through only the public API (Policy), sent to
// the coordinator by a peer that declared its reply address. Admin-only
// requests need an admin peer (mTLS common name in the admin list); the
// sender is answered CommandRejected PERMISSION_DENIED. Everything else is
// dropped, counted by reason and logged at a bounded rate. Panics in the
// remote's handlers are recovered, and the unimplemented unary RPCs answer
// codes.Unimplemented. TLS builds the mutual-TLS credentials of both ends.
// Config.Members guards a cluster's private remote the same way, except
// that members may reach any actor with any registered type.
package gateway

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/outboxnode/outbox/messages"
)

// Reasons of a refusal, the values of remote_rejected_total's label.
const (
	ReasonUnknownType      = "unknown_type"      // type name not linked into the node
	ReasonInternalType     = "internal_type"     // a node type that is not public (PublishEvent, EventAck, DLQStore, ...)
	ReasonSystemMessage    = "system_message"    // protoactor's own messages (PoisonPill, Stop, Watch, Terminated, ...)
	ReasonTarget           = "target"            // not the entry actor, another address, or a request id
	ReasonSender           = "sender"            // a sender outside the address the peer declared
	ReasonBadIndex         = "bad_index"         // type, target or sender index out of range
	ReasonSerializer       = "serializer"        // serializer other than protobuf (0)
	ReasonMalformed        = "malformed"         // payload that does not decode as its type, or a broken envelope
	ReasonHandshake        = "handshake"         // a batch before the peer declared its address, or a bad declaration
	ReasonTLS              = "tls"               // a failed TLS handshake: plaintext, no client certificate, another CA
	ReasonPermissionDenied = "permission_denied" // an admin-only request from a peer that is not admin
	ReasonUnimplemented    = "unimplemented"     // unary RPCs and unknown methods
	ReasonPanic            = "panic"             // a remote handler panicked (recovered)
)

// receiveMethod is the one RPC that carries actor messages.
const receiveMethod = "/remote.Remoting/Receive"

// Counter counts refusals by reason (remote_rejected_total).
type Counter interface {
	RemoteRejected(reason string)
}

// Replier sends a message to a PID through the actor system (the root
// context): how a refused sender is told why.
type Replier interface {
	Send(pid *actor.PID, message any)
}

// Config configures a Gateway.
type Config struct {
	// Address is the node's advertised remote address: the only address a
	// target PID may carry.
	Address string
	// Policy says what each class of peer may send; DefaultPolicy when
	// Policy.Client is nil.
	Policy Policy
	// TLS, when set, makes the remote require mutual TLS; the admin check
	// then reads the peer's certificate. Nil serves plaintext.
	TLS *TLS
	// Admins are the common names (CN) of the client certificates allowed
	// admin-only requests; the CA decides who holds such a certificate.
	Admins []string
	// AdminWithoutTLS treats every peer as admin when TLS is off; set it
	// only when the remote listens on loopback.
	AdminWithoutTLS bool
	// Members guards a cluster's private remote instead of the public one:
	// every peer is a member, and may send any registered message to any
	// actor at Address, requests and replies included (grains, futures,
	// the cluster's own actors), so Policy does not apply. The envelope
	// checks that keep protoactor from panicking or relaying still do:
	// indexes, serializer, a payload that decodes as its type, the target
	// address and the declared sender. Who is a member is decided by the
	// network or, with TLS, by holding a certificate of the CA.
	Members bool
	Counter Counter
	Replier Replier
	Logger  *slog.Logger
}

// Gateway holds the interceptors' state; its methods are safe for
// concurrent use by gRPC's goroutines.
type Gateway struct {
	cfg    Config
	warn   *limiter
	public map[protoreflect.FullName]protoreflect.MessageType // every type some rule accepts
}

// SetDefaults sets the policy to DefaultPolicy when it has no client rules.
func (c *Config) SetDefaults() {
	if c.Policy.Client == nil {
		c.Policy = DefaultPolicy()
	}
}

// Validate reports the first missing or inconsistent setting.
func (c Config) Validate() error {
	switch {
	case c.Address == "":
		return fmt.Errorf("gateway: empty address")
	case c.Counter == nil || c.Replier == nil || c.Logger == nil:
		return fmt.Errorf("gateway: Counter, Replier and Logger are required")
	case len(c.Admins) > 0 && c.TLS == nil:
		return fmt.Errorf("gateway: admin subjects need TLS")
	case c.Members && (len(c.Admins) > 0 || c.AdminWithoutTLS || c.Policy.Member != nil):
		return fmt.Errorf("gateway: a members' remote has no admins and no per-actor rules")
	}
	return nil
}

// New validates cfg (after SetDefaults) and returns a Gateway.
func New(cfg Config) (*Gateway, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg, warn: newLimiter(10, time.Second), public: map[protoreflect.FullName]protoreflect.MessageType{}}
	for _, rules := range []Rules{cfg.Policy.Client, cfg.Policy.Member} {
		for _, accepted := range rules {
			for name := range accepted {
				mt, err := protoregistry.GlobalTypes.FindMessageByName(name)
				if err != nil {
					return nil, fmt.Errorf("gateway: policy names %s: %w", name, err)
				}
				g.public[name] = mt
			}
		}
	}
	return g, nil
}

// ServerOptions are the gRPC options that install the gateway and its TLS
// credentials, for remote.WithServerOptions.
func (g *Gateway) ServerOptions() []grpc.ServerOption {
	opts := []grpc.ServerOption{grpc.StreamInterceptor(g.stream), grpc.UnaryInterceptor(g.unary)}
	if g.cfg.TLS != nil {
		opts = append(opts, grpc.Creds(countedHandshakes{credentials.NewTLS(g.cfg.TLS.server), g}))
	}
	return opts
}

// countedHandshakes counts and logs the TLS handshakes the server refuses,
// which gRPC would otherwise close silently.
type countedHandshakes struct {
	credentials.TransportCredentials
	g *Gateway
}

func (c countedHandshakes) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	out, info, err := c.TransportCredentials.ServerHandshake(conn)
	if err != nil {
		c.g.refuse(peerInfo{addr: conn.RemoteAddr().String()}, ReasonTLS, "detail", err.Error())
	}
	return out, info, err
}

func (c countedHandshakes) Clone() credentials.TransportCredentials {
	return countedHandshakes{c.TransportCredentials.Clone(), c.g}
}

// unary answers every unary RPC (ListProcesses, GetProcessDiagnostics:
// protoactor panics in both) with Unimplemented, without calling it.
func (g *Gateway) unary(ctx context.Context, _ any, info *grpc.UnaryServerInfo, _ grpc.UnaryHandler) (any, error) {
	g.refuse(peerOf(ctx), ReasonUnimplemented, "method", info.FullMethod)
	return nil, status.Errorf(codes.Unimplemented, "%s is not served", info.FullMethod)
}

// stream runs protoactor's Receive handler over a stream whose messages the
// gateway filters, and turns a panic in it into an error for this stream
// only.
func (g *Gateway) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	p := peerOf(ss.Context())
	if info.FullMethod != receiveMethod {
		g.refuse(p, ReasonUnimplemented, "method", info.FullMethod)
		return status.Errorf(codes.Unimplemented, "%s is not served", info.FullMethod)
	}
	defer func() {
		if r := recover(); r != nil {
			g.cfg.Counter.RemoteRejected(ReasonPanic)
			g.cfg.Logger.Error("remote handler panicked; stream closed", "peer", p.addr, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = status.Error(codes.Internal, "internal error")
		}
	}()
	var rules Rules
	p.class, rules = g.cfg.Policy.classify(p.cert)
	s := &guardedStream{ServerStream: ss, g: g, peer: p, rules: rules, admin: g.isAdmin(p.cert)}
	return handler(srv, s)
}

// isAdmin tells whether a peer may send admin-only requests.
func (g *Gateway) isAdmin(cert *x509.Certificate) bool {
	if g.cfg.TLS == nil {
		return g.cfg.AdminWithoutTLS
	}
	if cert == nil {
		return false
	}
	return cert.Subject.CommonName != "" && slices.Contains(g.cfg.Admins, cert.Subject.CommonName)
}

// peerInfo is what the gateway knows of the other end of a stream.
type peerInfo struct {
	addr  string
	cert  *x509.Certificate // verified leaf certificate; nil without TLS
	class Class
}

func (p peerInfo) subject() string {
	if p.cert == nil {
		return ""
	}
	return p.cert.Subject.String()
}

func peerOf(ctx context.Context) peerInfo {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return peerInfo{}
	}
	info := peerInfo{addr: p.Addr.String()}
	if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.VerifiedChains) > 0 && len(ti.State.PeerCertificates) > 0 {
		info.cert = ti.State.PeerCertificates[0]
	}
	return info
}

// refuse counts and logs (rate-limited) one refusal. Strings that come
// from the peer are cut short.
func (g *Gateway) refuse(p peerInfo, reason string, attrs ...any) {
	g.cfg.Counter.RemoteRejected(reason)
	ok, suppressed := g.warn.allow(time.Now())
	if !ok {
		return
	}
	args := append([]any{"reason", reason, "peer", p.addr, "class", p.class.String()}, attrs...)
	if s := p.subject(); s != "" {
		args = append(args, "subject", clip(s))
	}
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	for i := 1; i < len(args); i += 2 {
		if s, ok := args[i].(string); ok {
			args[i] = clip(s)
		}
	}
	g.cfg.Logger.Warn("remote message refused", args...)
}

// clip bounds a peer-controlled string in a log line.
func clip(s string) string {
	const most = 120
	if len(s) > most {
		return s[:most] + "..."
	}
	return s
}

// guardedStream is one peer's Receive stream, filtered.
type guardedStream struct {
	grpc.ServerStream
	g     *Gateway
	peer  peerInfo
	rules Rules
	admin bool
	// declared is the address the peer gave in its ConnectRequest: replies
	// go there, so every sender PID must carry it.
	declared string
}

// RecvMsg reads messages until one may reach protoactor: a refused message
// is dropped, a batch loses its refused envelopes (and is skipped when none
// remain).
func (s *guardedStream) RecvMsg(m any) error {
	for {
		if err := s.ServerStream.RecvMsg(m); err != nil {
			return err
		}
		msg, ok := m.(*remote.RemoteMessage)
		if !ok {
			return status.Error(codes.Internal, "unexpected message type on the remote stream")
		}
		if s.admit(msg) {
			return nil
		}
		proto.Reset(msg)
	}
}

// admit filters msg in place and says whether anything is left to deliver.
func (s *guardedStream) admit(msg *remote.RemoteMessage) bool {
	switch t := msg.MessageType.(type) {
	case *remote.RemoteMessage_ConnectRequest:
		return s.connect(t.ConnectRequest)
	case *remote.RemoteMessage_MessageBatch:
		if s.declared == "" {
			s.g.refuse(s.peer, ReasonHandshake, "detail", "message batch before ConnectRequest")
			return false
		}
		b := t.MessageBatch
		kept := b.Envelopes[:0]
		for _, env := range b.Envelopes {
			if s.envelope(b, env) {
				kept = append(kept, env)
			}
		}
		b.Envelopes = kept
		return len(kept) > 0
	default:
		s.g.refuse(s.peer, ReasonHandshake, "detail", fmt.Sprintf("unexpected %T", msg.MessageType))
		return false
	}
}

// connect admits one ServerConnection declaring a remote address other
// than the node's own.
func (s *guardedStream) connect(c *remote.ConnectRequest) bool {
	sc := c.GetServerConnection()
	switch {
	case s.declared != "":
		s.g.refuse(s.peer, ReasonHandshake, "detail", "second ConnectRequest")
	case sc == nil:
		s.g.refuse(s.peer, ReasonHandshake, "detail", "ConnectRequest without ServerConnection")
	case sc.GetAddress() == "" || sc.GetAddress() == s.g.cfg.Address:
		s.g.refuse(s.peer, ReasonHandshake, "detail", "declared address", "address", sc.GetAddress())
	default:
		s.declared = sc.GetAddress()
		return true
	}
	return false
}

// envelope checks one envelope of b; on refusal it is counted and logged,
// and a non-admin sender of an admin-only request is answered.
func (s *guardedStream) envelope(b *remote.MessageBatch, env *remote.MessageEnvelope) bool {
	reason, detail := s.check(b, env)
	if reason == "" {
		return true
	}
	attrs := describe(b, env)
	if detail != "" {
		attrs = append(attrs, "detail", detail)
	}
	s.g.refuse(s.peer, reason, attrs...)
	if reason == ReasonPermissionDenied {
		s.deny(b, env)
	}
	return false
}

// check returns the reason to refuse env and a detail, or "". It allocates
// nothing for an envelope it passes but the decoded copy of the payload.
func (s *guardedStream) check(b *remote.MessageBatch, env *remote.MessageEnvelope) (reason, detail string) {
	switch {
	case env == nil:
		return ReasonMalformed, "empty envelope"
	case env.TypeId < 0 || int(env.TypeId) >= len(b.TypeNames):
		return ReasonBadIndex, fmt.Sprintf("type id %d of %d names", env.TypeId, len(b.TypeNames))
	case env.Target < 0 || int(env.Target) >= len(b.Targets):
		return ReasonBadIndex, fmt.Sprintf("target %d of %d", env.Target, len(b.Targets))
	case env.Sender < 0 || int(env.Sender) > len(b.Senders):
		return ReasonBadIndex, fmt.Sprintf("sender %d of %d", env.Sender, len(b.Senders))
	case env.SerializerId != 0:
		return ReasonSerializer, fmt.Sprintf("serializer %d", env.SerializerId)
	}
	name := protoreflect.FullName(b.TypeNames[env.TypeId])
	target := b.Targets[env.Target]
	mt, access, reason := s.admitType(name, target, env)
	if reason != "" {
		return reason, ""
	}
	if env.Sender > 0 && b.Senders[env.Sender-1].GetAddress() != s.declared {
		return ReasonSender, "declared " + s.declared
	}
	if err := proto.Unmarshal(env.MessageData, mt.New().Interface()); err != nil {
		return ReasonMalformed, err.Error()
	}
	if access == AdminOnly && !s.admin {
		return ReasonPermissionDenied, ""
	}
	return "", ""
}

// admitType returns the type of a message to target and the access it
// needs, or the reason to refuse it: on the public remote the Rules decide;
// on a members' remote any registered type to any actor at the address.
func (s *guardedStream) admitType(name protoreflect.FullName, target *actor.PID, env *remote.MessageEnvelope) (protoreflect.MessageType, Access, string) {
	if target.GetAddress() != s.g.cfg.Address {
		return nil, 0, ReasonTarget
	}
	if s.g.cfg.Members {
		mt, err := protoregistry.GlobalTypes.FindMessageByName(name)
		if err != nil {
			return nil, 0, ReasonUnknownType
		}
		return mt, Anyone, ""
	}
	mt, ok := s.g.public[name]
	if !ok {
		return nil, 0, typeReason(name)
	}
	if target.GetRequestId() != 0 || env.TargetRequestId != 0 {
		return nil, 0, ReasonTarget
	}
	access, ok := s.rules[target.GetId()][name]
	if !ok {
		return nil, 0, ReasonTarget
	}
	return mt, access, ""
}

// describe names what a refused envelope carried, as far as its indexes
// are valid.
func describe(b *remote.MessageBatch, env *remote.MessageEnvelope) []any {
	var attrs []any
	if env == nil {
		return attrs
	}
	if env.TypeId >= 0 && int(env.TypeId) < len(b.TypeNames) {
		attrs = append(attrs, "type", b.TypeNames[env.TypeId])
	}
	if env.Target >= 0 && int(env.Target) < len(b.Targets) {
		t := b.Targets[env.Target]
		attrs = append(attrs, "target", t.GetId(), "target_address", t.GetAddress())
	}
	if env.Sender > 0 && int(env.Sender) <= len(b.Senders) {
		attrs = append(attrs, "sender_address", b.Senders[env.Sender-1].GetAddress())
	}
	return attrs
}

// typeReason names why a type outside the policy is refused.
func typeReason(name protoreflect.FullName) string {
	if _, err := protoregistry.GlobalTypes.FindMessageByName(name); err != nil {
		return ReasonUnknownType
	}
	switch name.Parent() {
	case "actor", "remote", "cluster":
		return ReasonSystemMessage
	}
	return ReasonInternalType
}

// deny answers the sender of a refused admin-only request, so that the
// client fails at once with a typed error instead of timing out.
func (s *guardedStream) deny(b *remote.MessageBatch, env *remote.MessageEnvelope) {
	if env.Sender == 0 {
		return
	}
	sender := proto.Clone(b.Senders[env.Sender-1]).(*actor.PID)
	if env.SenderRequestId > 0 {
		sender.RequestId = env.SenderRequestId
	}
	reason := fmt.Sprintf("%s is an admin operation; ", b.TypeNames[env.TypeId])
	if s.g.cfg.TLS != nil {
		reason += "this client certificate's common name is not in the node's --remote-admin list"
	} else {
		reason += "without TLS the node allows it only while its remote listens on loopback"
	}
	s.g.cfg.Replier.Send(sender, &messages.CommandRejected{Code: messages.RejectCode_REJECT_CODE_PERMISSION_DENIED, Reason: reason})
}
