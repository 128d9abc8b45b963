// A separate SMTP sink process for the benchmark: accepts everything, counts messages, keeps nothing.
// Reports { port } when listening, and { count } whenever the parent sends 'count'.
import { SMTPServer } from 'smtp-server';

let count = 0;
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  onData(stream, _session, callback) {
    stream.on('data', () => undefined);
    stream.on('end', () => {
      count++;
      callback();
    });
  },
});
server.on('error', () => undefined);
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.server.address() as { port: number }).port });
});
process.on('message', (m) => {
  if (m === 'count') process.send?.({ count });
});
