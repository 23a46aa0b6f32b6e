'use strict';
// Checks miniscylla's CQL fidelity with the Node.js cassandra-driver
// (pinned in package.json).
//
// Usage: node cassandra_fidelity.js HOST PORT CASES_JSON
//
// The server already holds the fid keyspace (infra/miniscylla/fidelity_test.go).
// For every paging case in CASES_JSON the script reads the query in one
// page, then pages it with each of the case's fetch sizes, following the
// page state by hand (simple and prepared statements alternate), and
// requires every row exactly once. It then checks SELECT JSON / INSERT JSON,
// GROUP BY paged by one group, and tracing as the driver reads it
// (traceQuery, metadata.getTrace). Exits non-zero on the first mismatch.
const fs = require('fs');
const cassandra = require('cassandra-driver');

function check(cond, what) {
  if (!cond) {
    throw new Error('MISMATCH: ' + what);
  }
}

function render(row) {
  return row.values().map((v) => (v === null || v === undefined ? 'null' : v.toString())).join(',');
}

async function fetchAll(client, query, fetchSize, prepare) {
  const rows = [];
  let pageState;
  for (;;) {
    const rs = await client.execute(query, [], { fetchSize, pageState, prepare });
    for (const r of rs.rows) {
      rows.push(render(r));
    }
    if (!rs.pageState) {
      return rows;
    }
    pageState = rs.pageState;
  }
}

function exactlyOnce(name, got, want) {
  const seen = new Set(got);
  check(seen.size === got.length, `${name}: a row came back twice (${got.length} rows, ${seen.size} distinct)`);
  check(got.length === want.length, `${name}: ${got.length} rows, want ${want.length}`);
  for (const r of want) {
    check(seen.has(r), `${name}: row ${r} missing`);
  }
}

async function main() {
  const [host, port, spec] = process.argv.slice(2);
  const cases = JSON.parse(fs.readFileSync(spec, 'utf8'));
  const lb = cassandra.policies.loadBalancing;
  const client = new cassandra.Client({
    contactPoints: [host],
    localDataCenter: 'datacenter1',
    protocolOptions: { port: Number(port) },
    policies: { loadBalancing: new lb.TokenAwarePolicy(new lb.DCAwareRoundRobinPolicy('datacenter1')) },
  });
  await client.connect();
  try {
    let runs = 0;
    for (const c of cases) {
      const want = await fetchAll(client, c.query, 100000, false);
      check(want.length === c.want, `${c.name}: ${want.length} rows in one page, want ${c.want}`);
      for (const [i, size] of c.sizes.entries()) {
        const prepare = i % 2 === 1;
        exactlyOnce(`${c.name}, fetch size ${size}, prepare ${prepare}`, await fetchAll(client, c.query, size, prepare), want);
        runs++;
      }
    }

    // INSERT JSON bound and literal, SELECT JSON.
    await client.execute('INSERT INTO fid.docs JSON ?',
      ['{"id": 9, "c": 1, "t": "node", "u": "6ab09bec-e68e-48d9-a5f8-97e6fb4c9b47", "b": "0xbeef"}'], { prepare: true });
    let got = (await client.execute('SELECT JSON id, t, u, b, l FROM fid.docs WHERE id = 9')).rows[0]['[json]'];
    let want = '{"id": 9, "t": "node", "u": "6ab09bec-e68e-48d9-a5f8-97e6fb4c9b47", "b": "0xbeef", "l": null}';
    check(got === want, `SELECT JSON: ${got}, want ${want}`);
    await client.execute(`INSERT INTO fid.docs JSON '{"id": 9, "c": 1, "l": [1]}' DEFAULT UNSET`);
    got = (await client.execute('SELECT JSON t, l FROM fid.docs WHERE id = 9 AND c = 1')).rows[0]['[json]'];
    check(got === '{"t": "node", "l": [1]}', `after DEFAULT UNSET: ${got}`);
    let failed = null;
    try {
      await client.execute(`INSERT INTO fid.docs JSON '{"id": 9, "c": 2, "nope": 1}'`);
    } catch (e) {
      failed = e;
    }
    check(failed && /unrecognized column: nope/.test(failed.message), `INSERT JSON unknown column: ${failed}`);

    // GROUP BY, one group per page.
    const groups = await fetchAll(client, 'SELECT k, count(*), sum(v) FROM fid.wide WHERE k IN (0, 5, 33) GROUP BY k', 1, true);
    check(JSON.stringify(groups.sort()) === JSON.stringify(['0,6000,6000', '33,1,0', '5,10,9']), `GROUP BY: ${groups}`);

    // Tracing: the response carries the trace id; getTrace reads system_traces.
    const rs = await client.execute('SELECT k, c FROM fid.wide WHERE k = 1', [], { traceQuery: true });
    check(rs.info.traceId, 'no trace id in the response');
    const trace = await client.metadata.getTrace(rs.info.traceId);
    check(trace && trace.duration > 0, `trace duration ${trace && trace.duration}`);
    check(trace.requestType === 'Execute CQL3 query', `trace request ${trace.requestType}`);
    const acts = trace.events.map((e) => e.activity);
    check(acts.some((a) => a.startsWith('Read 10 live row(s) from 1 partition(s) of fid.wide')), `trace events ${acts}`);
    check(acts[acts.length - 1] === 'Done processing - preparing a result', `last trace event ${acts[acts.length - 1]}`);

    console.log(`ok: ${cases.length} paging cases, ${runs} paged runs, JSON, GROUP BY, tracing (${acts.length} events)`);
  } finally {
    await client.shutdown();
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
