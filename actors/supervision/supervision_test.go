package supervision_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/outboxnode/outbox/actors/supervision"
	"github.com/outboxnode/outbox/infra/logtest"
	"github.com/outboxnode/outbox/internal/poll"
	"github.com/outboxnode/outbox/messages"
)

func newSystem(t *testing.T) *actor.ActorSystem {
	t.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	t.Cleanup(sys.Shutdown)
	return sys
}

// startLog creates the Log and spawns its actor, which the test stops at cleanup.
func startLog(t *testing.T, sys *actor.ActorSystem, path string) (*supervision.Log, *actor.PID) {
	t.Helper()
	return startLogWith(t, sys, supervision.Config{Path: path, MaxPage: 50})
}

// startLogWith is startLog with the Log's whole configuration.
func startLogWith(t *testing.T, sys *actor.ActorSystem, cfg supervision.Config) (*supervision.Log, *actor.PID) {
	t.Helper()
	l, err := supervision.New(sys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := sys.Root.SpawnNamed(l.Props(), "supervision")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = sys.Root.StopFuture(pid).Wait()
		l.Close()
	})
	return l, pid
}

func query(t *testing.T, sys *actor.ActorSystem, pid *actor.PID, q *messages.EventsQuery) *messages.EventsPage {
	t.Helper()
	res, err := sys.Root.RequestFuture(pid, q, 5*time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	page, ok := res.(*messages.EventsPage)
	if !ok {
		t.Fatalf("query %v: got %T %v", q, res, res)
	}
	return page
}

// waitForEvent polls the log until an event of actor with the given name appears.
func waitForEvent(t *testing.T, sys *actor.ActorSystem, pid *actor.PID, actorID, event string) *messages.SupervisionEvent {
	t.Helper()
	var found *messages.SupervisionEvent
	poll.Eventually(t, 5*time.Second, func() error {
		for _, ev := range query(t, sys, pid, &messages.EventsQuery{}).GetEvents() {
			if ev.GetActor() == actorID && ev.GetEvent() == event {
				found = ev
				return nil
			}
		}
		return fmt.Errorf("no %q event of %q in the log", event, actorID)
	})
	return found
}

// crasher panics on every string message.
type crasher struct{}

func (crasher) Receive(ctx actor.Context) {
	if s, ok := ctx.Message().(string); ok {
		panic(errors.New(s))
	}
}

// parent spawns one crasher child named "child" and forwards strings to it.
type parent struct{}

func (parent) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started:
		_, _ = ctx.SpawnNamed(supervision.Observe(actor.PropsFromProducer(func() actor.Actor { return crasher{} })), "child")
	case string:
		for _, c := range ctx.Children() {
			ctx.Forward(c)
		}
	}
}

func strategy(d actor.Directive) actor.SupervisorStrategy {
	return supervision.Strategy(actor.NewOneForOneStrategy(10, time.Minute, func(any) actor.Directive { return d }),
		supervision.Budget{Restarts: 10, Window: time.Minute})
}

func TestEachRestartIsLoggedWithReasonAndCount(t *testing.T) {
	logs, log := logtest.New()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return log }))
	t.Cleanup(sys.Shutdown)
	restarting, _ := sys.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return parent{} },
		actor.WithSupervisor(strategy(actor.RestartDirective))), "restarting")
	stopping, _ := sys.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return parent{} },
		actor.WithSupervisor(strategy(actor.StopDirective))), "stopping")
	sys.Root.Send(stopping, "boom-stop")
	sys.Root.Send(restarting, "boom-1")
	sys.Root.Send(restarting, "boom-2")
	var restarts []logtest.Line
	deadline := time.Now().Add(5 * time.Second)
	for len(restarts) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("restart lines %v, want 2; all: %v", restarts, logs.Lines())
		}
		time.Sleep(5 * time.Millisecond)
		restarts = restarts[:0]
		for _, l := range logs.Lines() {
			if l.Message == "actor restarted" {
				restarts = append(restarts, l)
			}
		}
	}
	for i, l := range restarts {
		if l.Level != slog.LevelWarn || l.Attrs["actor"].String() != "restarting/child" || l.Attrs["reason"].String() != fmt.Sprintf("boom-%d", i+1) ||
			l.Attrs["restarts"].Int64() != int64(i+1) || l.Attrs["budget"].Int64() != 10 {
			t.Errorf("restart line %d: %+v", i, l)
		}
	}
	if len(restarts) != 2 {
		t.Errorf("%d restart lines, want 2 (a stopped child is not restarted): %v", len(restarts), restarts)
	}
}

func TestRecordsLifecycleFailuresAndEscalations(t *testing.T) {
	sys := newSystem(t)
	path := filepath.Join(t.TempDir(), "data", "supervision.log")
	l, err := supervision.New(sys, supervision.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	// Started before the log actor: held by the Log until its actor runs.
	early, _ := sys.Root.SpawnNamed(supervision.Observe(actor.PropsFromProducer(func() actor.Actor { return crasher{} })), "early")
	logPID, _ := sys.Root.SpawnNamed(l.Props(), "supervision")
	defer func() {
		_ = sys.Root.StopFuture(logPID).Wait()
		l.Close()
	}()

	// Each parent applies one directive to its crashing child; escalating's guardian restarts it.
	restarting, _ := sys.Root.SpawnNamed(supervision.Observe(actor.PropsFromProducer(func() actor.Actor { return parent{} },
		actor.WithSupervisor(strategy(actor.RestartDirective)))), "restarting")
	stopping, _ := sys.Root.SpawnNamed(supervision.Observe(actor.PropsFromProducer(func() actor.Actor { return parent{} },
		actor.WithSupervisor(strategy(actor.StopDirective)))), "stopping")
	resuming, _ := sys.Root.SpawnNamed(supervision.Observe(actor.PropsFromProducer(func() actor.Actor { return parent{} },
		actor.WithSupervisor(strategy(actor.ResumeDirective)))), "resuming")
	escalating, _ := sys.Root.SpawnNamed(supervision.Observe(actor.PropsFromProducer(func() actor.Actor { return parent{} },
		actor.WithGuardian(strategy(actor.RestartDirective)),
		actor.WithSupervisor(strategy(actor.EscalateDirective)))), "escalating")

	waitForEvent(t, sys, logPID, early.Id, supervision.EventStarted)
	waitForEvent(t, sys, logPID, "supervision", supervision.EventStarted)

	sys.Root.Send(restarting, "boom-restart")
	ev := waitForEvent(t, sys, logPID, "restarting/child", supervision.EventRestarted)
	if ev.GetDirective() != "restart" || ev.GetReason() != "boom-restart" {
		t.Fatalf("restart event = %v", ev)
	}
	waitForEvent(t, sys, logPID, "restarting/child", supervision.EventFailed)

	sys.Root.Send(stopping, "boom-stop")
	waitForEvent(t, sys, logPID, "stopping/child", supervision.EventStoppedBySupervisor)
	waitForEvent(t, sys, logPID, "stopping/child", supervision.EventStopped)

	sys.Root.Send(resuming, "boom-resume")
	waitForEvent(t, sys, logPID, "resuming/child", supervision.EventResumed)

	sys.Root.Send(escalating, "boom-escalate")
	ev = waitForEvent(t, sys, logPID, "escalating/child", supervision.EventEscalated)
	if ev.GetReason() != "boom-escalate" || ev.GetDirective() != "escalate" {
		t.Fatalf("escalation event = %v", ev)
	}
	// The escalated failure restarts the parent, which stops and re-creates its child.
	waitForEvent(t, sys, logPID, "escalating", supervision.EventRestarted)

	// Every event is one JSON line of the file, numbered 1..n.
	page := query(t, sys, logPID, &messages.EventsQuery{})
	lines := readLines(t, path)
	if len(lines) < len(page.GetEvents()) || len(page.GetEvents()) == 0 {
		t.Fatalf("%d lines in the file, %d events served", len(lines), len(page.GetEvents()))
	}
	for i, l := range lines {
		if l["seq"] != float64(i+1) || l["actor"] == "" || l["event"] == "" || l["time"] == "" {
			t.Fatalf("line %d = %v", i+1, l)
		}
	}
	if l.Dropped() != 0 {
		t.Fatalf("%d events dropped", l.Dropped())
	}
}

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestEventsQueryPagesAndFilters(t *testing.T) {
	sys := newSystem(t)
	path := filepath.Join(t.TempDir(), "supervision.log")
	_, pid := startLog(t, sys, path)
	waitForEvent(t, sys, pid, "supervision", supervision.EventStarted) // seq 1

	old := time.Now().Add(-time.Hour)
	for i := range 3 {
		sys.EventStream.Publish(&supervision.Record{Time: old, Actor: "old", Event: supervision.EventFailed, Reason: string(rune('a' + i))})
	}
	for range 4 {
		sys.EventStream.Publish(&supervision.Record{Time: time.Now(), Actor: "new", Event: supervision.EventRestarted})
	}
	poll.Eventually(t, 5*time.Second, poll.True("8 events", func() bool { return query(t, sys, pid, &messages.EventsQuery{}).GetLastSeq() == 8 }))

	page := query(t, sys, pid, &messages.EventsQuery{AfterSeq: 1, Limit: 2})
	if len(page.GetEvents()) != 2 || page.GetEvents()[0].GetSeq() != 2 || page.GetLastSeq() != 3 || !page.GetHasMore() {
		t.Fatalf("first page = %v", page)
	}
	page = query(t, sys, pid, &messages.EventsQuery{AfterSeq: page.GetLastSeq(), Limit: 100})
	if len(page.GetEvents()) != 5 || page.GetEvents()[0].GetReason() != "c" || page.GetLastSeq() != 8 || page.GetHasMore() {
		t.Fatalf("second page = %v", page)
	}
	page = query(t, sys, pid, &messages.EventsQuery{AfterSeq: 8})
	if len(page.GetEvents()) != 0 || page.GetLastSeq() != 8 {
		t.Fatalf("follow page = %v", page)
	}

	recent := query(t, sys, pid, &messages.EventsQuery{Since: &messages.EventsQuery_SinceAgo{SinceAgo: durationpb.New(time.Minute)}})
	for _, ev := range recent.GetEvents() {
		if ev.GetActor() == "old" {
			t.Fatalf("since_ago kept an old event: %v", ev)
		}
	}
	if len(recent.GetEvents()) != 5 || recent.GetLastSeq() != 8 {
		t.Fatalf("since_ago page = %v", recent)
	}
	byTime := query(t, sys, pid, &messages.EventsQuery{Since: &messages.EventsQuery_SinceTime{SinceTime: timestamppb.New(old.Add(-time.Second))}})
	if len(byTime.GetEvents()) != 8 {
		t.Fatalf("since_time page has %d events, want 8", len(byTime.GetEvents()))
	}

	res, err := sys.Root.RequestFuture(pid, &messages.EventsQuery{Since: &messages.EventsQuery_SinceAgo{SinceAgo: durationpb.New(-time.Second)}}, 5*time.Second).Result()
	if rej, ok := res.(*messages.CommandRejected); err != nil || !ok || rej.GetCode() != messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT {
		t.Fatalf("negative since_ago: %v %v", res, err)
	}
}

func TestLogContinuesAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "supervision.log")
	sys := newSystem(t)
	l, err := supervision.New(sys, supervision.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := sys.Root.SpawnNamed(l.Props(), "supervision")
	waitForEvent(t, sys, pid, "supervision", supervision.EventStarted)
	sys.EventStream.Publish(&supervision.Record{Time: time.Now(), Actor: "a", Event: supervision.EventFailed})
	poll.Eventually(t, 5*time.Second, poll.True("2 events", func() bool { return query(t, sys, pid, &messages.EventsQuery{}).GetLastSeq() == 2 }))
	_ = sys.Root.StopFuture(pid).Wait()
	l.Close()

	// A crash can leave half a line behind.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"seq":3,"actor":"tor`)
	_ = f.Close()

	sys2 := newSystem(t)
	_, pid2 := startLog(t, sys2, path)
	poll.Eventually(t, 5*time.Second, poll.True("the next node's start", func() bool { return query(t, sys2, pid2, &messages.EventsQuery{}).GetLastSeq() == 3 }))
	page := query(t, sys2, pid2, &messages.EventsQuery{})
	got := make([]string, 0, len(page.GetEvents()))
	for _, ev := range page.GetEvents() {
		got = append(got, ev.GetActor()+":"+ev.GetEvent())
	}
	if want := "supervision:started a:failed supervision:started"; strings.Join(got, " ") != want {
		t.Fatalf("events = %q, want %q", strings.Join(got, " "), want)
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := supervision.New(newSystem(t), supervision.Config{}); err == nil {
		t.Fatal("empty path accepted")
	}
	if _, err := supervision.New(newSystem(t), supervision.Config{Path: "x", Retain: -1}); err == nil {
		t.Fatal("negative retain accepted")
	}
}

func TestQueriesSeeTheLastRetainedEvents(t *testing.T) {
	sys := newSystem(t)
	_, pid := startLogWith(t, sys, supervision.Config{Path: filepath.Join(t.TempDir(), "supervision.log"), Retain: 3})
	waitForEvent(t, sys, pid, "supervision", supervision.EventStarted) // seq 1
	// More than twice Retain, so the kept events are trimmed more than once.
	for i := range 10 {
		sys.EventStream.Publish(&supervision.Record{Time: time.Now(), Actor: fmt.Sprint("a", i), Event: supervision.EventFailed})
	}
	var page *messages.EventsPage
	poll.Eventually(t, 5*time.Second, poll.True("11 events", func() bool {
		page = query(t, sys, pid, &messages.EventsQuery{})
		return page.GetLastSeq() == 11
	}))
	var got []string
	for _, ev := range page.GetEvents() {
		got = append(got, fmt.Sprint(ev.GetSeq(), ":", ev.GetActor()))
	}
	if want := "9:a7 10:a8 11:a9"; strings.Join(got, " ") != want {
		t.Fatalf("events = %q, want %q", strings.Join(got, " "), want)
	}
}
