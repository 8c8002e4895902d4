/** Helper process: serves the echo service on a free loopback port and reports the port. */
import * as grpc from '@grpc/grpc-js';
import { serveParent } from './child-link';
import { ECHO_SERVICE } from './echo-service';

const server = new grpc.Server();
server.addService(ECHO_SERVICE, {
  Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, call.request),
});

serveParent({
  listen: () =>
    new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    ),
});
