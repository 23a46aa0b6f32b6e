package engine_test

import (
	osexec "os/exec"
	"strconv"
	"strings"
	"testing"
)

// pythonScript connects with the DataStax Python driver's defaults (which
// refresh all schema metadata from system_schema), then runs DDL and CRUD.
const pythonScript = `
import sys
from cassandra.cluster import Cluster
cluster = Cluster([sys.argv[1]], port=int(sys.argv[2]))
s = cluster.connect()
s.execute("CREATE KEYSPACE py WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
s.execute("CREATE TYPE py.addr (street text, zip int)")
s.execute("CREATE TABLE py.t (k int, c text, v map<text, int>, a frozen<addr>, PRIMARY KEY (k, c)) WITH CLUSTERING ORDER BY (c DESC)")
s.execute("INSERT INTO py.t (k, c, v) VALUES (%s, %s, %s)", (1, 'x', {'a': 1}))
ps = s.prepare("INSERT INTO py.t (k, c, v) VALUES (?, ?, ?)")
s.execute(ps, (1, 'y', {'b': 2}))
rows = list(s.execute("SELECT k, c, v FROM py.t WHERE k = 1"))
assert [r.c for r in rows] == ['y', 'x'], rows
cluster.refresh_schema_metadata()
t = cluster.metadata.keyspaces['py'].tables['t']
assert [c.name for c in t.partition_key] == ['k'], t.partition_key
assert t.clustering_key[0].name == 'c' and t.clustering_key[0].is_reversed
assert 'addr' in cluster.metadata.keyspaces['py'].user_types
from cassandra.query import SimpleStatement
for i in range(250):
    s.execute(ps, (2, 'r%03d' % i, {}))
paged = list(s.execute(SimpleStatement("SELECT c FROM py.t WHERE k = 2", fetch_size=100)))
assert len(paged) == 250 and paged[0].c == 'r249', (len(paged), paged[:1])
lwt = s.execute("INSERT INTO py.t (k, c) VALUES (1, 'x') IF NOT EXISTS").one()
assert lwt[0] is False, lwt
local = s.execute("SELECT * FROM system.local WHERE key='local'").one()
print("ok", local.partitioner, len(rows))
cluster.shutdown()
`

// pythonWithDriver finds an interpreter that has the Debian python3-cassandra package.
func pythonWithDriver() (string, bool) {
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if osexec.Command(py, "-c", "import cassandra").Run() == nil {
			return py, true
		}
	}
	return "", false
}

func TestPythonDriver(t *testing.T) {
	py, ok := pythonWithDriver()
	if !ok {
		t.Skip("python3-cassandra is not installed")
	}
	cluster := startServer(t)
	out, err := osexec.Command(py, "-c", pythonScript, cluster.Hosts[0], strconv.Itoa(cluster.Port)).CombinedOutput()
	if err != nil {
		t.Fatalf("python driver: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "ok org.apache.cassandra.dht.Murmur3Partitioner 2") {
		t.Fatalf("unexpected output:\n%s", out)
	}
}
