import Fastify from 'fastify';

/**
 * The baseline of the API benchmark (bench/api.ts): a fastify hello-world, started the same way as the
 * platform it is compared with (its own `node --import tsx` process, logger off, loopback).
 * Usage: node --import tsx bench/api-hello.ts <port>. Prints {"ready":true,"port":N} once listening;
 * exits on SIGTERM.
 */
const port = Number(process.argv[2] ?? '0');
const app = Fastify({ logger: false });
app.get('/', async () => ({ hello: 'world' }));
await app.listen({ host: '127.0.0.1', port });
const address = app.server.address();
process.stdout.write(
  `${JSON.stringify({ ready: true, port: address && typeof address === 'object' ? address.port : port })}\n`,
);
process.on('SIGTERM', () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
