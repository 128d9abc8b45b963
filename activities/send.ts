// Sending: one attempt claims due messages, hands them to SMTP and records each outcome as it comes
// (activities/sending/attempt.ts). Progress is checkpointed at send time (not at fetch time), so a retried
// attempt never skips a recipient.
import { Context } from '@temporalio/activity';
import type { SendingResult } from '../domain/delivery';
import type { ActivityDeps } from './deps';
import { SendingAttempt } from './sending/attempt';
import { setUpAttempt, type SendInput } from './sending/setup';

export type { SendInput } from './sending/setup';

export function sendActivity(deps: ActivityDeps) {
  return async function sendDelivery(input: SendInput): Promise<SendingResult> {
    const ctx = Context.current();
    return new SendingAttempt(ctx, deps, await setUpAttempt(ctx, deps, input)).run();
  };
}
