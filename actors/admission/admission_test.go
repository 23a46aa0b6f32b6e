package admission_test

import (
	"sync"
	"testing"

	"github.com/outboxnode/outbox/actors/admission"
	"github.com/outboxnode/outbox/messages"
)

func TestGateClosesOnceForEveryone(t *testing.T) {
	var nilGate *admission.Gate
	if nilGate.Closed() {
		t.Fatal("a nil gate is closed")
	}
	g := &admission.Gate{}
	if g.Closed() {
		t.Fatal("a new gate is closed")
	}
	var wg sync.WaitGroup
	closers := make(chan bool, 8)
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); closers <- g.Close() }()
	}
	wg.Wait()
	close(closers)
	first := 0
	for c := range closers {
		if c {
			first++
		}
	}
	if first != 1 || !g.Closed() {
		t.Fatalf("%d callers closed the gate (want 1); closed %v", first, g.Closed())
	}
	if r := admission.Refusal(); r.GetCode() != messages.RejectCode_REJECT_CODE_SHUTTING_DOWN || r.GetReason() == "" {
		t.Fatalf("refusal %v", r)
	}
}
