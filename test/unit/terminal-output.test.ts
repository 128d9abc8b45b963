import { logLines, printable, table } from '../../client/format';

describe('what the CLI prints from outside text', () => {
  it('neutralises escape sequences and other control characters', () => {
    const reply = '550 user unknown\u001b[2J\u001b]0;owned\u0007\r\nX';
    expect(printable(reply)).toBe('550 user unknown\\x1b[2J\\x1b]0;owned\\x07\\x0d\\x0aX');
    expect(printable('\u009b31m plain é ü')).toBe('\\x9b31m plain é ü'); // C1 CSI too; text stays as it is
    const printed = table(['Address', 'Reason'], [['a@example.com', reply]]) + logLines([{ time: 't', level: 'warning', message: reply }]);
    expect(printed).not.toMatch(/[\x00-\x09\x0B-\x1F\x7F-\x9F]/); // only the table's own line breaks
  });
});
