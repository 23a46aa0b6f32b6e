package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/IBM/sarama"
	"github.com/gocql/gocql"
	scyllacdc "github.com/scylladb/scylla-cdc-go"
	"github.com/urfave/cli/v3"

	"github.com/outboxnode/outbox/infra/cdc"
	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/infra/scylla"
)

// naiveReadyLine is what the naive relay prints once its reader runs.
const naiveReadyLine = "naive-relay ready"

// naiveCommand is the naive relay the node's relay is compared with, run as
// its own process so that it is measured like the node: it reads the same
// CDC log with the same reader settings, sends each event with one
// synchronous SendMessage and saves its progress after each event.
func naiveCommand() *cli.Command {
	return &cli.Command{
		Name:   "naive-relay",
		Usage:  "the naive relay (one synchronous send and one progress write per event), as a process",
		Hidden: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "scylla-hosts", Required: true},
			&cli.StringFlag{Name: "kafka-brokers", Required: true},
			&cli.StringFlag{Name: "topic-template", Value: "naive.{{event_type}}"},
			&cli.DurationFlag{Name: "confidence-window", Value: cdc.DefaultConfidenceWindow},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
			defer stop()
			return runNaive(ctx, cmd.String("scylla-hosts"), cmd.String("kafka-brokers"), cmd.String("topic-template"), cmd.Duration("confidence-window"))
		},
	}
}

func runNaive(ctx context.Context, cql, brokers, template string, window time.Duration) error {
	node := config.Default()
	node.Scylla.Consistency = "ONE"
	session, err := scylla.Connect(ctx, node.Scylla, []string{cql}, slog.New(slog.DiscardHandler))
	if err != nil {
		return fmt.Errorf("naive relay: connect: %w", err)
	}
	defer session.Close()
	conf := sarama.NewConfig()
	conf.Producer.Idempotent = true
	conf.Producer.RequiredAcks = sarama.WaitForAll
	conf.Producer.Return.Successes = true
	conf.Net.MaxOpenRequests = 1
	producer, err := sarama.NewSyncProducer([]string{brokers}, conf)
	if err != nil {
		return fmt.Errorf("naive relay: producer: %w", err)
	}
	defer producer.Close()
	mapper, err := kafka.NewMapper(template)
	if err != nil {
		return fmt.Errorf("naive relay: %w", err)
	}
	keyspace := node.Scylla.Keyspace
	pm, err := scyllacdc.NewTableBackedProgressManager(session.Session, keyspace+"."+cdc.DefaultProgressTable, "bench-naive")
	if err != nil {
		return fmt.Errorf("naive relay: progress: %w", err)
	}
	reader, err := scyllacdc.NewReader(ctx, &scyllacdc.ReaderConfig{
		Session: session.Session, TableNames: []string{keyspace + "." + cdc.DefaultTable}, Consistency: gocql.One,
		ProgressManager:       pm,
		ChangeConsumerFactory: naiveFactory{producer: producer, mapper: mapper},
		Advanced: scyllacdc.AdvancedReaderConfig{
			ConfidenceWindowSize: window, PostNonEmptyQueryDelay: node.Relay.CDC.PollDelay,
			PostEmptyQueryDelay: node.Relay.CDC.IdleDelay, ChangeAgeLimit: node.Scylla.OutboxTTL,
		},
	})
	if err != nil {
		return fmt.Errorf("naive relay: reader: %w", err)
	}
	fmt.Println(naiveReadyLine)
	if err := reader.Run(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("naive relay: %w", err)
	}
	return nil
}

type naiveFactory struct {
	producer sarama.SyncProducer
	mapper   *kafka.Mapper
}

func (f naiveFactory) CreateChangeConsumer(_ context.Context, in scyllacdc.CreateChangeConsumerInput) (scyllacdc.ChangeConsumer, error) {
	return &naiveConsumer{f: f, reporter: in.ProgressReporter}, nil
}

type naiveConsumer struct {
	f        naiveFactory
	reporter *scyllacdc.ProgressReporter
}

func (c *naiveConsumer) Consume(ctx context.Context, ch scyllacdc.Change) error {
	for _, row := range ch.Delta {
		if !cdc.IsEvent(row.GetOperation()) {
			continue
		}
		rec, err := c.f.mapper.Record(cdc.Decode(row).GetEvent())
		if err != nil {
			return fmt.Errorf("naive map: %w", err)
		}
		if _, _, err := c.f.producer.SendMessage(saramaMessage(rec)); err != nil {
			return fmt.Errorf("naive send: %w", err)
		}
		if err := c.reporter.MarkProgress(ctx, scyllacdc.Progress{LastProcessedRecordTime: ch.Time}); err != nil {
			return fmt.Errorf("naive progress: %w", err)
		}
	}
	return nil
}

func (c *naiveConsumer) End() error { return nil }
