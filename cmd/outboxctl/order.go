package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v3"
	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/infra/cliflags"
	"github.com/outboxnode/outbox/infra/tracing"
	"github.com/outboxnode/outbox/messages"
)

// orderCommands are the subcommands of `order`.
func orderCommands(e *env) []*cli.Command {
	return []*cli.Command{
		{Name: "create", Usage: "create an order; prints its id", Action: action(e, orderCreate), Flags: []cli.Flag{
			&cli.StringFlag{Name: "customer", Usage: "customer id"},
			&cli.StringFlag{Name: "amount", Usage: "total amount, e.g. 12.50"},
			&cli.StringFlag{Name: "currency", Value: "EUR", Usage: "ISO 4217 currency code"},
			&cli.StringSliceFlag{Name: "item", Usage: "order line SKU:QTY (repeatable)"},
			traceFlag(e),
		}},
		{Name: "update", ArgsUsage: "ORDER_ID", Usage: "change an order's amount or items", Action: action(e, orderUpdate), Flags: []cli.Flag{
			&cli.StringFlag{Name: "amount", Usage: "new total amount, e.g. 15.00"},
			&cli.StringSliceFlag{Name: "item", Usage: "order line SKU:QTY (repeatable; replaces all items)"},
			traceFlag(e),
		}},
		{Name: "cancel", ArgsUsage: "ORDER_ID", Usage: "cancel an order", Action: action(e, orderCancel), Flags: []cli.Flag{
			&cli.StringFlag{Name: "reason", Usage: "why the order is cancelled"},
			traceFlag(e),
		}},
		{Name: "get", ArgsUsage: "ORDER_ID", Usage: "show an order", Action: action(e, orderGet)},
	}
}

// parseItems turns --item SKU:QTY values into items.
func parseItems(values []string) ([]*messages.Item, error) {
	var items []*messages.Item
	for _, s := range values {
		sku, qty, ok := strings.Cut(s, ":")
		if !ok {
			return nil, usagef("--item: want SKU:QTY, got %q", s)
		}
		n, err := strconv.ParseInt(qty, 10, 32)
		if err != nil {
			return nil, usagef("--item: quantity of %q is not a whole number", s)
		}
		items = append(items, &messages.Item{Sku: sku, Quantity: int32(n)})
	}
	return items, nil
}

// Amounts and ids are passed to the node as typed: it validates them and
// answers with a typed rejection, so every client gets the same rules.

func orderCreate(e *env, cmd *cli.Command) error {
	if _, err := cliflags.Args(cmd); err != nil {
		return err
	}
	items, err := orderFlags(e, cmd)
	if err != nil {
		return err
	}
	req := &messages.CreateOrder{CustomerId: cmd.String("customer"), Amount: cmd.String("amount"), Currency: cmd.String("currency"),
		Items: items, Traceparent: e.traceparent}
	return accepted(e, req, func(a *messages.CommandAccepted) string { return a.GetOrderId() })
}

func orderUpdate(e *env, cmd *cli.Command) error {
	pos, err := cliflags.Args(cmd, "ORDER_ID")
	if err != nil {
		return err
	}
	items, err := orderFlags(e, cmd)
	if err != nil {
		return err
	}
	req := &messages.UpdateOrder{OrderId: pos[0], Items: items, Traceparent: e.traceparent}
	if cmd.IsSet("amount") {
		amount := cmd.String("amount")
		req.Amount = &amount
	}
	return accepted(e, req, acceptedText)
}

func orderCancel(e *env, cmd *cli.Command) error {
	pos, err := cliflags.Args(cmd, "ORDER_ID")
	if err != nil {
		return err
	}
	if _, err := orderFlags(e, cmd); err != nil {
		return err
	}
	req := &messages.CancelOrder{OrderId: pos[0], Reason: cmd.String("reason"), Traceparent: e.traceparent}
	return accepted(e, req, acceptedText)
}

// orderFlags checks the flags the order commands share, before anything
// is sent: --traceparent, and returns the --item values.
func orderFlags(e *env, cmd *cli.Command) ([]*messages.Item, error) {
	if _, err := tracing.Parse(e.traceparent); err != nil {
		return nil, usagef("--traceparent: %v", err)
	}
	return parseItems(cmd.StringSlice("item"))
}

func orderGet(e *env, cmd *cli.Command) error {
	pos, err := cliflags.Args(cmd, "ORDER_ID")
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
