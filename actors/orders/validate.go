package orders

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/outboxnode/outbox/infra/tracing"
	"github.com/outboxnode/outbox/messages"
)

// maxReasonLength bounds a cancel reason, which travels in the event payload.
const maxReasonLength = 1024

// unprintable returns the first control (Cc) or format (Cf, e.g. the bidi
// overrides U+202A-U+202E and isolates U+2066-U+2069, zero-width
// characters) character of s and its byte offset, or ok false when there
// is none. Such characters make an id look like another in logs and UIs.
func unprintable(s string) (r rune, at int, ok bool) {
	for i, c := range s {
		if unicode.In(c, unicode.Cc, unicode.Cf) {
			return c, i, true
		}
	}
	return 0, 0, false
}

// RejectError is a refused command: its code and reason become the CommandRejected reply.
type RejectError struct {
	Code   messages.RejectCode
	Reason string
}

// Error returns "<code>: <reason>".
func (e *RejectError) Error() string {
	return fmt.Sprintf("%s: %s", e.Code, e.Reason)
}

// Reply converts the error to the wire reply.
func (e *RejectError) Reply() *messages.CommandRejected {
	return &messages.CommandRejected{Code: e.Code, Reason: e.Reason}
}

func reject(code messages.RejectCode, format string, args ...any) *RejectError {
	return &RejectError{Code: code, Reason: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) *RejectError {
	return reject(messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT, format, args...)
}

// newOrder is a validated CreateOrder.
type newOrder struct {
	customerID string
	totalCents int64
	currency   string
	items      []Item
}

// orderUpdate is a validated UpdateOrder; nil fields are left unchanged.
type orderUpdate struct {
	totalCents *int64
	items      []Item
}

func validateCreate(cfg Config, m *messages.CreateOrder) (newOrder, *RejectError) {
	customer, rej := parseCustomer(cfg, m.GetCustomerId())
	if rej != nil {
		return newOrder{}, rej
	}
	cents, err := parseAmount(m.GetAmount(), cfg.MaxTotalCents)
	if err != nil {
		return newOrder{}, err
	}
	currency, err := parseCurrency(m.GetCurrency())
	if err != nil {
		return newOrder{}, err
	}
	items, err := parseItems(cfg, m.GetItems())
	if err != nil {
		return newOrder{}, err
	}
	return newOrder{customerID: customer, totalCents: cents, currency: currency, items: items}, nil
}

// parseCustomer checks the raw id before trimming spaces, so that a control
// character at either end (a trailing newline, NEL) is refused, not cut.
func parseCustomer(cfg Config, raw string) (string, *RejectError) {
	if len(raw) > cfg.MaxCustomerLength {
		return "", invalid("customer_id: longer than %d bytes (%d)", cfg.MaxCustomerLength, len(raw))
	}
	if !utf8.ValidString(raw) {
		return "", invalid("customer_id: %s is not valid UTF-8", messages.QuoteInput(raw))
	}
	if r, at, ok := unprintable(raw); ok {
		return "", invalid("customer_id: control or format character %U at byte %d of %s", r, at, messages.QuoteInput(raw))
	}
	customer := strings.TrimSpace(raw)
	if customer == "" {
		return "", invalid("customer_id: required")
	}
	return customer, nil
}

func validateUpdate(cfg Config, m *messages.UpdateOrder) (uuid.UUID, orderUpdate, *RejectError) {
	id, err := parseOrderID(m.GetOrderId())
	if err != nil {
		return uuid.Nil, orderUpdate{}, err
	}
	if m.Amount == nil && len(m.GetItems()) == 0 {
		return uuid.Nil, orderUpdate{}, invalid("nothing to update: give an amount or items")
	}
	var u orderUpdate
	if m.Amount != nil {
		cents, err := parseAmount(m.GetAmount(), cfg.MaxTotalCents)
		if err != nil {
			return uuid.Nil, orderUpdate{}, err
		}
		u.totalCents = &cents
	}
	if len(m.GetItems()) > 0 {
		items, err := parseItems(cfg, m.GetItems())
		if err != nil {
			return uuid.Nil, orderUpdate{}, err
		}
		u.items = items
	}
	return id, u, nil
}

func validateCancel(m *messages.CancelOrder) (uuid.UUID, string, *RejectError) {
	id, err := parseOrderID(m.GetOrderId())
	if err != nil {
		return uuid.Nil, "", err
	}
	reason := strings.TrimSpace(m.GetReason())
	if len(reason) > maxReasonLength {
		return uuid.Nil, "", invalid("reason: longer than %d bytes (%d)", maxReasonLength, len(reason))
	}
	return id, reason, nil
}

func parseOrderID(s string) (uuid.UUID, *RejectError) {
	if s == "" {
		return uuid.Nil, invalid("order_id: required")
	}
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return uuid.Nil, invalid("order_id: %s is not a uuid", messages.QuoteInput(s))
	}
	if id == uuid.Nil {
		return uuid.Nil, invalid("order_id: must not be the nil uuid")
	}
	return id, nil
}

// parseAmount turns a decimal such as "12.50" into cents.
func parseAmount(s string, maxCents int64) (int64, *RejectError) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, invalid("amount: required")
	}
	if strings.HasPrefix(s, "-") {
		return 0, invalid("amount: %s is negative", messages.QuoteInput(s))
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if !isDigits(whole) || (hasDot && !isDigits(frac)) {
		return 0, invalid("amount: %s is not a decimal number", messages.QuoteInput(s))
	}
	if len(frac) > 2 {
		return 0, invalid("amount: %s has more than two decimals", messages.QuoteInput(s))
	}
	// 15 digits of whole units keep cents far below MaxInt64.
	if len(strings.TrimLeft(whole, "0")) > 15 {
		return 0, invalid("amount: %s is larger than %s", messages.QuoteInput(s), formatCents(maxCents))
	}
	units, _ := strconv.ParseInt(whole, 10, 64)
	cents, _ := strconv.ParseInt((frac + "00")[:2], 10, 64)
	total := units*100 + cents
	if total > maxCents {
		return 0, invalid("amount: %s is larger than %s", messages.QuoteInput(s), formatCents(maxCents))
	}
	return total, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// formatCents renders cents as a decimal with two fraction digits.
func formatCents(c int64) string {
	return fmt.Sprintf("%d.%02d", c/100, c%100)
}

// parseCurrency accepts an ISO 4217 code as written: three upper-case
// letters of an active currency (currencies).
func parseCurrency(s string) (string, *RejectError) {
	switch {
	case s == "":
		return "", invalid("currency: required, an ISO 4217 code such as EUR")
	case len(s) != 3 || strings.IndexFunc(s, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0:
		return "", invalid("currency: %s is not an ISO 4217 code (three upper-case letters, e.g. EUR)", messages.QuoteInput(s))
	case !currencies[s]:
		return "", invalid("currency: %s is not an active ISO 4217 currency code", messages.QuoteInput(s))
	}
	return s, nil
}

// parseItems validates an item list and returns it sorted by SKU.
func parseItems(cfg Config, in []*messages.Item) ([]Item, *RejectError) {
	if len(in) > cfg.MaxItems {
		return nil, invalid("items: %d items, at most %d allowed", len(in), cfg.MaxItems)
	}
	items := make([]Item, 0, len(in))
	seen := make(map[string]bool, len(in))
	for i, it := range in {
		sku := it.GetSku()
		if !validSKU(sku) {
			return nil, invalid("items[%d].sku: %s must be 1-64 characters of A-Z a-z 0-9 . _ -", i, messages.QuoteInput(sku))
		}
		if seen[sku] {
			return nil, invalid("items[%d].sku: %s listed twice", i, messages.QuoteInput(sku))
		}
		seen[sku] = true
		q := it.GetQuantity()
		if q < 1 || q > cfg.MaxItemQuantity {
			return nil, invalid("items[%d].quantity: %d not in 1..%d", i, q, cfg.MaxItemQuantity)
		}
		items = append(items, Item{SKU: sku, Quantity: q})
	}
	slices.SortFunc(items, func(a, b Item) int { return strings.Compare(a.SKU, b.SKU) })
	return items, nil
}

func validSKU(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !ok {
			return false
		}
	}
	return true
}

// parseTrace reads a command's optional traceparent; a malformed one is refused rather
// than dropped, so a client learns its trace would be lost.
func parseTrace(traceparent string) (trace.SpanContext, *RejectError) {
	sc, err := tracing.Parse(traceparent)
	if err != nil {
		return trace.SpanContext{}, invalid("%v", err)
	}
	return sc, nil
}
