package metrics

import (
	"strings"
	"time"

	"github.com/outboxnode/outbox/messages"
)

// Health is the JSON document of /health (and of `outboxctl health -o json`):
//
//	{"status":"ok","components":{"scylla":{"status":"ok","detail":"..."}},"checked_at":"..."}
//
// Status values are "ok", "degraded" and "down"; the node status is the
// worst component status, but the broker being down only degrades it
// (commands are still accepted; the relay waits).
type Health struct {
	Status     string                     `json:"status"`
	Components map[string]ComponentHealth `json:"components"`
	CheckedAt  time.Time                  `json:"checked_at,omitzero"`
	// Error is set when no report could be obtained (status is then down).
	Error string `json:"error,omitempty"`
}

// ComponentHealth is one probe's result.
type ComponentHealth struct {
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// Health status values.
const (
	StatusOK       = "ok"
	StatusDegraded = "degraded"
	StatusDown     = "down"
)

// OK reports whether the node is fully healthy (HTTP 200).
func (h Health) OK() bool { return h.Status == StatusOK }

// HealthFromReport converts the Health actor's report.
func HealthFromReport(r *messages.HealthReport) Health {
	h := Health{
		Status:     StatusName(r.GetStatus()),
		Components: make(map[string]ComponentHealth, len(r.GetComponents())),
	}
	if r.GetCheckedAt() != nil {
		h.CheckedAt = r.GetCheckedAt().AsTime()
	}
	for _, c := range r.GetComponents() {
		h.Components[c.GetName()] = ComponentHealth{Status: StatusName(c.GetStatus()), Detail: c.GetDetail()}
	}
	return h
}

// StatusName maps a HealthStatus to "ok", "degraded" or "down"; an unset
// status counts as down, since nothing vouched for the component.
func StatusName(s messages.HealthStatus) string {
	switch s {
	case messages.HealthStatus_HEALTH_STATUS_OK, messages.HealthStatus_HEALTH_STATUS_DEGRADED:
		return strings.ToLower(strings.TrimPrefix(s.String(), "HEALTH_STATUS_"))
	}
	return StatusDown
}
