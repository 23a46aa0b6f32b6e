package metrics

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/outboxnode/outbox/messages"
)

// Health is the JSON document of /health (and of `outboxctl health -o json`):
//
//	{"status":"degraded","reason":"kafka unreachable since 12:00:03","components":{"kafka":{"status":"down","detail":"..."}},"checked_at":"..."}
//
// Status values are "ok", "degraded" and "down"; the status is the worst
// component status, but the broker being down only degrades it (commands
// are still accepted; the relay waits). Reason names the components at
// fault. The status is the service's: a node that answers is up, whatever
// its status.
type Health struct {
	Status string `json:"status"`
	// Reason is set unless the status is ok: each component that is not
	// ok, with the first clause of its detail.
	Reason     string                     `json:"reason,omitempty"`
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
	h.Reason = reason(h.Components)
	return h
}

// Summary is the status with its reason: "ok", or e.g. "degraded: kafka
// unreachable since 12:00:03, breaker open".
func (h Health) Summary() string {
	if h.Reason == "" {
		return h.Status
	}
	return h.Status + ": " + h.Reason
}

// reason lists the components that are not ok, down before degraded, each
// by its name and the first clause of its detail (up to ": ").
func reason(components map[string]ComponentHealth) string {
	rank := map[string]int{StatusDown: 0, StatusDegraded: 1}
	var faults []string
	for _, name := range slices.Sorted(maps.Keys(components)) {
		if components[name].Status != StatusOK {
			faults = append(faults, name)
		}
	}
	slices.SortStableFunc(faults, func(a, b string) int { return cmp.Compare(rank[components[a].Status], rank[components[b].Status]) })
	for i, name := range faults {
		clause, _, _ := strings.Cut(components[name].Detail, ": ")
		faults[i] = strings.TrimSpace(name + " " + clause)
	}
	return strings.Join(faults, ", ")
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
