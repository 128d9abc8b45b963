// The loopback relay used by the embedded stack and the tests: a message counts as accepted only when the relay
// answers 250. The fault suite's "relay down" test relies on it: a relay killed between receiving DATA and
// answering must not record the message (the sender rightly retries it, so recording it would count it twice).
import nodemailer from 'nodemailer';
import { startSmtpServer } from '../../stack/smtp-capture';

const message = { from: 'news@brand.example', to: 'ann@example.com', subject: 'Hi', text: 'Hello' };

async function sendThrough(url: string) {
  const transport = nodemailer.createTransport(url);
  try {
    return await transport.sendMail(message);
  } finally {
    transport.close();
  }
}

describe('loopback SMTP relay', () => {
  it('records a message when it answers 250', async () => {
    const committed: string[] = [];
    const relay = await startSmtpServer({ onMessage: ({ envelope }) => Promise.resolve(() => committed.push(...envelope.to)) });
    try {
      const info = await sendThrough(relay.url);
      expect(info.accepted).toEqual(['ann@example.com']);
      expect(committed).toEqual(['ann@example.com']);
    } finally {
      await relay.close();
    }
  });

  it('killed while it holds its reply: nothing recorded, the sender gets an error', async () => {
    const received: string[] = [];
    const committed: string[] = [];
    const relay = await startSmtpServer({
      replyDelayMs: 2000,
      onMessage: ({ envelope }) => {
        received.push(...envelope.to);
        return Promise.resolve(() => committed.push(...envelope.to));
      },
    });
    const sending = sendThrough(relay.url);
    await new Promise((r) => setTimeout(r, 700)); // DATA takes a few ms on loopback; the reply is held for 2 s
    await relay.kill();
    await expect(sending).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 1500)); // past the held reply
    expect({ received, committed }).toEqual({ received: [], committed: [] });
  });

  it('killed while the message is being stored: the commit step never runs', async () => {
    let storing!: (stored: () => void) => void;
    const received = new Promise<() => void>((r) => (storing = r)); // resolves with "finish storing it"
    const committed: string[] = [];
    const relay = await startSmtpServer({
      onMessage: ({ envelope }) => new Promise((resolve) => storing(() => resolve(() => committed.push(...envelope.to)))),
    });
    const sending = sendThrough(relay.url);
    const stored = await received;
    await relay.kill();
    stored();
    await expect(sending).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 50));
    expect(committed).toEqual([]);
  });
});
