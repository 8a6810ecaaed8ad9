// The Kubernetes 1.28 L1 classes. `cdk8s import k8s` would generate the same file but needs the
// network; cdk8s-plus-28 ships exactly these generated classes, so we re-export them.
export * from 'cdk8s-plus-28/lib/imports/k8s';
