/**
 * A MongoDB wire-protocol proxy with fault rules, the store's counterpart of the engine double's fault hooks: it
 * holds the n-th command of a kind on a collection until the test releases it, and then passes it on (the server
 * runs it late, as a slow store would a write it had received), or for ever (a hung store). Workers connect
 * through it; what a test reads goes through it too, after the rules have fired.
 */
import { connect, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { BSON, type Document } from 'mongodb';

export interface MongoFaultRule {
  /** Command names (`insert`, `update`, `find`, …) and the collection they name, as a command document starts. */
  commands: string[];
  collection: string;
  /** Only the commands this accepts match (all of them when absent): `command` is the whole command document. */
  where?: (command: Document) => boolean;
  /** Fire on the call-th matching command (1-based), counted from the proxy's start. */
  call: number;
  /** Hold the command until `release()`, then pass it on (also when its client has given up); or never. */
  action: 'hold' | 'hang';
}

export interface MongoFaultProxy {
  /** The connection string of the proxy, for the workers. */
  uri: string;
  /** The rules that have fired, in order. */
  fired(): MongoFaultRule[];
  /** Passes the held commands on; resolves once the server has answered each. */
  release(): Promise<void>;
  close(): Promise<void>;
}

const OP_MSG = 2013;

/**
 * The command a message carries: OP_MSG's header (16 bytes), flag bits (4), its body section (kind 0), then any
 * document sequences (kind 1: size, identifier, documents), which drivers use for `updates`, `documents`, …: each is
 * set on the body under its identifier, so `where` sees the whole command.
 */
function commandOf(message: Buffer): { name: string; collection: unknown; body: Document } | undefined {
  if (message.readInt32LE(12) !== OP_MSG || message[20] !== 0) return undefined;
  const bodySize = message.readInt32LE(21);
  const body = BSON.deserialize(message.subarray(21, 21 + bodySize));
  const end = message.readInt32LE(0) - ((message.readInt32LE(16) & 1) === 1 ? 4 : 0);
  for (let at = 21 + bodySize; at < end && message[at] === 1;) {
    const sectionEnd = at + 1 + message.readInt32LE(at + 1);
    const nameEnd = message.indexOf(0, at + 5);
    const documents: Document[] = [];
    for (let doc = nameEnd + 1; doc < sectionEnd; doc += message.readInt32LE(doc)) {
      documents.push(BSON.deserialize(message.subarray(doc, doc + message.readInt32LE(doc))));
    }
    body[message.toString('utf8', at + 5, nameEnd)] = documents;
    at = sectionEnd;
  }
  const name = Object.keys(body)[0];
  return name === undefined ? undefined : { name, collection: body[name], body };
}

export async function startMongoFaultProxy(
  upstreamUri: string,
  rules: readonly MongoFaultRule[],
): Promise<MongoFaultProxy> {
  const upstream = new URL(upstreamUri);
  const seen = rules.map(() => 0);
  const fired: MongoFaultRule[] = [];
  const answered: Promise<void>[] = [];
  const sockets = new Set<Socket>();
  let release = () => undefined as void;
  const released = new Promise<void>((resolve) => (release = resolve));

  function actionFor(message: Buffer): MongoFaultRule['action'] | undefined {
    const command = commandOf(message);
    if (!command) return undefined;
    const firing = rules.filter((rule, i) => {
      if (!rule.commands.includes(command.name) || rule.collection !== command.collection) return false;
      if (rule.where && !rule.where(command.body)) return false;
      seen[i]!++;
      return seen[i] === rule.call;
    });
    fired.push(...firing);
    return firing[0]?.action;
  }

  function relay(client: Socket): void {
    const server = connect(Number(upstream.port), upstream.hostname);
    for (const socket of [client, server]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    server.on('data', (data) => client.destroyed || client.write(data));
    server.on('close', () => client.destroy());
    let buffered = Buffer.alloc(0);
    let queue = Promise.resolve();
    let hung = false;
    const pass = async (message: Buffer, action: MongoFaultRule['action'] | undefined) => {
      if (action === 'hang') {
        hung = true;
        return new Promise<void>(() => undefined);
      }
      if (action === 'hold') {
        await released;
        answered.push(answerOf(server));
      }
      server.write(message);
    };
    client.on('data', (data) => {
      buffered = Buffer.concat([buffered, data]);
      while (buffered.length >= 4 && buffered.length >= buffered.readInt32LE(0)) {
        const message = buffered.subarray(0, buffered.readInt32LE(0));
        buffered = buffered.subarray(message.length);
        const action = actionFor(message);
        queue = queue.then(() => pass(message, action));
      }
    });
    // The client gave up (its deadline): a held command still reaches the server, which runs it and answers.
    client.on('close', () => (hung ? server.destroy() : void queue.then(() => server.end())));
  }

  const proxy = createServer(relay);
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as AddressInfo;
  return {
    uri: `mongodb://127.0.0.1:${port}/`,
    fired: () => [...fired],
    async release() {
      release();
      while (answered.length < fired.filter((rule) => rule.action === 'hold').length) await sleep(10);
      await Promise.all(answered);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        proxy.close(() => resolve());
      }),
  };
}

/** The server's next answer on a connection, or its end. */
function answerOf(server: Socket): Promise<void> {
  return new Promise((resolve) => {
    server.once('data', () => resolve());
    server.once('close', () => resolve());
  });
}
