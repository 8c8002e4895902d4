/**
 * fbc's "no server reachable" line names a TLS failure (the one a user can fix: the
 * config's CA) and only that, from grpc-js's transport error details.
 */
import t from 'tap';
import { NoServerReachable, tlsFailureOf } from '../../lib/client/connection';

t.test('the TLS part of a transport failure, or null', async (t) => {
  const grpcJs = (why: string): string => `No connection established. Last error: Error: ${why}. Resolution note: dns resolution ok (2026-11-30T05:00:00.000Z)`;
  t.equal(tlsFailureOf(grpcJs('self-signed certificate in certificate chain')), 'self-signed certificate in certificate chain');
  t.equal(tlsFailureOf(grpcJs('unable to verify the first certificate')), 'unable to verify the first certificate');
  t.equal(tlsFailureOf('No connection established. Last error: Error: Client network socket disconnected before secure TLS connection was established (2026-11-30T05:00:00.000Z)'), 'Client network socket disconnected before secure TLS connection was established');
  t.equal(tlsFailureOf(grpcJs('connect ECONNREFUSED 127.0.0.1:1')), null, 'a dead server is not a TLS failure');
  t.equal(tlsFailureOf('Deadline exceeded after 2.001s'), null);
});

t.test('the one line says what failed and what to check', async (t) => {
  t.equal(new NoServerReachable(['a:1', 'b:2']).message, 'no server reachable (tried a:1, b:2); is the cluster running? try fbs status');
  t.equal(
    new NoServerReachable(['a:1', 'b:2'], null, true).message,
    'no server reachable (tried a:1, b:2): each refused the connection; is the cluster running? try fbs status',
  );
  t.equal(
    new NoServerReachable(['a:1'], 'self-signed certificate in certificate chain').message,
    "no server reachable (tried a:1): TLS failed (self-signed certificate in certificate chain); is the cluster's CA certificate the one the config names?",
  );
});
