// The MIME text of a message, built from a skeleton made once per delivery: what is the same for every
// recipient (From, the boundary, the part headers) is written once; per recipient only To, Subject,
// Message-ID, Date, the List-Unsubscribe URL and the two bodies are encoded. Building each message with
// nodemailer's composer (a tree of MIME nodes and streams per message) was the worker's largest CPU
// item when sending; nodemailer still carries the text over SMTP (dot-stuffing, pooling, TLS).
import { createHash } from 'node:crypto';
import * as mimeFuncs from 'nodemailer/lib/mime-funcs';
import { parseSender } from './spec';

export interface MessageParts {
  to: string;
  subject: string;
  messageId: string;
  /** Extra headers, in order (X-Delivery-Id, List-Unsubscribe…). */
  headers: Record<string, string>;
  html: string;
  text?: string;
}

const CRLF = '\r\n';

/**
 * What every message of one sender shares; the function returned writes one recipient's message.
 * `from` is the sender as written in the spec; `seed` makes the boundary (the delivery's id).
 */
export function mimeSkeleton(from: string, seed: string): (message: MessageParts) => string {
  const fromHeader = header('From', addressHeader(from));
  // "=_" never occurs in quoted-printable text ("=" is always followed by hex digits or a line
  // break), so one boundary serves every message of the delivery.
  const boundary = `=_${createHash('sha256').update(seed).digest('hex').slice(0, 24)}`;
  const alternative = `Content-Type: multipart/alternative;${CRLF} boundary="${boundary}"`;
  const part = (type: 'plain' | 'html') => `Content-Type: text/${type}; charset=utf-8${CRLF}Content-Transfer-Encoding: quoted-printable`;
  const textPart = `--${boundary}${CRLF}${part('plain')}${CRLF}${CRLF}`;
  const htmlPart = `--${boundary}${CRLF}${part('html')}${CRLF}${CRLF}`;
  const closing = `${CRLF}--${boundary}--${CRLF}`;
  return (message) => {
    const head = [
      fromHeader,
      header('To', message.to),
      header('Subject', encodedText(message.subject)),
      header('Message-ID', message.messageId),
      header('Date', rfc2822Date()),
      'MIME-Version: 1.0',
      ...Object.entries(message.headers).map(([k, v]) => header(k, v)),
    ].join(CRLF);
    if (message.text === undefined) {
      return `${head}${CRLF}${part('html')}${CRLF}${CRLF}${quotedPrintable(message.html)}`;
    }
    return `${head}${CRLF}${alternative}${CRLF}${CRLF}${textPart}${quotedPrintable(message.text)}${CRLF}${htmlPart}${quotedPrintable(message.html)}${closing}`;
  };
}

/**
 * One header line, folded at 76 characters. Profile data reaches the subject: line breaks in a value
 * become spaces (they cannot inject headers) and other control characters (NUL, ESC…) are dropped.
 */
function header(name: string, value: string): string {
  const clean = value.replace(/[\r\n]+/g, ' ').replace(/[\x00-\x08\x0B-\x1F\x7F]/g, '');
  return mimeFuncs.foldLines(`${name}: ${clean}`, 76).replace(/\r?\n/g, CRLF);
}

/** Non-ASCII text (or text with quotes) as RFC 2047 encoded words, as nodemailer writes it. */
function encodedText(value: string): string {
  return /[\u0080-\uFFFF"]/.test(value) ? mimeFuncs.encodeWord(value, 'Q', 52) : value;
}

function addressHeader(from: string): string {
  const { name, address } = parseSender(from);
  if (!name) return address;
  if (/^[\w ]*$/.test(name)) return `${name} <${address}>`;
  if (/^[\x20-\x7e]*$/.test(name)) return `"${name.replace(/[\\"]/g, '\\$&')}" <${address}>`;
  return `${encodedText(name)} <${address}>`;
}

let dateSecond = 0;
let dateText = '';
/** RFC 2822 date of now, made once a second (it is in every message). */
function rfc2822Date(now = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString().replace(/GMT/, '+0000');
  }
  return dateText;
}

// Bytes written as they are in quoted-printable (RFC 2045 6.7): printable ASCII but "=".
const LITERAL = new Uint8Array(256);
for (let b = 33; b <= 126; b++) LITERAL[b] = b === 61 ? 0 : 1;
const HEX = Uint8Array.from(Buffer.from('0123456789ABCDEF'));
const MAX_LINE = 76;

/** Reused between calls (a worker composes one message at a time on its thread): no allocation per message. */
let input = Buffer.allocUnsafe(16 * 1024);
let output = Buffer.allocUnsafe(64 * 1024);

/**
 * Quoted-printable text with CRLF line breaks and soft breaks at 76 characters, in one pass over the
 * UTF-8 bytes. Spaces and tabs are literal except at the end of a line. The hottest loop of the worker
 * (the whole body of every message): typed arrays only, no call per byte.
 */
export function quotedPrintable(text: string): string {
  if (input.length < text.length * 3) input = Buffer.allocUnsafe(text.length * 3);
  const n = input.write(text, 0, 'utf8');
  // At worst every byte becomes "=XX", plus a soft break ("=\r\n") every 73 characters.
  const worst = n * 3 + Math.ceil((n * 3) / 73) * 3 + 2;
  if (output.length < worst) output = Buffer.allocUnsafe(worst);
  const bytes = input;
  const out = output;
  let o = 0;
  let line = 0;
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    if (LITERAL[b] === 1) {
      if (line >= MAX_LINE - 1) {
        out[o++] = 61; // "=" soft line break
        out[o++] = 13;
        out[o++] = 10;
        line = 0;
      }
      out[o++] = b;
      line++;
      continue;
    }
    if (b === 10 || (b === 13 && i + 1 < n && bytes[i + 1] === 10)) {
      if (b === 13) i++;
      out[o++] = 13;
      out[o++] = 10;
      line = 0;
      continue;
    }
    const next = i + 1 < n ? bytes[i + 1] : -1;
    const literal = (b === 32 || b === 9) && next !== -1 && next !== 10 && next !== 13;
    const width = literal ? 1 : 3;
    if (line + width > MAX_LINE - 1) {
      out[o++] = 61;
      out[o++] = 13;
      out[o++] = 10;
      line = 0;
    }
    line += width;
    if (literal) {
      out[o++] = b;
    } else {
      out[o++] = 61;
      out[o++] = HEX[b >> 4];
      out[o++] = HEX[b & 15];
    }
  }
  return out.toString('latin1', 0, o);
}
