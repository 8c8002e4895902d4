/**
 * The client side of "users are keys" (protos/ftchat.proto, Identity): a user's
 * Ed25519 key, the handshake that proves it (Challenge, then a signed Connect) and
 * the session token every other call carries. fbc, the chaos agents, the fuzz, the
 * benchmarks and the tests all speak it through this module; key files are
 * key-file.ts's.
 */
import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { ftchatProto } from '../common/proto';
import { AUTH_HEADER, connectMessage, rawPublicKey } from '../core/identity';
import type { ChallengeResponse__Output } from '../gen/ftchat/ChallengeResponse';
import type { ChatClient } from '../gen/ftchat/Chat';
import type { ConnectRequest } from '../gen/ftchat/ConnectRequest';
import type { ConnectResponse__Output } from '../gen/ftchat/ConnectResponse';

export class Identity {
  /** The raw 32-byte public key, as Connect sends it. */
  readonly publicKey: Buffer;

  constructor(
    readonly user: string,
    private readonly privateKey: KeyObject,
  ) {
    if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') throw new Error('not an Ed25519 private key');
    this.publicKey = rawPublicKey(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }));
  }

  /** A fresh key (tests, benchmarks, chaos agents: never written anywhere). */
  static generate(user: string): Identity {
    return new Identity(user, generateKeyPairSync('ed25519').privateKey);
  }

  /** The Connect request that answers `nonce`. */
  connectRequest(nonce: string): ConnectRequest {
    return { user: this.user, public_key: this.publicKey, nonce, signature: sign(null, connectMessage(this.user, nonce), this.privateKey) };
  }
}

/** One unary Chat call, however the caller makes it (its deadline, its failover). */
export type HandshakeCall = (method: 'Challenge' | 'Connect', req: object) => Promise<unknown>;

/** Challenge, sign, Connect: the server's greeting, with the session token. */
export async function handshake(call: HandshakeCall, id: Identity): Promise<ConnectResponse__Output> {
  const { nonce } = (await call('Challenge', { user: id.user })) as ChallengeResponse__Output;
  return (await call('Connect', id.connectRequest(nonce))) as ConnectResponse__Output;
}

/** The metadata that carries a session. */
export function sessionMetadata(token: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(AUTH_HEADER, `Bearer ${token}`);
  return md;
}

/**
 * Identities by user, made on first use, and one session per user shared by every
 * client that uses the keyring (a session is good on every machine): the keys of
 * test and benchmark users.
 */
export class Keyring {
  private readonly ids = new Map<string, Identity>();
  private readonly tokens = new Map<string, Promise<string>>();

  /** `make`: a user's identity the first time it is asked for (default: a fresh key in memory). */
  constructor(private readonly make: (user: string) => Identity = Identity.generate) {}

  identity(user: string): Identity {
    let id = this.ids.get(user);
    if (!id) this.ids.set(user, (id = this.make(user)));
    return id;
  }

  /** `user`'s session, made through `call` if there is none. */
  token(user: string, call: HandshakeCall): Promise<string> {
    let t = this.tokens.get(user);
    if (!t) {
      t = handshake(call, this.identity(user)).then((g) => g.token);
      t.catch(() => this.tokens.delete(user)); // the next call tries again
      this.tokens.set(user, t);
    }
    return t;
  }

  /** A server refused `token` (expired, or by its clock): the next call makes a new one. */
  forget(user: string, token: string): void {
    void this.tokens.get(user)?.then((t) => t === token && this.tokens.delete(user), () => undefined);
  }
}

/**
 * A generated Chat client that authenticates for whichever user each request names,
 * with that user's key from `keyring`: a Connect without a signature is signed (a
 * Challenge first), and every other call carries that user's session with this
 * server, made by a handshake (over the same client) the first time. For tests and
 * benchmarks, which drive the service with many users over plain clients; fbc's
 * connection makes and renews its own sessions.
 */
export function authedChatClient(address: string, keyring: Keyring, options: grpc.ChannelOptions = {}, credentials = grpc.credentials.createInsecure()): ChatClient {
  const unary: HandshakeCall = (method, req) =>
    new Promise((resolve, reject) =>
      (client[method] as unknown as UnaryFn).call(client, req, { deadline: Date.now() + HANDSHAKE_MS }, (err, res) => (err ? reject(err) : resolve(res))),
    );
  const client: ChatClient = new (ftchatProto().ftchat.Chat)(address, credentials, { ...options, interceptors: [sessionInterceptor(keyring, unary)] });
  return client;
}

const HANDSHAKE_MS = 10_000;

type UnaryFn = (req: unknown, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: unknown) => void) => void;

function sessionInterceptor(keyring: Keyring, unary: HandshakeCall): grpc.Interceptor {
  return (options, nextCall) => {
    const method = options.method_definition.path.split('/').pop() ?? '';
    let startNext: ((md: grpc.Metadata) => void) | null = null;
    let metadata = new grpc.Metadata();
    let sent: { user: string; token: string } | null = null;
    return new grpc.InterceptingCall(nextCall(options), {
      start: (md, listener, next) => {
        metadata = md;
        const refused: grpc.Listener = {
          onReceiveStatus: (status, pass) => {
            if (status.code === grpc.status.UNAUTHENTICATED && sent) keyring.forget(sent.user, sent.token);
            pass(status);
          },
        };
        if (method === 'Challenge') next(md, listener);
        else startNext = (m) => next(m, refused);
      },
      // The request says whose call it is, so the metadata waits for it (grpc-js sends the message after start).
      sendMessage: (message: Record<string, unknown>, next) => {
        if (!startNext) return next(message);
        const user = String(message.user ?? '');
        const ready =
          method !== 'Connect'
            ? keyring.token(user, unary).then((token) => {
                sent = { user, token };
                metadata.merge(sessionMetadata(token));
                return message;
              })
            : message.signature
              ? Promise.resolve(message)
              : unary('Challenge', { user }).then((r) => keyring.identity(user).connectRequest((r as ChallengeResponse__Output).nonce));
        const go = startNext;
        ready.then(
          (m) => {
            go(metadata);
            next(m);
          },
          () => {
            go(metadata); // no session: the server says why
            next(message);
          },
        );
      },
    });
  };
}
