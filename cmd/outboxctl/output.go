package main

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/messages"
)

// jsonOptions print replies with protojson's field names (eventId), as in
// the Kafka record value, so that one event reads the same in both.
var jsonOptions = protojson.MarshalOptions{EmitUnpopulated: true}

// print writes reply as JSON with -o json, else the text that text renders.
func (e *env) print(reply proto.Message, text func() string) error {
	if e.output == "json" {
		b, err := messages.JSON(jsonOptions, reply)
		if err != nil {
			return fmt.Errorf("encode reply: %w", err)
		}
		_, err = fmt.Fprintln(e.stdout, string(b))
		return err
	}
	_, err := fmt.Fprintln(e.stdout, text())
	return err
}

func rejectCodeName(c messages.RejectCode) string {
	return trimEnum(c.String(), "REJECT_CODE_")
}

func trimEnum(name, prefix string) string {
	if len(name) > len(prefix) && name[:len(prefix)] == prefix {
		return name[len(prefix):]
	}
	return name
}
