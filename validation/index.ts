/**
 * Validation of the synthesized manifests: Kubernetes' own schemas with unknown fields reported
 * (k8s-schema), references between objects (cross-object), both over a synthesized set (manifests,
 * synthesized), and the cdk8s validation plugin that runs them at `cdk8s synth` (manifest-validation,
 * loaded by the CLI through plugin.js). See docs/validation.md.
 */
export * from './k8s-schema';
export * from './cross-object';
export * from './manifests';
export * from './synthesized';
export * from './manifest-validation';
