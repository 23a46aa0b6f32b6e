package outbox

import (
	_ "github.com/IBM/sarama"
	_ "github.com/asynkron/protoactor-go/actor"
	_ "github.com/asynkron/protoactor-go/remote"
	_ "github.com/datastax/go-cassandra-native-protocol/client"
	_ "github.com/datastax/go-cassandra-native-protocol/datacodec"
	_ "github.com/datastax/go-cassandra-native-protocol/frame"
	_ "github.com/datastax/go-cassandra-native-protocol/message"
	_ "github.com/failsafe-go/failsafe-go/circuitbreaker"
	_ "github.com/failsafe-go/failsafe-go/retrypolicy"
	_ "github.com/gocql/gocql"
	_ "github.com/google/uuid"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/prometheus/client_golang/prometheus/testutil"
	_ "github.com/scylladb/gocqlx/v2/qb"
	_ "github.com/scylladb/gocqlx/v2/table"
	_ "github.com/scylladb/scylla-cdc-go"
	_ "github.com/twmb/franz-go/pkg/kfake"
	_ "github.com/twmb/franz-go/pkg/kgo"
	_ "google.golang.org/protobuf/encoding/protojson"
	_ "google.golang.org/protobuf/proto"
)
