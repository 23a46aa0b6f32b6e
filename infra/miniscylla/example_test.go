package miniscylla_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"strconv"

	"github.com/gocql/gocql"

	"github.com/outboxnode/outbox/infra/miniscylla"
)

// Start a server on a free port and use it through gocql like a one-node ScyllaDB.
func ExampleStart() {
	srv, err := miniscylla.Start(context.Background(), miniscylla.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	host, port, _ := net.SplitHostPort(srv.Addr())
	cluster := gocql.NewCluster(host)
	cluster.Port, _ = strconv.Atoi(port)
	sess, err := cluster.CreateSession()
	if err != nil {
		log.Fatal(err)
	}
	defer sess.Close()

	for _, stmt := range []string{
		"CREATE KEYSPACE shop WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
		"CREATE TABLE shop.orders (id int PRIMARY KEY, status text)",
	} {
		if err := sess.Query(stmt).Exec(); err != nil {
			log.Fatal(err)
		}
	}
	if err := sess.Query("INSERT INTO shop.orders (id, status) VALUES (?, ?)", 1, "CREATED").Exec(); err != nil {
		log.Fatal(err)
	}
	var status string
	if err := sess.Query("SELECT status FROM shop.orders WHERE id = ?", 1).Scan(&status); err != nil {
		log.Fatal(err)
	}
	fmt.Println("order 1 is", status)
	// Output: order 1 is CREATED
}
