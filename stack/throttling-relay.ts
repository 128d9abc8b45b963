// A relay that answers Google's "421 4.7.28 unusual rate" to RCPT TO for Google's domains whenever it took `limit` of
// them in the last second (as Gmail does to a sender going too fast), and accepts the rest. Used by the tests and
// the shaping bench.
import type { SmtpReply } from './smtp-capture';

const GOOGLE = /@(gmail|googlemail)\.com$/;

export function googleLimiter(limitPerSecond: number) {
  /** Every RCPT TO to Google's domains the relay saw (accepted or refused), and the ones it accepted. */
  const attempts: number[] = [];
  const accepted: number[] = [];
  return {
    attempts,
    accepted,
    refuseRecipient(address: string): SmtpReply | undefined {
      if (!GOOGLE.test(address)) return undefined;
      const now = Date.now();
      attempts.push(now);
      if (accepted.filter((t) => t > now - 1000).length >= limitPerSecond) {
        return { code: 421, message: '4.7.28 Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited.' };
      }
      accepted.push(now);
      return undefined;
    },
  };
}
