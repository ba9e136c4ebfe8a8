export { canPublish, canSubscribe } from './acl.ts';
export { CONNACK } from './auth.ts';
export {
  type Broker,
  type BrokerHandle,
  type BrokerOptions,
  createBroker,
  type PublishOptions,
} from './broker.ts';
export { type Identity, identityOf } from './identity.ts';
export type { ListeningPorts, TlsFiles } from './listeners.ts';
export { WS_PATH } from './listeners.ts';
export type { AuthFailureReason, BrokerStats } from './metrics.ts';
export type { TelemetryHook } from './publish.ts';
