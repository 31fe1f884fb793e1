import { describe, expect, it } from 'vitest';
import { afterAbsent, nextStep, type HeadMessage, type InstanceNow, type SendContext } from '../../../src/messages/send-decision.js';

const NOW = 1_000_000;
const head = (over: Partial<HeadMessage> = {}): HeadMessage => ({ state: 'queued', attempts: 0, lookups: 0, expiresAt: NOW + 60_000, ...over });
const up = (over: Partial<InstanceNow> = {}): InstanceNow => ({ connected: true, workerPid: 42, blockedBy: null, ...over });
const ctx = (over: Partial<SendContext> = {}): SendContext => ({ now: NOW, pacedUntil: NOW, maxAttempts: 3, unansweredOnPid: null, ...over });

describe('the next step for the head of a queue', () => {
  it('sends a queued message on a CONNECTED instance once pacing allows', () => {
    expect(nextStep(head(), up(), ctx())).toEqual({ kind: 'send' });
  });

  it('waits for pacing, and says until when', () => {
    expect(nextStep(head(), up(), ctx({ pacedUntil: NOW + 1_500 }))).toEqual({ kind: 'wait', until: NOW + 1_500 });
  });

  it('holds every message while the instance is not CONNECTED or has no worker, with no wake-up time (a status change wakes it)', () => {
    for (const state of ['queued', 'sending'] as const) {
      expect(nextStep(head({ state }), up({ connected: false }), ctx())).toEqual({ kind: 'wait', until: null });
      expect(nextStep(head({ state }), up({ workerPid: null }), ctx())).toEqual({ kind: 'wait', until: null });
    }
  });

  it('expires a queued message past its age even while the instance is down', () => {
    expect(nextStep(head({ expiresAt: NOW }), up({ connected: false }), ctx())).toMatchObject({ kind: 'finish', to: 'expired' });
  });

  it('never expires a message that may have been sent: it is looked up instead', () => {
    expect(nextStep(head({ state: 'sending', expiresAt: NOW - 1 }), up(), ctx())).toEqual({ kind: 'lookup' });
  });

  it('fails a queued message of a logged-out or banned instance, and marks a sending one unknown (it may have gone)', () => {
    expect(nextStep(head(), up({ blockedBy: 'LOGOUT', connected: false }), ctx())).toMatchObject({ kind: 'finish', to: 'failed', reason: expect.stringContaining('LOGOUT') });
    expect(nextStep(head({ state: 'sending' }), up({ blockedBy: 'BANNED' }), ctx())).toMatchObject({ kind: 'finish', to: 'unknown', reason: expect.stringContaining('BANNED') });
  });

  it('looks a sending message up before anything else, and never sends it blindly', () => {
    expect(nextStep(head({ state: 'sending', attempts: 1 }), up(), ctx())).toEqual({ kind: 'lookup' });
  });

  it('replaces the page first when the unanswered attempt went to the worker that still runs', () => {
    expect(nextStep(head({ state: 'sending', attempts: 1 }), up({ workerPid: 42 }), ctx({ unansweredOnPid: 42 }))).toEqual({ kind: 'restart' });
    // A new worker cannot still be busy with the old attempt: ask it.
    expect(nextStep(head({ state: 'sending', attempts: 1 }), up({ workerPid: 43 }), ctx({ unansweredOnPid: 42 }))).toEqual({ kind: 'lookup' });
  });

  it('gives up as unknown once lookups could not tell maxAttempts times', () => {
    expect(nextStep(head({ state: 'sending', lookups: 3 }), up(), ctx())).toMatchObject({ kind: 'finish', to: 'unknown' });
    expect(nextStep(head({ state: 'sending', lookups: 2 }), up(), ctx())).toEqual({ kind: 'lookup' });
  });

  it('does nothing with a head that is no longer waiting', () => {
    for (const state of ['sent', 'delivered', 'read', 'failed', 'expired', 'unknown'] as const) {
      expect(nextStep(head({ state }), up(), ctx())).toEqual({ kind: 'wait', until: null });
    }
  });
});

describe('after a lookup found the message absent', () => {
  it('sends it again while attempts remain', () => {
    expect(afterAbsent(head({ state: 'sending', attempts: 1 }), ctx())).toEqual({ kind: 'send' });
  });

  it('fails it once maxAttempts sends went nowhere', () => {
    expect(afterAbsent(head({ state: 'sending', attempts: 3 }), ctx())).toMatchObject({ kind: 'finish', to: 'failed', reason: 'not sent after 3 attempts' });
  });

  it('expires it when it is too old to send (known never sent)', () => {
    expect(afterAbsent(head({ state: 'sending', attempts: 1, expiresAt: NOW }), ctx())).toMatchObject({ kind: 'finish', to: 'expired' });
  });

  it('respects pacing for the retry', () => {
    expect(afterAbsent(head({ state: 'sending', attempts: 1 }), ctx({ pacedUntil: NOW + 10 }))).toEqual({ kind: 'wait', until: NOW + 10 });
  });
});
