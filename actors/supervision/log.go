// Package supervision is the node's memory of its supervision tree: Observe and Strategy
// publish every start, stop, failure, restart, resume and escalation on the actor system's
// EventStream, and the Log actor appends them as JSON lines to a file and serves them to
// `outboxctl events` through EventsQuery.
package supervision

import (
	"cmp"
	"errors"
	"fmt"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
)

// Config configures the Log. Zero fields other than Path take defaults.
type Config struct {
	// Path is the log file, e.g. <data-dir>/supervision.log; created with its directory.
	Path string
	// Retain is how many recent events are kept in memory to answer queries.
	Retain int
	// MaxPage caps the events of one EventsPage.
	MaxPage int
	// Buffer is how many events may wait for the log actor, e.g. while it is not running;
	// later ones are dropped and counted (Log.Dropped).
	Buffer int
}

// Defaults of Config.
const (
	DefaultRetain  = 10_000
	DefaultMaxPage = 1000
	DefaultBuffer  = 10_000
)

// SetDefaults fills zero fields with the defaults.
func (c *Config) SetDefaults() {
	c.Retain = cmp.Or(c.Retain, DefaultRetain)
	c.MaxPage = cmp.Or(c.MaxPage, DefaultMaxPage)
	c.Buffer = cmp.Or(c.Buffer, DefaultBuffer)
}

// Validate reports a missing path and negative sizes.
func (c Config) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("path is required"))
	}
	if c.Retain < 0 || c.MaxPage < 0 || c.Buffer < 0 {
		errs = append(errs, fmt.Errorf("negative size (retain %d, max page %d, buffer %d)", c.Retain, c.MaxPage, c.Buffer))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("supervision log config: %w", err)
	}
	return nil
}

// Log subscribes to the EventStream as soon as it is created, so that the events of actors
// started before the log actor (the coordinator's own start, for one) are kept until the
// log actor runs. Create it before spawning the tree; Close it after the tree stopped.
type Log struct {
	sys *actor.ActorSystem
	cfg Config
	sub *eventstream.Subscription
	in  *inbox
}

// New validates cfg (after SetDefaults) and subscribes to sys's EventStream.
func New(sys *actor.ActorSystem, cfg Config) (*Log, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Log{sys: sys, cfg: cfg, in: &inbox{root: sys.Root, max: cfg.Buffer}}
	l.sub = sys.EventStream.Subscribe(l.handle)
	return l, nil
}

// Props returns the props of the log actor; spawn it once.
func (l *Log) Props() *actor.Props {
	return Observe(actor.PropsFromProducer(func() actor.Actor {
		return &logActor{cfg: l.cfg, in: l.in}
	}))
}

// Close unsubscribes from the EventStream.
func (l *Log) Close() {
	l.sys.EventStream.Unsubscribe(l.sub)
}

// Dropped returns how many events were lost because the log actor was not running and
// the buffer was full.
func (l *Log) Dropped() int {
	return l.in.droppedCount()
}

// handle runs synchronously on the publisher's goroutine (often inside a supervisor), so
// it only hands the event over.
func (l *Log) handle(evt any) {
	switch e := evt.(type) {
	case *Record:
		l.in.deliver(e)
	case *actor.SupervisorEvent:
		l.in.deliver(fromSupervisorEvent(e))
	}
}

// inbox holds records until the log actor takes them. It only signals the actor that
// records are waiting, so records are never lost in the mailbox of a log actor that is
// stopped (e.g. when the coordinator restarts and takes its children down with it).
type inbox struct {
	root      *actor.RootContext
	max       int
	mu        sync.Mutex
	pid       *actor.PID
	held      []*Record
	signalled bool
	dropped   int
}

// drain tells the log actor that records are waiting in its inbox.
type drain struct{}

func (in *inbox) deliver(r *Record) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.held) >= in.max {
		in.dropped++
		return
	}
	in.held = append(in.held, r)
	if in.pid != nil && !in.signalled {
		in.signalled = true
		// Sending into the unbounded mailbox does not block.
		in.root.Send(in.pid, drain{})
	}
}

// attach makes pid the receiver and returns the records waiting.
func (in *inbox) attach(pid *actor.PID) []*Record {
	in.mu.Lock()
	in.pid = pid
	in.mu.Unlock()
	return in.take()
}

// take returns the records waiting, oldest first.
func (in *inbox) take() []*Record {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.signalled = false
	held := in.held
	in.held = nil
	return held
}

func (in *inbox) detach() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.pid = nil
	in.signalled = false
}

func (in *inbox) droppedCount() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.dropped
}
