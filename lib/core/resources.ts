import * as k8s from '../../imports/k8s';

/** CPU and memory requests and limits as Kubernetes quantities ("100m", "384Mi"): the fields of `ContainerResources`. */
export type ResourceQuantities = Readonly<Record<'cpuRequest' | 'memoryRequest' | 'cpuLimit' | 'memoryLimit', string>>;

/** A container's `resources` (requests and limits of CPU and memory) from the four quantities. */
export function resourceRequirements(r: ResourceQuantities): k8s.ResourceRequirements {
  return {
    requests: { cpu: k8s.Quantity.fromString(r.cpuRequest), memory: k8s.Quantity.fromString(r.memoryRequest) },
    limits: { cpu: k8s.Quantity.fromString(r.cpuLimit), memory: k8s.Quantity.fromString(r.memoryLimit) },
  };
}
