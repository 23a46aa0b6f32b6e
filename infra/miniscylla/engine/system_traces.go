package engine

// system_traces holds the sessions and events of traced requests (trace.go)
// with ScyllaDB's columns, as virtual tables over the engine's trace store,
// so that gocql's Trace, the Python driver's trace=True and the Node.js
// driver's getTrace read them as they would from ScyllaDB.

const ksSystemTraces = "system_traces"

func systemTracesKeyspace() *Keyspace {
	k := newKeyspace(ksSystemTraces, map[string]string{
		"class": "org.apache.cassandra.locator.SimpleStrategy", "replication_factor": "2",
	})
	k.system = true
	sessions := virtualTable(ksSystemTraces, "sessions", cols(colDef{"session_id", tUUID}), nil, cols(
		colDef{"client", tInet}, colDef{"command", tText}, colDef{"coordinator", tInet},
		colDef{"duration", tInt}, colDef{"parameters", tTextMap}, colDef{"request", tText},
		colDef{"request_size", tInt}, colDef{"response_size", tInt}, colDef{"started_at", tTimestamp},
		colDef{"username", tText},
	), (*Engine).traceSessionRows)
	events := virtualTable(ksSystemTraces, "events", cols(colDef{"session_id", tUUID}),
		cols(colDef{"event_id", Prim(KindTimeUUID)}), cols(
			colDef{"activity", tText}, colDef{"scylla_parent_id", Prim(KindBigint)},
			colDef{"scylla_span_id", Prim(KindBigint)}, colDef{"source", tInet},
			colDef{"source_elapsed", tInt}, colDef{"thread", tText},
		), (*Engine).traceEventRows)
	for _, t := range []*Table{sessions, events} {
		k.Tables[t.Name] = t
	}
	return k
}

func (e *Engine) traceSessionRows() []map[string][]byte {
	sessions := e.traces.snapshot()
	rows := make([]map[string][]byte, 0, len(sessions))
	for _, s := range sessions {
		rows = append(rows, map[string][]byte{
			"session_id":  s.id[:],
			"client":      encInet(s.client),
			"command":     encText(s.command),
			"coordinator": encInet(s.coordinator),
			"duration":    encInt(s.durationMicros),
			"parameters":  encTextMap(s.params),
			"request":     encText(s.request),
			"started_at":  encBigint(s.started.UnixMilli()),
			"username":    encText("anonymous"),
		})
	}
	return rows
}

func (e *Engine) traceEventRows() []map[string][]byte {
	var rows []map[string][]byte
	for _, s := range e.traces.snapshot() {
		for _, ev := range s.events {
			rows = append(rows, map[string][]byte{
				"session_id":       s.id[:],
				"event_id":         ev.id[:],
				"activity":         encText(ev.activity),
				"scylla_parent_id": encBigint(0),
				"scylla_span_id":   encBigint(0),
				"source":           encInet(s.coordinator),
				"source_elapsed":   encInt(ev.elapsedMicros),
				"thread":           encText("shard 0"),
			})
		}
	}
	return rows
}
