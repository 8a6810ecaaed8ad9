import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';

/** A port of a {@link namedPortService}: the Service's port, sent to the container port of the same name. */
export interface NamedServicePort {
  /** The port's name, in the Service and in the container (`targetPort`). */
  readonly name: string;
  /** The Service's port number. */
  readonly port: number;
  /**
   * The protocol.
   * @default "TCP"
   */
  readonly protocol?: 'TCP' | 'UDP';
}

/** Props of {@link namedPortService}. */
export interface NamedPortServiceProps {
  /** The Service's name. */
  readonly name: string;
  /** The Service's labels. */
  readonly labels: Record<string, string>;
  /** The labels of the pods it sends to. */
  readonly selector: Record<string, string>;
  /** Its ports, each sent to the container port of its name. */
  readonly ports: readonly NamedServicePort[];
  /**
   * The Service's type.
   * @default "ClusterIP"
   */
  readonly type?: string;
  /**
   * The Service's annotations (none written when empty).
   * @default - none
   */
  readonly annotations?: Record<string, string>;
}

/**
 * The Service in front of the pods of one workload: each port sent to the container port of the same name
 * (`targetPort` by name, so that the container's number is said once, in the pod), ClusterIP unless told
 * otherwise.
 */
export function namedPortService(scope: Construct, id: string, props: NamedPortServiceProps): k8s.KubeService {
  const { name, labels, selector, ports, type = 'ClusterIP', annotations } = props;
  return new k8s.KubeService(scope, id, {
    metadata: { name, labels, ...(annotations && Object.keys(annotations).length ? { annotations: { ...annotations } } : {}) },
    spec: {
      type,
      selector,
      ports: ports.map((p) => ({ name: p.name, port: p.port, targetPort: k8s.IntOrString.fromString(p.name), protocol: p.protocol ?? 'TCP' })),
    },
  });
}
