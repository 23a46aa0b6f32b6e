"""Produces records with kafka-python to a topic that does not exist yet,
then reads them back; prints one JSON line and exits non-zero on failure.

usage: kafka_python_produce.py BOOTSTRAP TOPIC COUNT
"""
import json
import sys

from kafka import KafkaConsumer, KafkaProducer
import kafka


def main():
    bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", max_block_ms=20000, request_timeout_ms=20000)
    futures = [producer.send(topic, key=b"k%d" % (i % 3), value=b"v%d" % i) for i in range(count)]
    offsets = [f.get(timeout=20).offset for f in futures]
    producer.close(timeout=10)

    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=20000)
    values = []
    for m in consumer:
        values.append(m.value.decode())
        if len(values) == count:
            break
    values.sort()
    consumer.close()
    want = sorted("v%d" % i for i in range(count))
    print(json.dumps({"client": "kafka-python", "version": kafka.__version__,
                      "acked": len(offsets), "read": len(values)}))
    if values != want:
        sys.exit("read back %d of %d records" % (len(values), count))


if __name__ == "__main__":
    main()
