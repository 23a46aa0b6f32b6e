package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/infra/tracing"
	"github.com/outboxnode/outbox/messages"
)

// itemsFlag collects repeated --item SKU:QTY values.
type itemsFlag []*messages.Item

func (f *itemsFlag) String() string { return "" }

func (f *itemsFlag) Set(s string) error {
	sku, qty, ok := strings.Cut(s, ":")
	if !ok {
		return fmt.Errorf("want SKU:QTY, got %q", s)
	}
	n, err := strconv.ParseInt(qty, 10, 32)
	if err != nil {
		return fmt.Errorf("quantity of %q is not a whole number", s)
	}
	*f = append(*f, &messages.Item{Sku: sku, Quantity: int32(n)})
	return nil
}

// Amounts and ids are passed to the node as typed: it validates them and
// answers with a typed rejection, so every client gets the same rules.

func orderCreate(e *env, args []string) error {
	fs := newFlagSet("order create", &e.globals)
	req := &messages.CreateOrder{}
	var items itemsFlag
	fs.StringVar(&req.CustomerId, "customer", "", "customer id")
	fs.StringVar(&req.Amount, "amount", "", "total amount, e.g. 12.50")
	fs.StringVar(&req.Currency, "currency", "EUR", "ISO 4217 currency code")
	fs.Var(&items, "item", "order line SKU:QTY (repeatable)")
	traceFlag(fs, &e.globals)
	if _, err := parseN(fs, args); err != nil {
		return err
	}
	if err := checkTrace(e.traceparent); err != nil {
		return err
	}
	req.Items, req.Traceparent = items, e.traceparent
	return accepted(e, req, func(a *messages.CommandAccepted) string { return a.GetOrderId() })
}

func orderUpdate(e *env, args []string) error {
	fs := newFlagSet("order update", &e.globals)
	var amount optionalString
	var items itemsFlag
	fs.Var(&amount, "amount", "new total amount, e.g. 15.00")
	fs.Var(&items, "item", "order line SKU:QTY (repeatable; replaces all items)")
	traceFlag(fs, &e.globals)
	pos, err := parseN(fs, args, "ORDER_ID")
	if err != nil {
		return err
	}
	if err := checkTrace(e.traceparent); err != nil {
		return err
	}
	req := &messages.UpdateOrder{OrderId: pos[0], Amount: amount.value, Items: items, Traceparent: e.traceparent}
	return accepted(e, req, acceptedText)
}

func orderCancel(e *env, args []string) error {
	fs := newFlagSet("order cancel", &e.globals)
	req := &messages.CancelOrder{}
	fs.StringVar(&req.Reason, "reason", "", "why the order is cancelled")
	traceFlag(fs, &e.globals)
	pos, err := parseN(fs, args, "ORDER_ID")
	if err != nil {
		return err
	}
	if err := checkTrace(e.traceparent); err != nil {
		return err
	}
	req.OrderId, req.Traceparent = pos[0], e.traceparent
	return accepted(e, req, acceptedText)
}

// traceFlag registers --traceparent on an order command's flag set.
func traceFlag(fs *flag.FlagSet, g *globals) {
	fs.StringVar(&g.traceparent, "traceparent", g.traceparent, "W3C trace context the command joins, 00-<trace id>-<span id>-<flags> (env TRACEPARENT; default: the node starts a trace, shown in -o json)")
}

// checkTrace refuses a malformed traceparent before anything is sent.
func checkTrace(traceparent string) error {
	if _, err := tracing.Parse(traceparent); err != nil {
		return usagef("--traceparent: %v", err)
	}
	return nil
}

func orderGet(e *env, args []string) error {
	fs := newFlagSet("order get", &e.globals)
	pos, err := parseN(fs, args, "ORDER_ID")
	if err != nil {
		return err
	}
	c, err := e.connect()
	if err != nil {
		return err
	}
	v, err := expect[*messages.OrderView](c.request(&messages.GetOrder{OrderId: pos[0]}))
	if err != nil {
		return err
	}
	return e.print(v, func() string { return orderText(v) })
}

func accepted(e *env, req proto.Message, text func(*messages.CommandAccepted) string) error {
	c, err := e.connect()
	if err != nil {
		return err
	}
	a, err := expect[*messages.CommandAccepted](c.request(req))
	if err != nil {
		return err
	}
	return e.print(a, func() string { return text(a) })
}

func acceptedText(a *messages.CommandAccepted) string {
	return fmt.Sprintf("%s version %d event %s", a.GetOrderId(), a.GetVersion(), a.GetEventId())
}

func orderText(v *messages.OrderView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "order     %s\n", v.GetOrderId())
	fmt.Fprintf(&b, "customer  %s\n", v.GetCustomerId())
	fmt.Fprintf(&b, "status    %s\n", trimEnum(v.GetStatus().String(), "ORDER_STATUS_"))
	fmt.Fprintf(&b, "amount    %s %s\n", v.GetAmount(), v.GetCurrency())
	fmt.Fprintf(&b, "version   %d\n", v.GetVersion())
	for _, it := range v.GetItems() {
		fmt.Fprintf(&b, "item      %s x%d\n", it.GetSku(), it.GetQuantity())
	}
	fmt.Fprintf(&b, "created   %s\n", v.GetCreatedAt().AsTime().Format(time.RFC3339Nano))
	fmt.Fprintf(&b, "updated   %s", v.GetUpdatedAt().AsTime().Format(time.RFC3339Nano))
	return b.String()
}

// optionalString is a string flag that records whether it was given.
type optionalString struct{ value *string }

func (o *optionalString) String() string {
	if o.value == nil {
		return ""
	}
	return *o.value
}

func (o *optionalString) Set(s string) error {
	o.value = &s
	return nil
}

var _ flag.Value = (*optionalString)(nil)
