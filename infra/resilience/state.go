package resilience

import "github.com/failsafe-go/failsafe-go/circuitbreaker"

// State is the breaker state with the values of the circuit_breaker_state
// gauge (infra/metrics).
type State int

// Breaker states.
const (
	StateClosed   State = 0
	StateOpen     State = 1
	StateHalfOpen State = 2
)

// String returns "closed", "open" or "half-open".
func (s State) String() string {
	switch s {
	case StateClosed:
		return "closed"
	case StateOpen:
		return "open"
	case StateHalfOpen:
		return "half-open"
	}
	return "unknown"
}

func stateOf(s circuitbreaker.State) State {
	switch s {
	case circuitbreaker.OpenState:
		return StateOpen
	case circuitbreaker.HalfOpenState:
		return StateHalfOpen
	}
	return StateClosed
}
