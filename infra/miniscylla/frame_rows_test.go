package miniscylla

import (
	"bytes"
	"testing"

	"github.com/datastax/go-cassandra-native-protocol/datatype"
	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"
)

// TestRowsBodyMatchesCodec checks that bodyEncoder.encodeBody writes a ROWS result
// exactly as the codec does.
func TestRowsBodyMatchesCodec(t *testing.T) {
	cols := []*message.ColumnMetadata{
		{Keyspace: "ks", Table: "t", Name: "[applied]", Type: datatype.Boolean},
		{Keyspace: "ks", Table: "t", Name: "v", Index: 1, Type: datatype.NewMap(datatype.Varchar, datatype.Int)},
	}
	for name, res := range map[string]*message.RowsResult{
		"no metadata": {},
		"no rows":     {Metadata: &message.RowsMetadata{ColumnCount: 2, Columns: cols}},
		"cells": {Metadata: &message.RowsMetadata{ColumnCount: 2, Columns: cols},
			Data: message.RowSet{{{1}, nil}, {{0}, {}}, {{1}, bytes.Repeat([]byte{7}, 300)}}},
		"paged": {Metadata: &message.RowsMetadata{ColumnCount: 2, Columns: cols, PagingState: []byte("next")},
			Data: message.RowSet{{{1}, []byte("x")}}},
		"skip metadata": {Metadata: &message.RowsMetadata{ColumnCount: 1}, Data: message.RowSet{{nil}, {[]byte("a")}}},
	} {
		codec := responseCodecs[primitive.OpCodeResult]
		var want bytes.Buffer
		if err := codec.Encode(res, &want, primitive.ProtocolVersion4); err != nil {
			t.Fatalf("%s: codec: %v", name, err)
		}
		var enc bodyEncoder
		enc.buf.WriteString("prefix") // a trace id leads the body
		if err := enc.encodeBody(codec, res, primitive.ProtocolVersion4); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := enc.buf.Bytes()[len("prefix"):]; !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%s: body\n% x\nwant\n% x", name, got, want.Bytes())
		}
	}
}
