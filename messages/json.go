package messages

import (
	"bytes"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// JSON encodes m with opts and compacts the result. protojson deliberately varies its
// whitespace between builds and runs so that nobody depends on its bytes, but a Kafka record
// value is exactly that: consumers hash it, compare it and diff it, and the same event must
// produce the same bytes on every node.
func JSON(opts protojson.MarshalOptions, m proto.Message) ([]byte, error) {
	b, err := opts.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, fmt.Errorf("compact protojson: %w", err)
	}
	return out.Bytes(), nil
}
