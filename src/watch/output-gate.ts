/**
 * Where the feed hands what it shows: the service's commit pipeline, which runs each
 * output once the log is durable through the command that computed it, in order.
 */
export interface OutputGate {
  show(deliver: () => void): void;
}
