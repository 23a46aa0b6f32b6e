// Produces records with kafkajs to a topic that does not exist yet, then
// consumes them in a consumer group; prints one JSON line and exits
// non-zero on failure.
//
// usage: node kafka_kafkajs.js BROKER TOPIC COUNT
// SASL when KAFKA_SASL_MECHANISM (plain, scram-sha-256, scram-sha-512),
// KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are set; KAFKA_RETRIES
// bounds the client's retries (default 8).
'use strict';
const { Kafka, logLevel } = require('kafkajs');
const { version } = require('kafkajs/package.json');

async function main() {
  const [broker, topic, countArg] = process.argv.slice(2);
  const count = Number(countArg);
  const env = process.env;
  const sasl = env.KAFKA_SASL_MECHANISM
    ? { mechanism: env.KAFKA_SASL_MECHANISM, username: env.KAFKA_SASL_USERNAME, password: env.KAFKA_SASL_PASSWORD }
    : undefined;
  const kafka = new Kafka({
    clientId: 'kafkajs-test', brokers: [broker], sasl, logLevel: logLevel.NOTHING,
    retry: { retries: Number(env.KAFKA_RETRIES || 8) },
  });

  const producer = kafka.producer({ allowAutoTopicCreation: true, idempotent: true });
  await producer.connect();
  const messages = Array.from({ length: count }, (_, i) => ({ key: `k${i % 3}`, value: `v${i}` }));
  const acks = await producer.send({ topic, messages, acks: -1 });
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: `${topic}-group` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = new Set();
  const done = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`consumed ${seen.size} of ${count} records in 60 s`)), 60000);
    consumer.run({
      eachMessage: async ({ message }) => {
        seen.add(message.value.toString());
        if (seen.size === count) {
          clearTimeout(timer);
          resolve();
        }
      },
    }).catch(reject);
  });
  try {
    await done;
  } finally {
    await consumer.disconnect();
  }
  console.log(JSON.stringify({ client: 'kafkajs', version, acked: acks.length, read: seen.size }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
