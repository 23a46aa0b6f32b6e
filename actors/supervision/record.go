package supervision

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Event names written to the log.
const (
	EventStarted             = "started"
	EventStopped             = "stopped"
	EventFailed              = "failed"
	EventRestarted           = "restarted"
	EventResumed             = "resumed"
	EventEscalated           = "escalated"
	EventStoppedBySupervisor = "stopped_by_supervisor"
)

// Record is one supervision event as published on the actor system's EventStream by
// Observe and Strategy; the Log turns it into a numbered SupervisionEvent.
type Record struct {
	Time      time.Time
	Actor     string
	Event     string
	Reason    string
	Directive string
}

func publish(sys *actor.ActorSystem, pid *actor.PID, event string, reason any, directive string) {
	rec := &Record{Time: time.Now().UTC(), Event: event, Directive: directive}
	if pid != nil {
		rec.Actor = pid.Id
	}
	if reason != nil {
		rec.Reason = fmt.Sprint(reason)
	}
	sys.EventStream.Publish(rec)
}

// fromSupervisorEvent converts the event that protoactor's strategies publish for
// Resume, Restart and Stop decisions.
func fromSupervisorEvent(e *actor.SupervisorEvent) *Record {
	rec := &Record{Time: time.Now().UTC(), Reason: fmt.Sprint(e.Reason), Directive: directiveName(e.Directive)}
	if e.Child != nil {
		rec.Actor = e.Child.Id
	}
	switch e.Directive {
	case actor.ResumeDirective:
		rec.Event = EventResumed
	case actor.RestartDirective:
		rec.Event = EventRestarted
	case actor.StopDirective:
		rec.Event = EventStoppedBySupervisor
	default:
		rec.Event = EventEscalated
	}
	return rec
}

func directiveName(d actor.Directive) string {
	switch d {
	case actor.ResumeDirective:
		return "resume"
	case actor.RestartDirective:
		return "restart"
	case actor.StopDirective:
		return "stop"
	case actor.EscalateDirective:
		return "escalate"
	}
	return fmt.Sprintf("directive(%d)", int(d))
}
