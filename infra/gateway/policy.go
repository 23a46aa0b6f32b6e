package gateway

import (
	"crypto/x509"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/outboxnode/outbox/messages"
)

// EntryActor is the node's single public actor: every client request goes
// to it and it routes the request to the child that handles it.
const EntryActor = "coordinator"

// Access is what a peer needs to send one message type.
type Access int

const (
	// Anyone admitted to the remote may send the message.
	Anyone Access = iota + 1
	// AdminOnly needs an admin peer: a client certificate whose subject is
	// in the admin list, or any peer when the node treats every peer as
	// admin (no TLS, remote on loopback only).
	AdminOnly
)

// Class is the kind of a connected peer; it selects the Rules that apply.
type Class int

const (
	// ClassClient is an API client such as outboxctl.
	ClassClient Class = iota
	// ClassMember is an authenticated cluster member (mTLS identity
	// accepted by Policy.IsMember). No node uses it yet: its Rules are
	// empty unless a Policy sets them.
	ClassMember
)

func (c Class) String() string {
	if c == ClassMember {
		return "member"
	}
	return "client"
}

// Rules are what one class of peer may send: for each local actor name the
// message types (proto full names) it accepts, and the access each needs.
// Anything not listed is refused.
type Rules map[string]map[protoreflect.FullName]Access

// Policy chooses, per connection, the Rules that apply to a peer.
type Policy struct {
	// Client applies to every peer that is not a member.
	Client Rules
	// Member applies to a peer whose verified certificate IsMember accepts.
	Member Rules
	// IsMember says whether a verified client certificate belongs to a
	// cluster member; nil means no peer is one.
	IsMember func(cert *x509.Certificate) bool
}

// classify returns the class of a peer from its verified certificate (nil
// without TLS: never a member).
func (p Policy) classify(cert *x509.Certificate) (Class, Rules) {
	if cert != nil && p.IsMember != nil && p.IsMember(cert) {
		return ClassMember, p.Member
	}
	return ClassClient, p.Client
}

// publicRequests is the public API, in one place: what outboxctl sends and
// the coordinator routes (orders, health, supervision, dlq) or handles
// itself (InjectFault). Changing what clients may do starts here.
var publicRequests = []struct {
	msg    proto.Message
	access Access
}{
	{&messages.CreateOrder{}, Anyone},
	{&messages.UpdateOrder{}, Anyone},
	{&messages.CancelOrder{}, Anyone},
	{&messages.GetOrder{}, Anyone},
	{&messages.HealthQuery{}, Anyone},
	{&messages.EventsQuery{}, Anyone},
	{&messages.DLQList{}, Anyone},
	{&messages.ClusterQuery{}, Anyone},
	{&messages.DLQReplay{}, AdminOnly},
	{&messages.DLQSkip{}, AdminOnly},
	{&messages.InjectFault{}, AdminOnly},
}

// PublicRules are the client Rules of the node: the public requests,
// addressed to EntryActor only.
func PublicRules() Rules {
	accepted := make(map[protoreflect.FullName]Access, len(publicRequests))
	for _, r := range publicRequests {
		accepted[proto.MessageName(r.msg)] = r.access
	}
	return Rules{EntryActor: accepted}
}

// DefaultPolicy admits API clients to the public requests and no cluster
// members.
func DefaultPolicy() Policy {
	return Policy{Client: PublicRules()}
}
