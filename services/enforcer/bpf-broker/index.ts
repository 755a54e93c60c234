/** The BPF broker: one loader per host, shared by every `airlock run` (see server.ts). */
export { BrokerClient, type BrokerConnectOptions } from './client.js';
export { BROKER_SOCKET, type BrokerEvent, type BrokerHello, type ForwardedEvent } from './protocol.js';
