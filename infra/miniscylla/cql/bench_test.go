package cql

import "testing"

func BenchmarkParse(b *testing.B) {
	queries := map[string]string{
		"system.local": "SELECT broadcast_address, cluster_name, data_center, host_id, listen_address, partitioner, " +
			"rack, release_version, rpc_address, schema_version, tokens FROM system.local WHERE key='local' USING TIMEOUT 60000ms",
		"cdc log read": `SELECT * FROM ks.t_scylla_cdc_log WHERE "cdc$stream_id" IN (?, ?) AND "cdc$time" > ? AND "cdc$time" <= ? BYPASS CACHE`,
		"outbox batch": "BEGIN BATCH INSERT INTO orders_ks.orders (order_id,status,version,updated_at) VALUES (?,?,?,?) IF NOT EXISTS ; " +
			"INSERT INTO orders_ks.outbox_messages (aggregate_id,event_id,event_type,payload,headers) VALUES (?,?,?,?,?) ; APPLY BATCH ",
	}
	for name, q := range queries {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(q)))
			for b.Loop() {
				if _, err := ParseQuery(q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
