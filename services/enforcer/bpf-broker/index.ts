/** The BPF broker: one loader per host, shared by every `airlock run` (see server.ts). */
export { BrokerClient, brokerEntry, type BrokerConnectOptions } from './client.js';
export { BROKER_LOCK, BROKER_SOCKET, DEFAULT_LINGER_MS, type BrokerEvent, type BrokerHello, type ForwardedEvent } from './protocol.js';
